"""Durable outputs: files and folders appear whole or not at all, replace only what made them, and
run folders are written by one command at a time."""

import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cultureclip.errors import ConfigError, DataError

DONE_MARKER = ".done"


STAGING = ".{name}.tmp-"
"""How a staging copy beside an output is named (the writer's PID follows): `.data.tmp-1234`."""
_STAGED = re.compile(r"\..+\.tmp-(\d+)")
_SWEPT: set[str] = set()
"""Folders whose stale staging copies this process removed already (once is enough: a sweep lists the folder)."""


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling of `path` to write; rename it into place only on success.

    The one way outputs are written: a link at `path` (or at the staging name) is replaced, never followed,
    and staging copies left by a killed writer (its PID gone) are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(path.parent)
    tmp = path.with_name(STAGING.format(name=path.name) + str(os.getpid()))
    remove(tmp)
    try:
        yield tmp
        remove(path)
        os.replace(tmp, path)
    finally:
        remove(tmp)


def remove_stale_staging(folder: Path) -> None:
    """Remove the staging copies in `folder` whose writer is no longer running (a killed import or export),
    the first time this process writes there."""
    key = os.path.realpath(folder)
    if key in _SWEPT:
        return
    _SWEPT.add(key)
    with os.scandir(folder) as entries:
        stale = [e.name for e in entries if (m := _STAGED.fullmatch(e.name)) and not _running(int(m.group(1)))]
    for name in stale:
        remove(Path(folder) / name)


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove(path: Path) -> None:
    """Remove a file, a folder or a link (the link itself, never what it points to); nothing if absent."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def create_new(path: Path):
    """Open a file that must not exist yet for writing bytes, never through a link (O_EXCL, O_NOFOLLOW)."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666), "wb")


def readable(folder: Path) -> None:
    """Give each file under `folder` the mode a plain `open` gives (0666 less the umask): some writers
    (safetensors) create files 0600, which others on a shared machine cannot read."""
    mask = os.umask(0)
    os.umask(mask)
    for path in Path(folder).rglob("*"):
        if path.is_file() and not path.is_symlink():
            path.chmod(0o666 & ~mask)


def read_utf8(path: Path, error: type[Exception] = DataError) -> str:
    """The text of a UTF-8 file; a file that is not UTF-8 is one line naming it and the first bad byte."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise error(f"{path}: not a UTF-8 text file (byte {err.start})") from None


def write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically, replacing a link there rather than writing through it."""
    with atomic_path(Path(path)) as tmp, create_new(tmp) as f:
        f.write(data)


def write_json(path: Path, obj: Any) -> None:
    """Write `obj` as indented JSON, atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def write_text(path: Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically, replacing a link there rather than writing through it."""
    write_bytes(path, text.encode("utf-8"))


def is_done(folder: Path) -> bool:
    """True when a stage finished writing `folder` (it carries the completion marker)."""
    return (Path(folder) / DONE_MARKER).is_file()


def is_finished(folder: Path, record: str, text: str) -> bool:
    """True when `folder` is a finished stage output made from `text` (saved as `record` inside it).

    A finished output made from different settings or inputs is an error rather than silently reused.
    """
    folder = Path(folder)
    if not is_done(folder):
        return False
    saved = folder / record
    if not saved.is_file() or saved.read_text() != text:
        old = saved.read_text() if saved.is_file() else ""
        raise DataError(
            f"{folder}: made with other settings than now ({record_difference(old, text)}); "
            "use a new --out or delete that folder"
        )
    return True


def input_record(files: dict[str, Path]) -> str:
    """The `inputs:` section of a settings record: each input file read, by role, with its content hash,
    so an edited input (same path, other bytes) makes the record differ (64 bits of the hash: ample)."""
    lines = [f"  {role}: {path} {file_digest(path)[:23]}" for role, path in files.items()]
    return "inputs:\n" + "".join(line + "\n" for line in lines) if lines else ""


