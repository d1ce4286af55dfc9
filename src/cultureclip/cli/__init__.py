"""The `cultureclip` command: build, train, eval, run. Each is a thin call into the library.

Each command imports what it needs when it runs, so `--help` and the catalogue commands start without torch.

Every subcommand reads one typed config (`--config FILE` or a preset name, then `key=value`
overrides) and works in one run folder (`--out`), so `build`, `train` and `eval` one after the other
do what `run` does, and any of them re-run skips what is already done.
"""

import logging
import os
import sys

import click
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

# each module adds its commands to `app`, in this order in --help: the pipeline's first
from cultureclip.cli import pipeline  # noqa: F401

# isort: split
from cultureclip.cli import catalog, data, models, tools, view  # noqa: F401
from cultureclip.cli.common import app, console, tables
from cultureclip.errors import CultureClipError
from cultureclip.redact import redact

INTERRUPTED_CODE = 130
INTERRUPTED = "interrupted: run the same command again to continue where it stopped (train and run: add --resume)"


def main(argv: list[str] | None = None) -> int:
    """Run the CLI in-process; a CultureClipError, or an OSError of the file system (disk full, read-only,
    no permission), is one line on stderr and exit code 2; Ctrl-C is one line saying how to continue (130).

    Under torchrun every rank runs the command and only rank 0 prints, but any rank's error."""
    rank = os.environ.get("RANK", "0")
    console.quiet = tables.quiet = rank != "0"
    handler = RichHandler(console=console, show_path=False)
    handler.addFilter(_redact_record)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", handlers=[handler])
    logging.getLogger("cultureclip").setLevel(logging.INFO)
    try:
        code = app(args=argv, standalone_mode=False)  # a command's typer.Exit(n) comes back as n
    except (CultureClipError, OSError) as err:
        where = "" if rank == "0" else f"rank {rank}: "
        message = escape(redact(_one_line(err)))
        Console(stderr=True).print(f"[red]error:[/red] {where}{message}", highlight=False, soft_wrap=True)
        return 2
    except click.exceptions.Exit as err:
        code = err.exit_code
    except click.ClickException as err:  # usage errors: unknown option, missing value
        err.show()
        return err.exit_code
    if code == INTERRUPTED_CODE:  # typer answers Ctrl-C with this code
        Console(stderr=True).print(INTERRUPTED, highlight=False, soft_wrap=True)
    return code if isinstance(code, int) else 0


def _redact_record(record: logging.LogRecord) -> bool:
    """A log line with its URLs redacted (a credential in a URL is never printed: redact.py)."""
    message = record.getMessage()
    if "://" in message:
        record.msg, record.args = redact(message), None
    return True


def _one_line(err: Exception) -> str:
    """The message of a CultureClipError; for an OSError, the file and what the system said about it."""
    if isinstance(err, OSError):
        return f"{err.filename}: {err.strerror}" if err.filename and err.strerror else f"{type(err).__name__}: {err}"
    return str(err)


def entry() -> None:
    sys.exit(main())
