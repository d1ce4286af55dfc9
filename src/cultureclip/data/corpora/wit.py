"""Rows in the WIT layout (.json list, .jsonl or .parquet) whose images are local files.

Each row has page_title (required), page_url, image_url, caption_attribution_description (the caption),
context_page_description, language, an optional `key`, and image_path (a file inside the rows' folder
or `images`) or, with `images`, an image named `<key or index>.<jpg|png|...>` there.
"""

import json
import re
from collections.abc import Iterator
from pathlib import Path

from cultureclip.config import CorpusConfig
from cultureclip.data.corpora.record import IMAGE_SUFFIXES, CorpusKind, CorpusRecord, FileImage, described
from cultureclip.errors import DataError
from cultureclip.io import within

KEY = re.compile(r"[\w-]+")
"""A row's key names its sample's tar members and image file: no '.', '/' or space."""


def read_wit(cfg: CorpusConfig) -> Iterator[CorpusRecord]:
    """The rows of `cfg.path` as records, streamed (a .json list is read whole); a row without a page
    title, with a bad key or an image path outside the folders is one line naming the row."""
    path = Path(cfg.path)
    if not path.is_file():
        raise DataError(f"{path}: no such file of image-text rows")
    for i, row in enumerate(_rows(path)):
        title = row.get("page_title") if isinstance(row, dict) else None
        if not isinstance(title, str) or not title.strip():
            raise DataError(f"{path}: row {i}: field 'page_title' is missing")
        key = str(row.get("key") or i)
        if not KEY.fullmatch(key):
            raise DataError(f"{path}: row {i}: key {key!r} is not a sample key (letters, digits, '_' and '-' only)")
        image = FileImage(_image(path, row, key, cfg.images))
        yield described(key, image, str(row.get("caption_attribution_description") or ""), row)


def _rows(path: Path) -> Iterator:
    if path.suffix == ".parquet":
        yield from _parquet_rows(path)
    elif path.suffix == ".json":
        rows = _json(path.read_bytes(), path, "line {}")
        if not isinstance(rows, list):
            raise DataError(f"{path}: expected a JSON list of rows")
        yield from rows
    else:
        with open(path, "rb") as f:
            offset = 0
            for n, line in enumerate(f, 1):
                if line.strip():
                    yield _json(line, path, f"line {n}", offset)
                offset += len(line)


def _json(data: bytes, path: Path, where: str, offset: int = 0):
    """The JSON value of `data` (bytes at `offset` in `path`); bad UTF-8 or JSON is one line naming where."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not a UTF-8 text file (byte {offset + err.start})") from None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        raise DataError(f"{path}: not valid JSON ({where.format(getattr(err, 'lineno', 1))})") from None


def _parquet_rows(path: Path) -> Iterator[dict]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
            yield from batch.to_pylist()
    except (pa.ArrowException, OSError) as err:
        raise DataError(f"{path}: not a readable Parquet file ({str(err).strip()[:160]})") from None


def _image(path: Path, row: dict, key: str, images: Path | None) -> str:
    """The row's image file: its `image_path` inside the rows' folder or `images` (a path that leads
    elsewhere is refused), else `<images>/<key>.<suffix>`."""
    if row.get("image_path"):
        named = str(row["image_path"])
        file = Path(named) if Path(named).is_absolute() else path.parent / named
        roots = [path.parent, *([Path(images)] if images is not None else [])]
        if ".." in Path(named).parts or not any(within(root, file) for root in roots):
            raise DataError(
                f"{path}: row {key}: image_path {named!r} is outside the rows' folder; set "
                "the corpus's `images` to the folder that holds the images"
            )
        return str(file)
    if images is None:
        raise DataError(f"{path}: row {key}: no image_path, and no `images` folder (build.bottom_up.images)")
    found = [Path(images) / f"{key}{suffix}" for suffix in IMAGE_SUFFIXES]
    return str(next((f for f in found if f.is_file()), found[0]))


WIT = CorpusKind(read_wit, options=("images",))
