"""The dataset format every part shares: WebDataset tar shards per split + a Parquet manifest.

Each sample is `<key>.png` (the image) and `<key>.json` (its row: concept id, name, culture,
category, generic noun, twin group and twin ids, caption, generic caption, seed, split). The manifest
holds the same rows, one per image, with the shard that stores it, so a dataset can be queried
without opening the tars; it also lists the builder's rejected and failed rows (`status`, `reason`,
no shard). Readable with `webdataset.WebDataset(...)` or `datasets` directly.
"""

import io
import json
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from cultureclip.errors import DataError

MANIFEST = "manifest.parquet"


@dataclass
class Sample:
    row: dict
    image: Image.Image | bytes
    """A decoded image, or its PNG bytes (written as they are)."""


def write_split(folder: Path, split: str, samples: list[Sample], shard_size: int, first_shard: int = 0) -> list[dict]:
    """Write `samples` as `<split>-NNNNN.tar` shards in `folder`, numbered from `first_shard` (so a
    stream can be written a shard at a time); return manifest rows."""
    import webdataset as wds

    manifest = []
    for start in range(0, len(samples), shard_size):
        shard = f"{split}-{first_shard + start // shard_size:05d}.tar"
        with wds.TarWriter(str(folder / shard), mtime=0) as sink:
            for sample in samples[start : start + shard_size]:
                sink.write({"__key__": sample.row["key"], "png": _png(sample.image), "json": sample.row})
                manifest.append({**sample.row, "shard": shard})
    return manifest


def _png(image: Image.Image | bytes) -> bytes:
    if isinstance(image, bytes):
        return image
    png = io.BytesIO()
    image.save(png, format="PNG")
    return png.getvalue()


def write_manifest(folder: Path, rows: list[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), folder / MANIFEST)


def read_manifest(folder: Path) -> list[dict]:
    import pyarrow.parquet as pq

    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise DataError(f"{folder}: not a cultureclip dataset ({MANIFEST} is missing)")
    return pq.read_table(path).to_pylist()


def read_split(folder: Path, split: str) -> list[Sample]:
    """All samples of `split`, in manifest order, decoded."""
    return [Sample(row, Image.open(io.BytesIO(png)).convert("RGB")) for row, png in read_split_encoded(folder, split)]


def read_split_encoded(folder: Path, split: str) -> list[tuple[dict, bytes]]:
    """All (row, PNG bytes) of `split`, in manifest order, not decoded."""
    import webdataset as wds

    folder = Path(folder)
    shards = sorted({r["shard"] for r in read_manifest(folder) if r["split"] == split and r["shard"]})
    if not shards:
        raise DataError(f"{folder}: no {split!r} samples in {MANIFEST}")
    missing = [s for s in shards if not (folder / s).is_file()]
    if missing:
        raise DataError(f"{folder}: shard {missing[0]} listed in {MANIFEST} is missing")
    # every process of a distributed run reads the whole split: the trainer splits batches by rank, not shards
    urls = [str(folder / s) for s in shards]
    stream = wds.WebDataset(urls, shardshuffle=False, empty_check=False, nodesplitter=_all_shards)
    samples = []
    seen = set()
    for item in stream:
        seen.add(Path(item["__url__"]).name)
        samples.append((json.loads(item["json"]), item["png"]))
    empty = [s for s in shards if s not in seen]
    if empty:
        raise DataError(f"{folder / empty[0]}: empty shard (no samples, but {MANIFEST} lists some in it)")
    return samples


def _all_shards(urls):
    return urls
