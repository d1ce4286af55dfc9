"""The `cultureclip` command: build, train, eval, run. Each is a thin call into the library.

Every subcommand reads one typed config (`--config FILE` or a preset name, then `key=value`
overrides) and works in one run folder (`--out`), so `build`, `train` and `eval` one after the other
do what `run` does, and any of them re-run skips what is already done.
"""

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import click
import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from cultureclip import experiment
from cultureclip.catalog import jobs as catalog_jobs
from cultureclip.config import RunConfig, list_presets, load_config
from cultureclip.errors import CultureClipError, DataError
from cultureclip.eval import runner as eval_runner
from cultureclip.io import is_done

app = typer.Typer(
    add_completion=False,
    no_args_is_help=False,
    help=__doc__.split("\n\n")[0]
    + (
        "\n\nThe default config is the offline world: a shipped catalogue of cultural twins, template "
        "captions, procedurally rendered images and a small CLIP, so `cultureclip run` works on a CPU "
        f"with no model hub. Presets: {', '.join(list_presets())}."
    ),
)
console = Console(stderr=True)

ConfigOption = Annotated[
    str | None,
    typer.Option(
        "--config", "--preset", "-c", help="YAML config file, or a preset name (see --help of the main command)."
    ),
]
OutOption = Annotated[
    Path | None,
    typer.Option(
        "--out", "-o", help="Run folder (default: runs/<timestamp> for build and run; required for train and eval)."
    ),
]
Overrides = Annotated[
    list[str] | None,
    typer.Argument(
        help="Dotted key=value overrides of the config, e.g. finetune.steps=100 build.catalog.train_images=8.",
        show_default=False,
    ),
]

ExecutorOption = Annotated[
    str | None,
    typer.Option(
        "--executor",
        help="Where the builder's stages run: local (default) or ray (Ray actors; same as build.executor=ray).",
    ),
]


def _with_executor(overrides: list[str] | None, executor: str | None) -> list[str]:
    return [*(overrides or []), *([f"build.executor={executor}"] if executor else [])]


ResumeOption = Annotated[
    bool, typer.Option("--resume", help="Continue unfinished trainings from their latest checkpoint.")
]


def _config(config: str | None, overrides: list[str] | None, out: Path | None, resume: bool = False) -> RunConfig:
    items = list(overrides or [])
    if out is not None:
        items.append(f"out={out}")
    if resume:
        items.append("resume=true")
    return load_config(config, items)


def _existing_out(cfg: RunConfig, need: str) -> Path:
    if cfg.out is None:
        raise DataError(f"--out is required: the run folder whose {need} to use")
    if not is_done(cfg.out / "data"):
        raise DataError(
            f"{cfg.out}: no finished dataset in {cfg.out / 'data'}; run `cultureclip build --out {cfg.out}` first"
        )
    return cfg.out


@app.command()
def build(
    config: ConfigOption = None, out: OutOption = None, overrides: Overrides = None, executor: ExecutorOption = None
) -> None:
    """Build the dataset of the recipe `build.recipe` into OUT/data (catalog, the default: catalogue -> twin
    groups -> captions -> images -> CLIP filter; paper: the reference recipe, see the paper-build preset).

    Writes WebDataset shards (train-*.tar, test-*.tar), manifest.parquet (every row, with the reason of
    each rejected or failed one) and a dataset card. A killed build resumes where it stopped; a finished
    dataset is skipped.
    """
    cfg = _config(config, _with_executor(overrides, executor), out)
    folder = experiment.build(cfg, experiment.resolve_out(cfg))
    console.print(f"dataset: {folder}")


@app.command()
def train(
    config: ConfigOption = None, out: OutOption = None, overrides: Overrides = None, resume: ResumeOption = False
) -> None:
    """Train on OUT/data: the base model on generic captions (section `pretrain`), then the
    CultureCLIP fine-tune (section `finetune`) and each ablation (section `ablations`), into OUT/models.

    Runs under torchrun too (`torchrun --nproc_per_node N -m cultureclip train ...`): DDP over N processes.
    """
    cfg = _config(config, overrides, out, resume)
    folder = _existing_out(cfg, "dataset")
    experiment.resolve_out(cfg)
    for name, model_id in experiment.train_models(cfg, folder).items():
        console.print(f"{name}: {model_id}")


ModelsOption = Annotated[
    str | None,
    typer.Option(
        "--models",
        "-m",
        help="Compare these models instead of the run folder's: name=MODEL_ID,... (the first is the reference), "
        "e.g. base=open_clip:ViT-B-32@openai,tuned=local:runs/x/models/tuned.",
    ),
]
DataOption = Annotated[
    list[str] | None,
    typer.Option(
        "--data",
        "-d",
        help="Dataset for --models, KIND:PATH (repeatable): folder, manifest, shards, globalrg_retrieval, "
        "globalrg_grounding, crope, geode, or clip_benchmark/NAME:ROOT for a standard dataset by its "
        "CLIP_benchmark name.",
    ),
]


