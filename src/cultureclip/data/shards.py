"""The dataset format every part shares: WebDataset tar shards per split + a Parquet manifest.

Each sample is `<key>.jpg` (the image; `.png` or `.webp` where the dataset chose that format, see
`ShardImageConfig`), `<key>.txt` (its caption, where the row has one, as
`open_clip_train` and other WebDataset loaders read it) and `<key>.json` (its row: concept id, name,
culture, category, generic noun, twin group and twin ids, caption, generic caption, seed, split).

The manifest is the index: the same rows, one per image, with the shard that stores it, where the
sample's bytes lie in that shard (`offset`, `length`: a sample is a self-contained run of tar members)
and the image's SHA-256. So a reader fetches any sample with one read, without scanning or holding a
shard; forms twin batches from the manifest's columns alone; and keys an embedding cache without
reading the image. The manifest also lists the builder's rejected and failed rows (`status`,
`reason`, no shard).

Readable with `webdataset.WebDataset(...)` or `datasets` directly: `README.md` is a Hugging Face
dataset card header naming each split's shards and the rows' exact types, so
`datasets.load_dataset(folder)` loads every split (its webdataset loader would otherwise guess the
types from the first 5 samples, and fail on a field that is null there and a string later, e.g.
`caption_note`).
"""

import hashlib
import io
import os
import re
import tarfile
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from cultureclip.config import ShardImageConfig
from cultureclip.data.row import check_rows
from cultureclip.data.tables import read_table, rows_table
from cultureclip.errors import DataError
from cultureclip.redact import redact

if TYPE_CHECKING:
    import pyarrow as pa

MANIFEST = "manifest.parquet"
HF_CARD = "README.md"
LOCATION = ("shard", "offset", "length", "sha256")
SHARD_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\.tar")
"""What a manifest's `shard` may hold: a tar file's name in the dataset folder (`train-00000.tar`)."""
SAMPLE_KEY = re.compile(r"[^./\\\s]+")
"""A sample's key: the stem of its tar members (`KEY.png`, `KEY.json`), so no dot, separator or space."""
"""Manifest columns that say where a sample is, and its image's hash (not fields of the sample's row)."""
MEMBERS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
"""The tar member extension of each stored image format (PIL's name), as webdataset loaders expect it."""
FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
"""PIL's name of each format `ShardImageConfig` offers."""
DEFAULT_IMAGES = ShardImageConfig()


@dataclass
class Sample:
    row: dict
    image: Image.Image | bytes
    """A decoded image, or its encoded bytes (written as they are where they already have the stored format)."""


def write_split(
    folder: Path,
    split: str,
    samples: Iterable[Sample],
    shard_size: int,
    first_shard: int = 0,
    images: ShardImageConfig | None = DEFAULT_IMAGES,
) -> list[dict]:
    """Write `samples` as `<split>-NNNNN.tar` shards in `folder`, numbered from `first_shard`, holding
    one shard's samples at a time, each image stored as `images` says (None: encoded bytes as they are);
    return their manifest rows (each row with its location)."""
    manifest: list[dict] = []
    pending: list[Sample] = []
    number = first_shard
    for sample in samples:
        pending.append(sample)
        if len(pending) == shard_size:
            manifest += _write_shard(folder / f"{split}-{number:05d}.tar", pending, images)
            pending, number = [], number + 1
    if pending:
        manifest += _write_shard(folder / f"{split}-{number:05d}.tar", pending, images)
    return manifest


def _write_shard(path: Path, samples: list[Sample], images: ShardImageConfig | None) -> list[dict]:
    import webdataset as wds

    hashes = []
    for sample in samples:
        key = sample.row["key"]
        if not isinstance(key, str) or not SAMPLE_KEY.fullmatch(key):
            raise DataError(f"{path}: sample key {key!r} cannot name tar members (no '.', '/', '\\' or space)")
    with wds.TarWriter(str(path), mtime=0) as sink:
        for sample in samples:
            member, data = encode_image(sample.image, images)
            hashes.append(hashlib.sha256(data).hexdigest())
            caption = {"txt": sample.row["caption"]} if sample.row.get("caption") else {}
            sink.write({"__key__": sample.row["key"], member: data, **caption, "json": sample.row})
    spans = _sample_spans(path)
    rows = []
    for sample, digest in zip(samples, hashes, strict=True):
        offset, length = spans[sample.row["key"]]
        rows.append({**sample.row, "shard": path.name, "offset": offset, "length": length, "sha256": digest})
    return rows


