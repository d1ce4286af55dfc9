"""The pipeline commands: build, train, eval, run."""

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cultureclip.cli.common import (
    ConfigOption,
    ExecutorOption,
    OutOption,
    Overrides,
    ResumeOption,
    _config,
    _with_executor,
    app,
    console,
    tables,
)
from cultureclip.config import RunConfig
from cultureclip.errors import DataError
from cultureclip.io import is_done


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
    from cultureclip import run as run_job

    with run_job.run_folder(cfg, "build") as out:
        folder = run_job.build(cfg, out)
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
    from cultureclip import run as run_job

    with run_job.run_folder(cfg, "train"):
        models = run_job.train_models(cfg, folder)
    for name, model_id in models.items():
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
    data supports (classification, choice, retrieval, general; linear_probe when a dataset's `tasks` asks);
    writes OUT/metrics.json, results.jsonl, predictions/, report.md and a self-contained report.html (into
    OUT/eval when OUT is a run folder).
    Embeddings are cached on disk (eval.cache_dir), so evaluating a model again encodes nothing.
    """
    from cultureclip import run as run_job
    from cultureclip.eval import runner as eval_runner

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

        with run_job.run_folder(cfg, "eval") as folder:
            result = eval_runner.compare_models(
                cfg.eval.models, cfg.eval.datasets, cfg.eval, cfg.model.device, cfg.seed, catalog=cfg.catalog
            )
            eval_runner.write_results(result, folder)
            write_report(result, folder)
        _comparison_summary(folder, result)
        return
    folder = _existing_out(cfg, "dataset and models")
    with run_job.run_folder(cfg, "eval"):
        comparison = run_job.evaluate_models(cfg, folder, run_job.model_ids(cfg, folder))
    _summary(folder, comparison)


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
    from cultureclip import run as run_job

    _summary(*run_job.run(cfg))


def _summary(folder: Path, comparison) -> None:
    from cultureclip.eval.reports.run import METRICS, headline

    table = Table(title=f"held-out accuracy ({folder / 'metrics.json'})")
    table.add_column("model")
    for m in METRICS:
        table.add_column(m, justify="right")
    for name, results in comparison.results.items():
        table.add_row(name, *(f"{v:.3f}" for v in headline(results).values()))
    tables.print(table)
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
    tables.print(table)
    console.print(f"report: {folder / 'report.md'} and {folder / 'report.html'}")
