"""A folder of images with captions: `NAME.jpg` (or .jpeg, .png, .webp) beside `NAME.txt`, in any
subfolder; or a `captions.csv` / `captions.jsonl` at its top whose rows name an image `file` (relative
to the folder, never outside it) and its `caption`, their other columns kept as metadata (page_title,
page_url, url, language are taken as the page and image they name)."""

import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path

from cultureclip.config import CorpusConfig
from cultureclip.data.corpora.record import (
    IMAGE_SUFFIXES,
    MAX_TEXT_BYTES,
    CorpusKind,
    CorpusRecord,
    FileImage,
    described,
    sample_key,
)
from cultureclip.errors import DataError
from cultureclip.io import read_utf8, within

LISTS = ("captions.csv", "captions.jsonl")


def read_folder(cfg: CorpusConfig) -> Iterator[CorpusRecord]:
    """The folder's images with their captions (see the module docstring), in name order."""
    root = Path(cfg.path)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder of images with captions")
    lists = [root / name for name in LISTS if (root / name).is_file()]
    if len(lists) > 1:
        raise DataError(f"{root}: both {' and '.join(LISTS)}; keep one")
    yield from _listed(root, lists[0]) if lists else _pairs(root)


def _pairs(root: Path) -> Iterator[CorpusRecord]:
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            image = Path(folder) / name
            if image.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            relative = image.relative_to(root)
            caption = image.with_suffix(".txt")
            if not caption.is_file():
                raise DataError(f"{image}: no caption file {caption.name} beside it")
            if not within(root, image) or not within(root, caption):
                raise DataError(f"{image}: is a link to a file outside {root}")
            key = sample_key(str(relative.with_suffix("")))
            yield described(key, FileImage(str(image)), _caption(caption), {"file": str(relative)})


def _caption(path: Path) -> str:
    if path.stat().st_size > MAX_TEXT_BYTES:
        raise DataError(f"{path}: {path.stat().st_size:,} bytes, over the {MAX_TEXT_BYTES:,} a caption may have")
    return read_utf8(path).strip()


def _listed(root: Path, listing: Path) -> Iterator[CorpusRecord]:
    for n, row in enumerate(_rows(listing)):
        where = f"{listing}: row {n}"
        if not isinstance(row, dict) or not isinstance(row.get("file"), str) or not row["file"]:
            raise DataError(f"{where}: field 'file' is missing")
        if not isinstance(row.get("caption"), str):
            raise DataError(f"{where}: field 'caption' is missing")
        named = Path(row["file"])
        if named.is_absolute() or ".." in named.parts or not within(root, root / named):
            raise DataError(f"{where}: field 'file': {row['file']!r} is outside {root}")
        key = sample_key(str(row.get("key") or named.with_suffix("")))
        yield described(key, FileImage(str(root / named)), row["caption"].strip(), row)


def _rows(listing: Path) -> Iterator:
    with open(listing, encoding="utf-8", newline="") as f:
        try:
            if listing.suffix == ".csv":
                yield from csv.DictReader(f)
                return
            for n, line in enumerate(f, 1):
                if line.strip():
                    yield _json_line(line, listing, n)
        except UnicodeDecodeError as err:
            raise DataError(f"{listing}: not a UTF-8 text file ({err.reason})") from None
        except csv.Error as err:
            raise DataError(f"{listing}: not a readable CSV file ({err})") from None


def _json_line(line: str, listing: Path, n: int):
    try:
        return json.loads(line)
    except (json.JSONDecodeError, RecursionError):
        raise DataError(f"{listing}: not valid JSON (line {n})") from None


FOLDER = CorpusKind(read_folder)