@app.command("eval")
def evaluate(
    config: ConfigOption = None,
    out: OutOption = None,
    models: ModelsOption = None,
    data: DataOption = None,
    overrides: Overrides = None,
) -> None:
    """Evaluate the base and the trained models in OUT on the held-out images: concept, twin and
    general zero-shot accuracy. Writes OUT/metrics.json and OUT/report.md with its figures.

    With --models: compare those models on the --data datasets (or eval.datasets) with every task the
    data supports (classification, choice, retrieval, general); writes OUT/metrics.json, results.jsonl,
    predictions/, report.md and a self-contained report.html (into OUT/eval when OUT is a run folder).
    Embeddings are cached on disk (eval.cache_dir), so evaluating a model again encodes nothing.
    """
    items = list(overrides or [])
    if models is not None:
        items.append(f"eval.models={json.dumps(eval_runner.parse_models(models))}")
    cfg = _config(config, items, out)
    if data:
        specs = [*cfg.eval.datasets, *(eval_runner.parse_data(d) for d in data)]
        cfg = cfg.model_copy(update={"eval": cfg.eval.model_copy(update={"datasets": specs})})
    if cfg.eval.models:
        if cfg.out is not None and is_done(cfg.out / "data"):  # a run folder: keep its own report
            cfg = cfg.model_copy(update={"out": cfg.out / "eval"})
        from cultureclip.eval.reports.compare import write_report

        folder = experiment.resolve_out(cfg)
        result = eval_runner.compare_models(cfg.eval.models, cfg.eval.datasets, cfg.eval, cfg.model.device, cfg.seed)
        eval_runner.write_results(result, folder)
        write_report(result, folder)
        _comparison_summary(folder, result)
        return
    folder = _existing_out(cfg, "dataset and models")
    _summary(folder, experiment.evaluate_models(cfg, folder, experiment.model_ids(cfg, folder)))


@app.command()
def run(
    config: ConfigOption = None,
    out: OutOption = None,
    overrides: Overrides = None,
    executor: ExecutorOption = None,
    resume: ResumeOption = False,
) -> None:
    """The main job, end to end: build, train and eval from one config into one run folder."""
    cfg = _config(config, _with_executor(overrides, executor), out, resume)
    _summary(*experiment.run(cfg))


@app.command()
def bench(
    name: Annotated[str, typer.Argument(help="globalrg_retrieval, globalrg_grounding or crope.")],
    root: Annotated[Path, typer.Option(help="Local copy of the benchmark's release (its Parquet files).")],
    model: Annotated[str | None, typer.Option(help="Model id (default: model.name of the config).")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Folder for results.jsonl + summary.json.")] = None,
    config: ConfigOption = None,
    overrides: Overrides = None,
) -> None:
    """Run one of the paper's benchmarks with its exact protocol (section `bench`: seed, batch size): the
    evaluator's `choice` task on the dataset kind NAME, written as the benchmark's results.jsonl + summary.json."""
    from cultureclip.eval.bench import run_benchmark

    cfg = _config(config, overrides, None)
    summary = run_benchmark(name, root, model or cfg.model.name, cfg.bench, cfg.eval, cfg.model.device, out)
    console.print(f"{name}: accuracy {summary['accuracy']:.4f} ({summary['correct']}/{summary['questions']})")


@app.command("wise")
def wise_export(
    base: Annotated[str, typer.Option(help="Model id of the starting model, e.g. open_clip:ViT-B-32@openai.")],
    tuned: Annotated[str, typer.Option(help="Model id of its fine-tuned version (LoRA is merged first).")],
    alpha: Annotated[float, typer.Option(help="Mixing weight: 0 is the base model, 1 the tuned one.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the interpolated checkpoint.")],
) -> None:
    """WiSE-FT: write the checkpoint (1-alpha)*base + alpha*tuned, loadable as local:OUT."""
    from cultureclip.backends.clip import create_clip
    from cultureclip.wise import export_wise

    folder = export_wise(create_clip(base), create_clip(tuned), alpha, out, {"base": base, "tuned": tuned})
    console.print(f"model: local:{folder}")


import_app = typer.Typer(help="Import a published dataset in its own layout into a cultureclip dataset folder.")
app.add_typer(import_app, name="import")


@import_app.command("cultwin")
def import_cultwin(
    train: Annotated[Path, typer.Argument(help="The release's training rows (.json list or .jsonl).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Dataset folder to write (shards + manifest).")],
    test: Annotated[Path | None, typer.Option(help="Held-out rows (the release's _valid file), split 'test'.")] = None,
    images: Annotated[
        Path | None, typer.Option(help="Folder of the images, when the rows' paths do not resolve beside the file.")
    ] = None,
    max_side: Annotated[int | None, typer.Option(min=16, help="Shrink larger images to this longest side.")] = None,
) -> None:
    """Convert the authors' CulTwin twin-pair rows and images into our format, ready for `train`."""
    from cultureclip.importers.cultwin import import_cultwin as convert

    splits = {"train": train} | ({"test": test} if test else {})
    console.print(f"dataset: {convert(splits, out, images, max_side)}")


def _summary(folder: Path, comparison) -> None:
    from cultureclip.eval.reports.run import METRICS, headline

    table = Table(title=f"held-out accuracy ({folder / 'metrics.json'})")
    table.add_column("model")
    for m in METRICS:
        table.add_column(m, justify="right")
    for name, results in comparison.results.items():
        table.add_row(name, *(f"{v:.3f}" for v in headline(results).values()))
    Console().print(table)
    console.print(f"report: {folder / 'report.md'}")


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
    Console().print(table)
    console.print(f"report: {folder / 'report.md'} and {folder / 'report.html'}")


catalog_app = typer.Typer(help="The concept catalogue: check it, mine twins, expand it, count it.")
app.add_typer(catalog_app, name="catalog")
CatalogOption = Annotated[
    Path | None,
    typer.Option("--catalog", help="Catalogue file (YAML, JSON lines, CSV); sets catalog.path (default: shipped)."),
]


def _catalog_config(config: str | None, catalog: Path | None, overrides: list[str] | None) -> RunConfig:
    items = list(overrides or [])
    if catalog is not None:
        items.append(f"catalog.path={catalog}")
    return load_config(config, items)


@catalog_app.command("check")
def catalog_check(
    file: Annotated[Path | None, typer.Argument(help="Catalogue file to check (default: the configured one).")] = None,
    config: ConfigOption = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="key=value config override.")] = None,
) -> None:
    """Check a catalogue: one line per problem (file, row, field, what was expected); exit 1 if any.

    With catalog.mode=extend the file is checked together with the shipped catalogue it extends.
    """
    cfg = _catalog_config(config, file, overrides)
    problems = catalog_jobs.check_catalog(cfg)
    for line in problems:
        typer.echo(line)
    source = cfg.catalog.path or "the shipped catalogue"
    console.print(f"{source}: {len(problems)} problem(s)" if problems else f"{source}: ok")
    if problems:
        raise typer.Exit(1)