def _sample_spans(path: Path) -> dict[str, tuple[int, int]]:
    """{key: (offset, length)} of each sample's run of members (headers included) in a tar shard."""
    spans: dict[str, tuple[int, int]] = {}
    with tarfile.open(path) as tar:
        for member in tar:
            key = member.name.split(".", 1)[0]
            end = member.offset_data + -(-member.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
            start = spans[key][0] if key in spans else member.offset
            spans[key] = (start, end - start)
    return spans


def encode_image(image: Image.Image | bytes, images: ShardImageConfig | None) -> tuple[str, bytes]:
    """(member extension, bytes) of `image` stored as `images` says. Encoded bytes already in that format
    and size pass through unchanged, so an image is encoded once (by the stage that made it); with
    `images` None they always do (a derived dataset copies its source's images byte for byte)."""
    if isinstance(image, bytes):
        with Image.open(io.BytesIO(image)) as probe:
            kind, size = probe.format, probe.size
            if images is None or (kind == FORMATS[images.format] and fits(size, images.max_side)):
                if kind not in MEMBERS:
                    raise DataError(f"a {kind} image cannot be stored in shards (only {', '.join(FORMATS)})")
                return MEMBERS[kind], image
            image = probe.convert("RGB")
    kind = "PNG" if images is None else FORMATS[images.format]
    image = shrunk(image if image.mode in ("RGB", "L") else image.convert("RGB"), images and images.max_side)
    buffer = io.BytesIO()
    image.save(buffer, format=kind, quality=images.quality if images else 95)  # PNG has no quality
    return MEMBERS[kind], buffer.getvalue()


def fits(size: tuple[int, int], max_side: int | None) -> bool:
    return not max_side or max(size) <= max_side


def shrunk(image: Image.Image, max_side: int | None) -> Image.Image:
    """`image` with its longest side cut to `max_side` (bicubic, aspect kept); as it is when it fits."""
    if fits(image.size, max_side):
        return image
    scale = max_side / max(image.size)
    size = tuple(max(1, round(side * scale)) for side in image.size)
    return image.resize(size, Image.Resampling.BICUBIC, reducing_gap=None)


NOTES = ("reason", "note")
"""Fields whose text is a message (a failure reason, a caption note): redacted when written (redact.py)."""


def image_member(members: dict[str, bytes], where: object) -> bytes:
    """The image bytes among a sample's `members` (whichever stored format it has)."""
    for extension in MEMBERS.values():
        if extension in members:
            return members[extension]
    raise DataError(f"{where}: sample has no image member ({', '.join(MEMBERS.values())})")


def write_manifest(folder: Path, rows: list[dict], shards: Path | None = None, complete: bool = False) -> None:
    """manifest.parquet and the `datasets` card of `rows`, in `folder` (their shards in `shards`, where
    elsewhere); a key twice in the dataset is refused, since rows (and scores joined back to them) are found
    by key. Rows are checked against the row schema (`row.py`): the types of its fields always, and, when
    `complete` (the builder's datasets), every required field of every kept row."""
    import pyarrow.parquet as pq

    check_unique_keys(folder, rows)
    check_rows(folder, rows, complete)
    table = rows_table([{k: _redacted(k, v) for k, v in row.items()} for row in rows])
    pq.write_table(table, folder / MANIFEST)
    stored = [r for r in rows if r.get("shard")]
    member = _stored_member(shards or folder, stored[0]) if stored else MEMBERS["JPEG"]
    _write_hf_card(folder, sorted({r["split"] for r in stored}), table.schema, member)


def check_unique_keys(folder: Path, rows: list[dict]) -> None:
    """A DataError naming the first key that two rows of the dataset in `folder` share."""
    seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        key = row.get("key")
        if key in seen:
            raise DataError(
                f"{folder}: key {key!r} is given to two rows ({seen[key]} and {i}, splits "
                f"{rows[seen[key]].get('split')!r} and {row.get('split')!r}); keys must be unique in a dataset"
            )
        seen[key] = i


def _redacted(field: str, value: object) -> object:
    return redact(value) if field.endswith(NOTES) and isinstance(value, str) else value


def _stored_member(folder: Path, row: dict) -> str:
    """The image member extension of the sample at `row`'s location (a dataset stores one format)."""
    members = ShardReader(open_files=1).read(folder / row["shard"], row["offset"], row["length"])
    return next(e for e in MEMBERS.values() if e in members)


def _write_hf_card(folder: Path, splits: list[str], schema, member: str) -> None:
    """README.md whose YAML header gives `datasets` each split's shards and the sample features
    (the image under its member's name: `jpg`, `png` or `webp`)."""
    import yaml

    row = [{"name": f.name, **_hf_type(f.type)} for f in schema if f.name not in LOCATION]
    features = [
        {"name": "__key__", "dtype": "string"},
        {"name": "__url__", "dtype": "string"},
        {"name": "json", "struct": row},
        {"name": "txt", "dtype": "string"},
        {"name": member, "dtype": "image"},
    ]
    header = {
        "configs": [{"config_name": "default", "data_files": [{"split": s, "path": f"{s}-*.tar"} for s in splits]}],
        "dataset_info": {"features": features},
    }
    text = (
        f"Images are stored as `{member}` members. Load with `datasets.load_dataset(<this folder>)`, "
        "`webdataset`, or the manifest with pyarrow.\n"
    )
    (folder / HF_CARD).write_text(f"---\n{yaml.safe_dump(header, sort_keys=False)}---\n\n{text}")


def _hf_type(arrow_type) -> dict:
    """A `datasets` feature, as its YAML card writes it, for an Arrow type of the manifest."""
    import pyarrow as pa

    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        inner = _hf_type(arrow_type.value_type)
        return {"list": inner.get("dtype", inner)}
    if pa.types.is_struct(arrow_type):
        return {"struct": [{"name": f.name, **_hf_type(f.type)} for f in arrow_type]}
    names = {pa.float64(): "float64", pa.float32(): "float32", pa.large_string(): "large_string"}
    return {"dtype": names.get(arrow_type, str(arrow_type))}


def read_manifest(folder: Path) -> list[dict]:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise DataError(f"{folder}: not a cultureclip dataset ({MANIFEST} is missing)")
    rows = read_table(path).to_pylist()
    for row in rows:
        _check_shard(folder, row.get("shard"))
    return rows


def _check_shard(folder: Path, shard: object) -> None:
    """A manifest's `shard` names a tar file inside its dataset folder: no path, no link out of it."""
    if shard is None:
        return
    if not isinstance(shard, str) or not SHARD_NAME.fullmatch(shard):
        raise DataError(f"{folder}: {MANIFEST} names shard {shard!r}, not a .tar file of this folder; rebuild it")
    if (Path(folder) / shard).is_symlink():
        raise DataError(f"{folder}: shard {shard} is a link; a dataset's shards are files inside its folder")


def split_rows(folder: Path, split: str, columns: Sequence[str] | None = None) -> list[dict]:
    """The manifest rows of `split`'s samples (only `columns` where given, plus their location), in
    shard order, after checking that every shard they name is there and long enough to hold them."""
    return split_table(folder, split, columns).to_pylist()


def split_table(folder: Path, split: str, columns: Sequence[str] | None = None) -> "pa.Table":
    """`split_rows` as an Arrow table (columns, not a dict per row: for indexing large splits)."""
    import pyarrow.compute as pc

    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise DataError(f"{folder}: not a cultureclip dataset ({MANIFEST} is missing)")
    # only the columns the manifest has: a row without a field reads as one without a value
    wanted = None if columns is None else list(dict.fromkeys([*columns, *LOCATION, "split"]))
    table = read_table(path, columns=wanted)
    if "offset" not in table.column_names:
        raise DataError(f"{folder}: {MANIFEST} has no sample locations (made by an older cultureclip); rebuild it")
    table = table.filter(pc.and_(pc.equal(table["split"], split), pc.is_valid(table["shard"])))
    if not len(table):
        raise DataError(f"{folder}: no {split!r} samples in {MANIFEST}")
    ends = (
        table.append_column("end", pc.add(table["offset"], table["length"]))
        .group_by("shard")
        .aggregate([("end", "max")])
    )
    for shard, end in zip(ends["shard"].to_pylist(), ends["end_max"].to_pylist(), strict=True):
        _check_shard(folder, shard)
        if not (folder / shard).is_file():
            raise DataError(f"{folder}: shard {shard} listed in {MANIFEST} is missing")
        if (folder / shard).stat().st_size < end:
            raise DataError(f"{folder / shard}: truncated ({MANIFEST} places samples past its end); rebuild it")
    return table


class ShardReader:
    """Random access to samples by location: one read of the sample's bytes, its members parsed by
    `tarfile`. Keeps up to `open_files` shards open; `os.pread` needs no file position, so forked
    DataLoader workers may share the descriptors."""

    def __init__(self, open_files: int = 16):
        self.open_files = open_files
        self._files: OrderedDict[str, int] = OrderedDict()

    def read(self, shard: str | Path, offset: int, length: int) -> dict[str, bytes]:
        """{extension: bytes} of the sample at `offset` in `shard`."""
        data = os.pread(self._fd(str(shard)), length, offset)
        if len(data) < length:
            raise DataError(f"{shard}: truncated at byte {offset + len(data)} (a sample needs {length} bytes)")
        members = {}
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for member in tar:
                members[member.name.split(".", 1)[1]] = tar.extractfile(member).read()
        if not members:
            raise DataError(f"{shard}: no sample at byte {offset} (the shard changed after {MANIFEST} was written)")
        return members

    def _fd(self, shard: str) -> int:
        if shard in self._files:
            self._files.move_to_end(shard)
            return self._files[shard]
        if len(self._files) >= self.open_files:
            os.close(self._files.popitem(last=False)[1])
        self._files[shard] = os.open(shard, os.O_RDONLY)
        return self._files[shard]


def iter_split(folder: Path, split: str) -> Iterator[tuple[dict, bytes]]:
    """(row, encoded image bytes) of each sample of `split`, in manifest order, one at a time."""
    folder = Path(folder)
    reader = ShardReader()
    for row in split_rows(folder, split):
        members = reader.read(folder / row["shard"], row["offset"], row["length"])
        yield {k: v for k, v in row.items() if k not in LOCATION}, image_member(members, folder / row["shard"])


def read_split(folder: Path, split: str) -> list[Sample]:
    """All samples of `split`, in manifest order, decoded (for small splits: tests, inspection)."""
    return [Sample(row, Image.open(io.BytesIO(data)).convert("RGB")) for row, data in iter_split(folder, split)]