def record_difference(old: str, new: str) -> str:
    """Where settings record `new` first differs from `old`, as 'dotted.key: OLD -> NEW' (keys from the
    YAML nesting; long values shortened), for one-line refusals that say which setting or input changed."""
    old_lines, parents = old.splitlines(), []
    for i, line in enumerate(new.splitlines()):
        indent = len(line) - len(line.lstrip(" -"))
        key, _, value = line.strip(" -").partition(":")
        parents = [(d, k) for d, k in parents if d < indent]
        was = old_lines[i] if i < len(old_lines) else None
        if was != line:
            before = "(absent)" if was is None else _short(was.strip(" -").partition(":")[2])
            return ".".join([k for _, k in parents] + [key]) + f": {before} -> {_short(value)}"
        parents.append((indent, key))
    return "a setting was removed" if len(old_lines) > len(new.splitlines()) else "the record is unreadable"


def _short(value: str, width: int = 80) -> str:
    """`value`, or its end when longer than `width` (where a path's file name and a file's hash are)."""
    value = value.strip()
    return value if len(value) <= width else "..." + value[3 - width :]


def refuse_link(folder: Path) -> None:
    """A DataError when `folder` is a link: a work folder planted as a link would take our writes elsewhere."""
    if Path(folder).is_symlink():
        raise DataError(f"{folder}: is a link, not a folder of its own; remove it (nothing was written)")


def mark_done(folder: Path, maker: str) -> None:
    """Mark `folder` finished by `maker` (the command that owns it: it may replace the folder later)."""
    write_text(Path(folder) / DONE_MARKER, maker)


def claim_output(path: Path, maker: str | None, overwrite: bool = False) -> None:
    """Refuse an output `path` that holds what `maker` did not write, before any work starts.

    A folder output (`maker` names its command) may replace nothing, an empty folder or a folder that
    `maker` finished; a file output (`maker` None) may replace a file, never a folder. `overwrite`
    allows any replacement.
    """
    path = Path(path)
    if overwrite or not (path.exists() or path.is_symlink()):
        return
    if maker is None:
        if path.is_dir():
            raise DataError(f"{path}: is a folder; name a file to write (or pass --overwrite to replace the folder)")
        return
    if not path.is_dir():
        raise DataError(f"{path}: is a file, not a folder; choose another --out (or pass --overwrite)")
    marker = path / DONE_MARKER
    if any(path.iterdir()) and not (marker.is_file() and marker.read_text() == maker):
        raise DataError(
            f"{path}: not empty and not written by `cultureclip {maker}`; choose a new --out (or pass --overwrite)"
        )


def file_digest(path: Path) -> str:
    """The sha256 of a file's bytes (read in 1 MiB blocks), as 'sha256:HEX'."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def plain_name(name: str, what: str) -> str:
    """`name`, when it can name a file or folder inside another (no separator, not `.` or `..`, no control
    character); a ConfigError otherwise, since names from data or settings become paths."""
    if name in ("", ".", "..") or any(c in name for c in "/\\") or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ConfigError(f"{what} {name!r}: not usable as a file name (no '/', '\\', control characters, '.' or '..')")
    return name


def within(root: Path, path: Path) -> bool:
    """True when `path`, links resolved, lies inside the folder `root` (links resolved too)."""
    try:
        base = os.path.realpath(root)
        return os.path.commonpath([base, os.path.realpath(path)]) == base
    except ValueError:  # a NUL in a path, or one relative and one absolute
        return False


LOCK_FILE = ".lock"


@contextmanager
def folder_lock(folder: Path, command: str) -> Iterator[None]:
    """Hold `folder`'s lock while `command` writes in it; a second command is refused with the holder's PID.

    The lock is an flock on `folder/.lock`, released by the kernel when the process ends, so a killed
    run leaves no stale lock.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as err:
        if err.errno != errno.ELOOP:
            raise
        raise DataError(f"{folder / LOCK_FILE}: is a link, not a lock file; remove it (nothing was written)") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            raise DataError(f"{folder}: in use by {holder}; wait for it to finish or use another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"PID {os.getpid()} (cultureclip {command})".encode(), 0)
        yield
    finally:
        os.close(fd)
