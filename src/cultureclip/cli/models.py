"""Commands on models: compare them side by side, score one on a paper's benchmark, mix two (WiSE-FT)."""

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cultureclip.cli.common import (
    ConfigOption,
    DataOption,
    ModelsOption,
    Overrides,
    OverwriteOption,
    app,
    command_config,
    console,
    tables,
)


@app.command()
def compare(
    out: Annotated[Path, typer.Option("--out", "-o", help="New folder for the comparison (never a run folder).")],
    models: ModelsOption = None,
    data: DataOption = None,
    config: ConfigOption = None,
    overwrite: OverwriteOption = False,
    overrides: Overrides = None,
) -> None:
    """Compare models side by side on the --data datasets (and eval.datasets) with every task the data supports
    (classification, choice, retrieval, general; linear_probe when a dataset's `tasks` asks), deltas against
    the first model with paired bootstrap 95% intervals.

    Writes a fresh folder OUT: metrics.json, results.jsonl, predictions/, report.md, a self-contained
    report.html and config.yaml. OUT may be new, empty or an earlier comparison; anything else (a run
    folder, a dataset) is refused unless --overwrite. Embeddings are cached on disk (eval.cache_dir), so
    comparing a model again encodes nothing.
    """
    from cultureclip.config import dump_config
    from cultureclip.eval import runner
    from cultureclip.eval.compare import compare_to_folder

    items = [*(overrides or []), *([f"eval.models={json.dumps(runner.parse_models(models))}"] if models else [])]
    cfg = command_config(config, items, None)
    specs = [*cfg.eval.datasets, *(runner.parse_data(d) for d in data or [])]
    cfg = cfg.model_copy(update={"eval": cfg.eval.model_copy(update={"datasets": specs})})
    comparison = compare_to_folder(
        cfg.eval.models, specs, cfg.eval, out, cfg.model.device, cfg.seed, overwrite, dump_config(cfg), cfg.catalog
    )
    _comparison_summary(out, comparison)


def _comparison_summary(folder: Path, comparison) -> None:
    table = Table(title=f"evaluation ({folder / 'metrics.json'})")
    for column in ("dataset", "task", "metric", *comparison.results):
        table.add_column(column, justify="left" if column in ("dataset", "task", "metric") else "right")
    ref = comparison.results[comparison.reference]
    for data, by_task in ref.items():
        for task, result in by_task.items():
            for metric in result.paired:
                values = [f"{comparison.results[m][data][task].metrics[metric]:.3f}" for m in comparison.results]
                table.add_row(data, task, metric, *values)
    tables.print(table)
    console.print(f"report: {folder / 'report.md'} and {folder / 'report.html'}")


@app.command()
def bench(
    name: Annotated[
        str,
        typer.Argument(help="crope, cvqa, cvqa_local, dollar_street, geode, globalrg_grounding or globalrg_retrieval."),
    ],
    root: Annotated[
        Path | None,
        typer.Option(
            help="Local copy of the benchmark's release (default: the hub's copy, downloaded once into the "
            "Hugging Face cache; geode and dollar_street need it)."
        ),
    ] = None,
    model: Annotated[str | None, typer.Option(help="Model id (default: model.name of the config).")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Folder for results.jsonl + summary.json.")] = None,
    config: ConfigOption = None,
    overrides: Overrides = None,
) -> None:
    """Run a benchmark by name with its published protocol (section `bench`: seed, batch size): the evaluator's
    `choice` task (classification for geode and dollar_street) on the dataset kind NAME, written as the
    benchmark's results.jsonl + summary.json."""
    from cultureclip.eval.bench import run_benchmark

    cfg = command_config(config, overrides, None)
    summary = run_benchmark(name, root, model or cfg.model.name, cfg.bench, cfg.eval, cfg.model.device, out)
    console.print(f"{name}: accuracy {summary['accuracy']:.4f} ({summary['correct']}/{summary['questions']})")


@app.command("wise")
def wise_export(
    base: Annotated[str, typer.Option(help="Model id of the starting model, e.g. open_clip:ViT-B-32@openai.")],
    tuned: Annotated[str, typer.Option(help="Model id of its fine-tuned version (LoRA is merged first).")],
    alpha: Annotated[float, typer.Option(help="Mixing weight: 0 is the base model, 1 the tuned one.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the interpolated checkpoint.")],
    overwrite: OverwriteOption = False,
) -> None:
    """WiSE-FT: write the checkpoint (1-alpha)*base + alpha*tuned, loadable as local:OUT."""
    from cultureclip.backends.clip import create_clip
    from cultureclip.eval.wise import export_wise
    from cultureclip.io import claim_output

    claim_output(out, "wise", overwrite)  # before the models load
    folder = export_wise(create_clip(base), create_clip(tuned), alpha, out, {"base": base, "tuned": tuned}, overwrite)
    console.print(f"model: local:{folder}")