@catalog_app.command("twins")
def catalog_twins(
    out: Annotated[Path, typer.Option("--out", "-o", help="JSON lines output: one line per concept.")],
    catalog: CatalogOption = None,
    k: Annotated[int | None, typer.Option("--k", help="Neighbours per concept (mining.k).")] = None,
    config: ConfigOption = None,
    overrides: Overrides = None,
) -> None:
    """Mine look-alikes from other cultures: top K per concept into OUT, twin groups next to the catalogue."""
    cfg = _catalog_config(config, catalog, [*(overrides or []), *([f"mining.k={k}"] if k else [])])
    groups_file, mined = catalog_jobs.mine_catalog_twins(cfg, out)
    curated = sum(g["curated"] for g in mined.groups)
    console.print(f"{len(mined.neighbours)} concepts: {out}")
    console.print(f"{curated} curated and {len(mined.groups) - curated} mined twin groups: {groups_file}")


@catalog_app.command("expand")
def catalog_expand(
    category: Annotated[str, typer.Option("--category", help="Category of the new concepts.")],
    culture: Annotated[str, typer.Option("--culture", help="Culture of the new concepts.")],
    catalog: CatalogOption = None,
    config: ConfigOption = None,
    overrides: Overrides = None,
) -> None:
    """Ask a text generator (expand.generator) for new concepts; keep the valid ones in expand.out."""
    cfg = _catalog_config(config, catalog, overrides)
    out, added, rejected = catalog_jobs.expand_catalog(cfg, category, culture)
    for line in rejected:
        console.print(f"rejected: {line}", highlight=False, soft_wrap=True)
    console.print(f"{len(added)} new concept(s) added to {out}; {len(rejected)} rejection(s)")


@catalog_app.command("stats")
def catalog_stats(
    catalog: CatalogOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    config: ConfigOption = None,
    overrides: Overrides = None,
) -> None:
    """Count concepts, cultures, categories, twin groups (curated and mined) and curated twin groups."""
    counts = catalog_jobs.stats_of_catalog(_catalog_config(config, catalog, overrides))
    typer.echo(json.dumps(counts) if as_json else "\n".join(f"{k}: {v}" for k, v in counts.items()))


def main(argv: list[str] | None = None) -> int:
    """Run the CLI in-process; a CultureClipError is one line on stderr and exit code 2."""
    logging.basicConfig(
        level=logging.WARNING, format="%(message)s", handlers=[RichHandler(console=console, show_path=False)]
    )
    logging.getLogger("cultureclip").setLevel(logging.INFO)
    try:
        code = app(args=argv, standalone_mode=False)  # a command's typer.Exit(n) comes back as n
    except CultureClipError as err:
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        return 2
    except click.exceptions.Exit as err:
        return err.exit_code
    except click.ClickException as err:  # usage errors: unknown option, missing value
        err.show()
        return err.exit_code
    return code if isinstance(code, int) else 0


def entry() -> None:
    sys.exit(main())
