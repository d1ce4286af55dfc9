"""The pipeline commands: build, train, eval, run."""

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
    app,
    command_config,
    console,
    tables,
    with_executor,
)
from cultureclip.config import RunConfig
from cultureclip.errors import ConfigError, DataError
from cultureclip.io import is_done

DEPRECATED_EVAL = (
    "warning: `cultureclip eval --models/--data` (or eval.models) is deprecated: it now runs `cultureclip compare`, "
    "which writes a new folder --out and refuses a run folder"
)


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
    cfg = command_config(config, with_executor(overrides, executor), out)
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
    cfg = command_config(config, overrides, out, resume)
    folder = _existing_out(cfg, "dataset")
    from cultureclip import run as run_job

    with run_job.run_folder(cfg, "train"):
        models = run_job.train_models(cfg, folder)
    for name, model_id in models.items():
        console.print(f"{name}: {model_id}")


@app.command("eval")
def evaluate(
    config: ConfigOption = None,
    out: OutOption = None,
    models: Annotated[
        str | None, typer.Option("--models", "-m", help="Deprecated: runs `cultureclip compare --models`.")
    ] = None,
    data: Annotated[
        list[str] | None, typer.Option("--data", "-d", help="Deprecated: runs `cultureclip compare --data`.")
    ] = None,
    overrides: Overrides = None,
) -> None:
    """Evaluate the base and the trained models in OUT on the held-out images: concept, twin and
    general zero-shot accuracy (and eval.extra_datasets). Writes OUT/metrics.json and OUT/report.md with
    its figures. To compare any models on any datasets, use `cultureclip compare`.
    """
    cfg = command_config(config, overrides, out)
    if models is not None or data or cfg.eval.models:
        console.print(DEPRECATED_EVAL, highlight=False, soft_wrap=True)
        if out is None:
            raise ConfigError("--out is required: the new folder for the comparison")
        from cultureclip.cli.models import compare

        compare(out, models, data, config, False, overrides)
        return
    from cultureclip import run as run_job

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
    cfg = command_config(config, with_executor(overrides, executor), out, resume)
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
