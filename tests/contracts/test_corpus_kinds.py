"""Every registered corpus kind reads a tiny corpus written in its own layout: two records in order, each
with its key and caption, a reference to its image that pickles (Ray workers read it) and reads back the
image's bytes, and a generator (a corpus streams). The table of layouts is checked against `CORPORA`."""

import io
import json
import pickle
import tarfile
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cultureclip.config import CorpusConfig
from cultureclip.data.corpora import CORPORA, read_corpus

IMAGES = {"a": b"image of a", "b": b"image of b"}


def _members(tar_path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(tar_path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def wit(root: Path) -> Path:
    for key, data in IMAGES.items():
        (root / f"{key}.jpg").write_bytes(data)
    rows = [{"key": k, "page_title": k, "caption_attribution_description": f"caption {k}"} for k in IMAGES]
    (root / "wit.jsonl").write_text("".join(json.dumps({**r, "image_path": f"{r['key']}.jpg"}) + "\n" for r in rows))
    return root / "wit.jsonl"


def img2dataset(root: Path) -> Path:
    rows = [{"key": k, "caption": f"caption {k}", "status": "success", "jpg": data} for k, data in IMAGES.items()]
    pq.write_table(pa.Table.from_pylist(rows), root / "00000.parquet")
    (root / "00000_stats.json").write_text("{}")
    return root


def webdataset(root: Path) -> Path:
    members = {
        f"{k}.{ext}": v for k, data in IMAGES.items() for ext, v in (("jpg", data), ("txt", f"caption {k}".encode()))
    }
    _members(root / "0.tar", members)
    return root


def folder(root: Path) -> Path:
    for key, data in IMAGES.items():
        (root / f"{key}.jpg").write_bytes(data)
        (root / f"{key}.txt").write_text(f"caption {key}")
    return root


LAYOUTS: dict[str, Callable[[Path], Path]] = {
    "wit": wit,
    "img2dataset": img2dataset,
    "webdataset": webdataset,
    "folder": folder,
}


def test_every_registered_kind_has_a_layout_here():
    assert sorted(LAYOUTS) == CORPORA.list()


@pytest.mark.parametrize("kind", sorted(LAYOUTS))
def test_every_kind_streams_its_records_with_images_read_where_they_lie(kind, tmp_path):
    stream = read_corpus(CorpusConfig(kind=kind, path=LAYOUTS[kind](tmp_path)))
    assert iter(stream) is stream  # a generator, not a list
    records = list(stream)
    assert [(r.key, r.text) for r in records] == [("a", "caption a"), ("b", "caption b")]
    assert [pickle.loads(pickle.dumps(r.image)).read() for r in records] == list(IMAGES.values())
