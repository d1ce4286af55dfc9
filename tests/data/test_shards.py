import numpy as np
import pytest
import webdataset as wds
from PIL import Image

from cultureclip.config import ShardImageConfig
from cultureclip.data.shards import (
    LOCATION,
    Sample,
    ShardReader,
    encode_image,
    read_manifest,
    read_split,
    split_rows,
    write_manifest,
    write_split,
)
from cultureclip.errors import DataError

PNG = ShardImageConfig(format="png")


def _samples(n, split):
    return [
        Sample(
            {"key": f"{split}-{i}", "split": split, "concept_id": f"c{i % 2}", "twin_ids": ["x"], "caption": f"c {i}"},
            Image.fromarray(np.full((8, 8, 3), i * 10, dtype=np.uint8)),
        )
        for i in range(n)
    ]


@pytest.mark.parametrize(("kind", "member", "error"), [("jpeg", "jpg", 1), ("png", "png", 0), ("webp", "webp", 1)])
def test_round_trip_across_shards(tmp_path, kind, member, error):
    """Each stored format round-trips (PNG exactly, JPEG and WebP at quality 95 within one level on flat
    images) and is read by webdataset under its member name."""
    images = ShardImageConfig(format=kind)
    manifest = write_split(tmp_path, "train", _samples(5, "train"), shard_size=2, images=images)
    manifest += write_split(tmp_path, "test", _samples(2, "test"), shard_size=2, images=images)
    write_manifest(tmp_path, manifest)
    assert sorted(p.name for p in tmp_path.glob("*.tar")) == [
        "test-00000.tar",
        "train-00000.tar",
        "train-00001.tar",
        "train-00002.tar",
    ]
    rows = read_manifest(tmp_path)
    assert [r["shard"] for r in rows[:5]] == ["train-00000.tar"] * 2 + ["train-00001.tar"] * 2 + ["train-00002.tar"]
    back = read_split(tmp_path, "train")
    assert [s.row["key"] for s in back] == [f"train-{i}" for i in range(5)]
    assert back[3].row["twin_ids"] == ["x"]
    assert abs(int(np.asarray(back[3].image)[0, 0, 0]) - 30) <= error
    # readable by webdataset directly
    first = next(iter(wds.WebDataset(str(tmp_path / "train-00000.tar"), shardshuffle=False).decode("pil")))
    assert first["json"]["concept_id"] == "c0" and first[member].size == (8, 8)
    assert first["txt"] == "c 0"
    assert f"`{member}` members" in (tmp_path / "README.md").read_text()


def test_encoded_bytes_pass_through_or_are_converted_once(tmp_path):
    """Bytes already in the stored format and size are written as they are; others are decoded, cut to
    `max_side` (aspect kept) and encoded; with no format (a derived dataset) any bytes are copied."""
    import io

    photo = Image.fromarray(np.random.default_rng(0).integers(0, 255, (30, 60, 3), dtype=np.uint8))
    png = io.BytesIO()
    photo.save(png, format="PNG")
    assert encode_image(png.getvalue(), ShardImageConfig(format="png")) == ("png", png.getvalue())
    assert encode_image(png.getvalue(), None) == ("png", png.getvalue())
    member, data = encode_image(png.getvalue(), ShardImageConfig(max_side=20))
    with Image.open(io.BytesIO(data)) as stored:
        assert (member, stored.format, stored.size) == ("jpg", "JPEG", (20, 10))
    assert encode_image(data, ShardImageConfig(max_side=20)) == ("jpg", data)
    gif = io.BytesIO()
    photo.save(gif, format="GIF")
    with pytest.raises(DataError, match="a GIF image cannot be stored in shards"):
        encode_image(gif.getvalue(), None)


def test_manifest_locates_each_sample_for_one_read(tmp_path):
    """Each manifest row's (shard, offset, length) is exactly its sample's members, and sha256 its image's hash."""
    import hashlib

    samples = _samples(5, "train")
    samples[2].row["caption"] = None  # no caption: no txt member (a loader drops it rather than train on "")
    write_manifest(tmp_path, write_split(tmp_path, "train", samples, shard_size=3, images=PNG))
    reader = ShardReader(open_files=1)  # two shards through one open file: the descriptor cache evicts
    for row in split_rows(tmp_path, "train"):
        sample = reader.read(tmp_path / row["shard"], row["offset"], row["length"])
        assert sorted(sample) == (["json", "png"] if row["key"] == "train-2" else ["json", "png", "txt"])
        assert hashlib.sha256(sample["png"]).hexdigest() == row["sha256"]
        assert sample.get("txt", b"").decode() == (row["caption"] or "")
        assert np.asarray(Image.open(__import__("io").BytesIO(sample["png"])))[0, 0, 0] == int(row["key"][-1]) * 10
    assert [r["key"] for r in split_rows(tmp_path, "train", ["key"])] == [f"train-{i}" for i in range(5)]
    assert set(split_rows(tmp_path, "train", ["key"])[0]) == {"key", "split", *LOCATION}


def test_a_truncated_shard_is_one_line_naming_it(tmp_path):
    write_manifest(tmp_path, write_split(tmp_path, "train", _samples(4, "train"), shard_size=4))
    shard = tmp_path / "train-00000.tar"
    last = split_rows(tmp_path, "train")[-1]
    with open(shard, "r+b") as f:
        f.truncate(last["offset"] + 100)  # cut inside the last sample
    with pytest.raises(DataError, match=r"train-00000.tar: truncated \(manifest.parquet places samples past its end\)"):
        split_rows(tmp_path, "train")
    with pytest.raises(DataError, match="truncated at byte"):
        ShardReader().read(shard, last["offset"], last["length"])


def test_missing_manifest_and_shard(tmp_path):
    with pytest.raises(DataError, match="not a cultureclip dataset"):
        read_split(tmp_path, "train")
    write_manifest(tmp_path, write_split(tmp_path, "train", _samples(1, "train"), 10))
    with pytest.raises(DataError, match="no 'test' samples"):
        read_split(tmp_path, "test")
    (tmp_path / "train-00000.tar").unlink()
    with pytest.raises(DataError, match="shard train-00000.tar listed in manifest.parquet is missing"):
        read_split(tmp_path, "train")


def test_loads_in_hugging_face_datasets_with_the_manifest_types(tmp_path):
    """`datasets.load_dataset(folder)` reads README.md's features: a field null in the first samples and
    a string later (what guessing from the first 5 samples fails on) loads exactly."""
    import datasets

    samples = _samples(9, "train") + _samples(2, "test")
    for i, sample in enumerate(samples):
        sample.row |= {"caption_note": "fallback: x" if i == 7 else None, "score": 0.5 if i == 7 else None}
    folder = tmp_path / "data"
    folder.mkdir()
    manifest = write_split(folder, "train", samples[:9], shard_size=4) + write_split(folder, "test", samples[9:], 4)
    write_manifest(folder, manifest)
    loaded = datasets.load_dataset(str(folder), cache_dir=str(tmp_path / "cache"))
    for split in ("train", "test"):
        expected = [{k: v for k, v in r.items() if k not in LOCATION} for r in manifest if r["split"] == split]
        assert loaded[split]["json"] == expected
        assert loaded[split]["__key__"] == [r["key"] for r in expected]
    assert loaded["train"][7]["json"]["caption_note"] == "fallback: x" and loaded["train"][7]["json"]["score"] == 0.5
    image = loaded["train"][3]["jpg"]  # the default format, under its webdataset member name
    assert abs(int(np.asarray(image)[0, 0, 0]) - 30) <= 1 and image.size == (8, 8)
