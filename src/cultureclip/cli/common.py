"""What every command shares: the app, the console, the config and run-folder options."""

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cultureclip.config import RunConfig, list_presets, load_config

HELP = (
    "The `cultureclip` command: build, train, eval, run. Each is a thin call into the library."
    "\n\nThe default config is the offline world: a shipped catalogue of cultural twins, template "
    "captions, procedurally rendered images and a small CLIP, so `cultureclip run` works on a CPU "
    f"with no model hub. Presets: {', '.join(list_presets())}."
)

app = typer.Typer(add_completion=False, no_args_is_help=False, help=HELP)
console = Console(stderr=True)
"""Progress, logs and result lines (stderr); under torchrun, rank 0's alone (see `main`)."""
tables = Console()
"""Result tables (stdout); likewise rank 0's alone."""

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
        help="Where the builder's stages run: local (default) or ray (Ray actors; same as executor.kind=ray).",
    ),
]


def with_executor(overrides: list[str] | None, executor: str | None) -> list[str]:
    """The overrides, with `executor.kind` set when --executor is given."""
    return [*(overrides or []), *([f"executor.kind={executor}"] if executor else [])]


OverwriteOption = Annotated[
    bool,
    typer.Option("--overwrite", help="Replace OUT even if it holds files this command did not write (they are lost)."),
]
ResumeOption = Annotated[
    bool, typer.Option("--resume", help="Continue unfinished trainings from their latest checkpoint.")
]
ModelsOption = Annotated[
    str | None,
    typer.Option(
        "--models",
        "-m",
        help="Models to compare: name=MODEL_ID,... (the first is the reference; default: eval.models), "
        "e.g. base=open_clip:ViT-B-32@openai,tuned=local:runs/x/models/tuned.",
    ),
]
DataOption = Annotated[
    list[str] | None,
    typer.Option(
        "--data",
        "-d",
        help="Dataset to compare on, KIND:PATH (repeatable; added to eval.datasets): folder, manifest, shards, "
        "globalrg_retrieval, globalrg_grounding, crope, geode, or clip_benchmark/NAME:ROOT for a standard "
        "dataset by its CLIP_benchmark name.",
    ),
]


def command_config(
    config: str | None, overrides: list[str] | None, out: Path | None, resume: bool = False
) -> RunConfig:
    """The typed config of a command: the file or preset, the overrides, then --out and --resume; the model id
    is checked now, so a mistyped one fails before any work."""
    items = list(overrides or [])
    if out is not None:
        items.append(f"out={out}")
    if resume:
        items.append("resume=true")
    cfg = load_config(config, items)
    from cultureclip.backends.clip import parse_model_id

    parse_model_id(cfg.model.name)  # a mistyped model id fails now, not after the build
    return cfg
