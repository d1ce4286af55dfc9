"""The `cultureclip` command: build, train, eval, run. Each is a thin call into the library.

Each command imports what it needs when it runs, so `--help` and the catalogue commands start without torch.

Every subcommand reads one typed config (`--config FILE` or a preset name, then `key=value`
overrides) and works in one run folder (`--out`), so `build`, `train` and `eval` one after the other
do what `run` does, and any of them re-run skips what is already done.
"""

import logging
import sys
from pathlib import Path
from typing import Annotated

import click
import typer
from rich.console import Console
from rich.logging import RichHandler

from cultureclip.config import RunConfig, list_presets, load_config
from cultureclip.errors import CultureClipError

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


def _register_commands() -> None:
    from cultureclip.cli import catalog, pipeline, tools  # noqa: F401  (each module adds its commands to `app`)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI in-process; a CultureClipError is one line on stderr and exit code 2."""
    logging.basicConfig(
        level=logging.WARNING, format="%(message)s", handlers=[RichHandler(console=console, show_path=False)]
    )
    logging.getLogger("cultureclip").setLevel(logging.INFO)
    _register_commands()
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
