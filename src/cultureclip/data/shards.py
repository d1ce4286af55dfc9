"""The dataset format every part shares: WebDataset tar shards per split + a Parquet manifest.

Each sample is `<key>.png` (the image) and `<key>.json` (its row: concept id, name, culture,
category, generic noun, twin group and twin ids, caption, generic caption, seed, split). The manifest
holds the same rows, one per image, with the shard that stores it, so a dataset can be queried
without opening the tars; it also lists the builder's rejected and failed rows (`status`, `reason`,
no shard). Readable with `webdataset.WebDataset(...)` or `datasets` directly: `README.md` is a Hugging
Face dataset card header naming each split's shards and the rows' exact types, so
`datasets.load_dataset(folder)` loads every split (its webdataset loader would otherwise guess the types
from the first 5 samples, and fail on a field that is null there and a string later, e.g. `caption_note`).
"""

import io
import json
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from cultureclip.errors import DataError

MANIFEST = "manifest.parquet"
HF_CARD = "README.md"


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

    table = pa.Table.from_pylist(rows)
    pq.write_table(table, folder / MANIFEST)
    _write_hf_card(folder, sorted({r["split"] for r in rows if r.get("shard")}), table.schema)


def _write_hf_card(folder: Path, splits: list[str], schema) -> None:
    """README.md whose YAML header gives `datasets` each split's shards and the sample features."""
    import yaml

    row = [{"name": f.name, **_hf_type(f.type)} for f in schema if f.name != "shard"]
    features = [
        {"name": "__key__", "dtype": "string"},
        {"name": "__url__", "dtype": "string"},
        {"name": "json", "struct": row},
        {"name": "png", "dtype": "image"},
    ]
    header = {
        "configs": [{"config_name": "default", "data_files": [{"split": s, "path": f"{s}-*.tar"} for s in splits]}],
        "dataset_info": {"features": features},
    }
    text = "Load with `datasets.load_dataset(<this folder>)`, `webdataset`, or the manifest with pyarrow.\n"
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
