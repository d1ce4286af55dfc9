"""Durable outputs: files and folders appear whole or not at all."""

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cultureclip.errors import DataError

DONE_MARKER = ".done"


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling of `path` to write; rename it into place only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    _remove(tmp)
    try:
        yield tmp
        _remove(path)
        os.replace(tmp, path)
    finally:
        _remove(tmp)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def readable(folder: Path) -> None:
    """Give each file under `folder` the mode a plain `open` gives (0666 less the umask): some writers
    (safetensors) create files 0600, which others on a shared machine cannot read."""
    mask = os.umask(0)
    os.umask(mask)
    for path in Path(folder).rglob("*"):
        if path.is_file() and not path.is_symlink():
            path.chmod(0o666 & ~mask)


def write_json(path: Path, obj: Any) -> None:
    """Write `obj` as indented JSON, atomically."""
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def write_text(path: Path, text: str) -> None:
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(text)


def is_done(folder: Path) -> bool:
    """True when a stage finished writing `folder` (it carries the completion marker)."""
    return (Path(folder) / DONE_MARKER).is_file()


def is_finished(folder: Path, record: str, text: str) -> bool:
    """True when `folder` is a finished stage output made from `text` (saved as `record` inside it).

    A finished output made from different settings is an error rather than silently reused.
    """
    folder = Path(folder)
    if not is_done(folder):
        return False
    saved = folder / record
    if not saved.is_file() or saved.read_text() != text:
        raise DataError(
            f"{folder}: made with other settings than now ({record} differs); use a new --out or delete that folder"
        )
    return True


def mark_done(folder: Path) -> None:
    (Path(folder) / DONE_MARKER).write_text("")
