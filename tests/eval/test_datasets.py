import json
import struct

import pytest
import torch
from PIL import Image

from cultureclip.config import DatasetSpec
from cultureclip.data.shards import Sample, write_manifest, write_split
from cultureclip.errors import ConfigError, DataError
from cultureclip.eval.datasets import DATASETS, list_kinds, load_dataset, register
from cultureclip.eval.datasets.base import EvalDataset, EvalItem, FileImage
from helpers.bench_releases import REGIONS, RETRIEVAL_ROWS, bench_and_eval, seeing, write_release


def _image(path, colour=(200, 30, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (12, 12), colour).save(path)
    return path


def test_every_kind_is_registered():
    assert {"folder", "manifest", "shards", "globalrg_retrieval", "geode", "clip_benchmark"} <= set(list_kinds())


def test_a_new_kind_is_one_decorator(tmp_path):
    @register("test_one_image")
    def _load(spec):
        return EvalDataset("one", [EvalItem("x", FileImage(spec.path), 0)], ["a", "b"])

    data = load_dataset(DatasetSpec(kind="test_one_image", path=tmp_path, name="renamed"))
    assert data.name == "renamed" and data.supported_tasks() == ("classification", "general", "linear_probe")
    with pytest.raises(ValueError, match="already registered"):
        register("test_one_image")(_load)
    with pytest.raises(ConfigError, match="unknown dataset kind 'nope'"):
        load_dataset(DatasetSpec(kind="nope", path=tmp_path))
    DATASETS.unregister("test_one_image")


def test_folder_classes_items_and_classnames(tmp_path):
    for name in ("red_pot", "blue bowl"):
        for i in range(2):
            _image(tmp_path / "imgs" / name / f"{i}.jpg")
    (tmp_path / "imgs" / "red_pot" / "notes.txt").write_text("not an image")
    data = load_dataset(DatasetSpec(kind="folder", path=tmp_path / "imgs"))
    assert data.classes == ["blue bowl", "red pot"]
    assert [(it.id, it.label) for it in data.items] == [
        ("blue bowl/0.jpg", 0),
        ("blue bowl/1.jpg", 0),
        ("red_pot/0.jpg", 1),
        ("red_pot/1.jpg", 1),
    ]
    assert data.default_tasks() == ("classification",)
    names = tmp_path / "names.txt"
    names.write_text("bowl\npot\n")
    assert load_dataset(DatasetSpec(kind="folder", path=tmp_path / "imgs", classnames=names)).classes == ["bowl", "pot"]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("duplicate", "label set has the class 'pot' twice"),
        ("empty", "class 'c' has no images"),
        ("count", "1 class names for 2 classes"),
    ],
)
def test_folder_label_set_errors(tmp_path, setup, message):
    for name in ("a", "b"):
        _image(tmp_path / "imgs" / name / "0.png")
    names = tmp_path / "names.txt"
    names.write_text({"duplicate": "pot\npot\n", "empty": "a\nb\nc\n", "count": "a\n"}[setup])
    if setup == "empty":
        (tmp_path / "imgs" / "c").mkdir()
    with pytest.raises(DataError, match=message):
        load_dataset(DatasetSpec(kind="folder", path=tmp_path / "imgs", classnames=names))


def test_jsonl_manifest_with_captions_and_twins(tmp_path):
    _image(tmp_path / "i" / "g.png")
    _image(tmp_path / "i" / "m.png")
    rows = [
        {
            "image": "i/g.png",
            "label": "gyoza",
            "captions": ["gyoza on a plate"],
            "twin_ids": ["mandu", "pelmeni"],
            "culture": "Japan",
            "generic": "dumpling",
            "group": "dumplings",
        },
        {"image": "i/m.png", "label": "mandu", "caption": "mandu", "twin_ids": ["gyoza"], "culture": "Korea"},
    ]
    manifest = tmp_path / "set.jsonl"
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    data = load_dataset(DatasetSpec(kind="manifest", path=manifest))
    assert data.name == "set" and data.classes == ["gyoza", "mandu"]
    first, second = data.items
    assert first.image.path == tmp_path / "i" / "g.png"
    assert first.candidates == (0, 1) and second.candidates == (1, 0)  # pelmeni has no images: ignored
    assert first.captions == ("gyoza on a plate",) and second.captions == ("mandu",)
    assert (first.group, first.culture, first.generic) == ("dumplings", "Japan", "dumpling")
    assert data.default_tasks() == ("classification", "choice", "retrieval", "general")


def test_csv_manifest(tmp_path):
    manifest = tmp_path / "set.csv"
    manifest.write_text("image,label,twin_ids,caption\na.png,x,y,first; with a semicolon\nb.png,y,x,\n")
    data = load_dataset(DatasetSpec(kind="manifest", path=manifest))
    assert data.classes == ["x", "y"]
    assert data.items[0].captions == ("first; with a semicolon",) and data.items[1].captions == ()
    assert [it.candidates for it in data.items] == [(0, 1), (1, 0)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"label": "x"}\n', "set.jsonl line 1: missing field 'image'"),
        ('{"image": "a.png"}\n{oops\n', "set.jsonl line 2: not valid JSON"),
        ('{"image": "a.png", "label": "z"}\n', "label 'z' is not in"),
    ],
)
def test_manifest_errors_name_file_and_line(tmp_path, text, message):
    manifest = tmp_path / "set.jsonl"
    manifest.write_text(text)
    names = tmp_path / "names.txt"
    names.write_text("x\n")
    with pytest.raises(DataError, match=message):
        load_dataset(DatasetSpec(kind="manifest", path=manifest, classnames=names if "z" in text else None))


def test_builder_shards(tmp_path):
    rows = [
        {
            "key": f"{c}-test-0",
            "split": "test",
            "concept_id": c,
            "name": n,
            "culture": cu,
            "category": "dishes",
            "generic": "dumpling",
            "twin_group": "dumplings",
            "twin_ids": t,
            "caption": f"{n} caption",
        }
        for c, n, cu, t in [("gyoza", "gyoza", "Japan", ["mandu"]), ("mandu", "mandu", "Korea", ["gyoza"])]
    ]
    samples = [Sample(r, Image.new("RGB", (8, 8), (i * 90, 0, 0))) for i, r in enumerate(rows)]
    write_manifest(tmp_path, write_split(tmp_path, "test", samples, 10))
    data = load_dataset(DatasetSpec(kind="shards", path=tmp_path))
    assert data.classes == ["gyoza", "mandu"]
    assert [it.candidates for it in data.items] == [(0, 1), (1, 0)]
    assert data.items[1].captions == ("mandu caption",) and data.items[1].generic == "dumpling"
    assert data.items[0].image.open().size == (8, 8)


def test_embedding_shards_reads_each_image_only_when_its_batch_is_encoded(tmp_path, monkeypatch):
    from dataclasses import fields

    from cultureclip.backends.clip import create_clip
    from cultureclip.data.shards import ShardReader
    from cultureclip.eval.cache import EmbeddingCache
    from cultureclip.eval.datasets.shards import ShardImage
    from cultureclip.eval.embed import Encoder

    rows = [{"key": f"c{i % 3}-test-{i}", "split": "test", "concept_id": f"c{i % 3}", "name": f"c{i % 3}",
             "culture": "", "category": "", "generic": "", "twin_group": "g", "twin_ids": [], "caption": "x"}
            for i in range(10)]  # fmt: skip
    samples = (Sample(r, Image.new("RGB", (8, 8), (20 * i, 0, 0))) for i, r in enumerate(rows))
    write_manifest(tmp_path, write_split(tmp_path, "test", samples, 4))
    model = create_clip("config:test-clip")
    reads, encoded, marks = [0], [0], []
    read, encode = ShardReader.read, model.encode_images

    def spy_read(self, shard, offset, length):
        reads[0] += 1
        marks.append((reads[0], encoded[0]))  # images read so far, images encoded so far
        return read(self, shard, offset, length)

    def spy_encode(pixels):
        encoded[0] += len(pixels)
        return encode(pixels)

    monkeypatch.setattr(ShardReader, "read", spy_read)
    monkeypatch.setattr(model, "encode_images", spy_encode)
    data = load_dataset(DatasetSpec(kind="shards", path=tmp_path))
    assert reads == [0] and all(type(it.image) is ShardImage for it in data.items)  # only places, no bytes
    assert [f.name for f in fields(ShardImage)] == ["shard", "offset", "length", "sha256", "name"]
    encoder = Encoder(model, EmbeddingCache(None, "fingerprint"), batch_size=4, workers=0)
    first, failed = encoder.images([it.image for it in data.items])
    assert not failed and marks == [(1, 0), (2, 0), (3, 0), (4, 0), (5, 4), (6, 4), (7, 4), (8, 4), (9, 8), (10, 8)]
    again, _ = encoder.images([it.image for it in data.items])
    assert reads == [10] and encoded == [10] and torch.equal(first, again)  # warm: no image read at all


def test_globalrg_retrieval_scores_the_questions_of_bench(tmp_path):
    """The evaluator kind asks exactly `cultureclip bench globalrg_retrieval`'s questions: same rows,
    options in the same (shuffled) order, same answers, and the same predictions with the same model."""
    rows = [{"image": seeing(REGIONS, s), "region": r, "universal": u} for u, r, s in RETRIEVAL_ROWS]
    root = write_release(tmp_path / "grr", rows)
    data = load_dataset(DatasetSpec(kind="globalrg_retrieval", path=root))
    lines, preds = bench_and_eval(tmp_path, "globalrg_retrieval", root)
    assert len(lines) == 9  # drinks is in 3 regions only: left out
    assert data.default_tasks() == ("choice",) and data.templates == ["{c}"]
    assert [it.id for it in data.items] == [f"{x['row']:05d}-image-0" for x in lines]
    assert [[data.classes[c] for c in it.candidates] for it in data.items] == [x["options"] for x in lines]
    assert [data.classes[it.label] for it in data.items] == [x["options"][x["correct"]] for x in lines]
    assert any(it.label != it.candidates[0] for it in data.items)  # the options are shuffled, as bench does
    assert [(it.group, it.culture) for it in data.items] == [(x["universal"], x["region"]) for x in lines]
    assert data.items[3].image.open().getpixel((0, 0))[0] == 10 * REGIONS.index("japan") + 5  # food/peru row
    assert preds == [x["options"][x["predicted"]] for x in lines]


def test_globalrg_retrieval_bad_release(tmp_path):
    def release(name, rows):
        return write_release(tmp_path / name, rows, files=1)

    image = seeing(REGIONS, "japan")
    no_universal = release("a", [{"image": image, "region": "japan"}])
    with pytest.raises(
        DataError, match=r"test-00000-of-00001-abc0.parquet: no column 'universal' \(has image, region\)"
    ):
        load_dataset(DatasetSpec(kind="globalrg_retrieval", path=no_universal))
    three_regions = release("b", [{"image": image, "region": r, "universal": "food"} for r in REGIONS[:3]])
    with pytest.raises(DataError, match="no globalrg_retrieval questions"):
        load_dataset(DatasetSpec(kind="globalrg_retrieval", path=three_regions))
    rows = [
        {"image": {"bytes": None, "path": None} if r == "peru" else image, "region": r, "universal": "food"}
        for r in REGIONS[:4]
    ]
    with pytest.raises(DataError, match=r"row 2: column 'image': image 0 has no bytes and no path"):
        load_dataset(DatasetSpec(kind="globalrg_retrieval", path=release("c", rows)))
    rows[2]["image"] = {"bytes": None, "path": "peru.png"}  # a file beside the Parquet file
    data = load_dataset(DatasetSpec(kind="globalrg_retrieval", path=release("d", rows)))
    assert data.items[2].image.path == tmp_path / "d" / "data" / "peru.png"
    with pytest.raises(DataError, match="no such benchmark folder"):
        load_dataset(DatasetSpec(kind="globalrg_retrieval", path=tmp_path / "none"))


def test_geode_index(tmp_path):
    _image(tmp_path / "images" / "bag" / "1.jpg")
    _image(tmp_path / "images" / "stove" / "2.jpg")
    (tmp_path / "index.csv").write_text(
        "file_path,object,region,ip_country\nbag/1.jpg,bag,Africa,Nigeria\nstove/2.jpg,cooking_stove,EastAsia,Japan\n"
    )
    data = load_dataset(DatasetSpec(kind="geode", path=tmp_path))
    assert data.classes == ["bag", "cooking stove"]
    assert [(it.label, it.culture) for it in data.items] == [(0, "Africa"), (1, "EastAsia")]
    assert data.items[1].image.path == tmp_path / "images" / "stove" / "2.jpg"
    (tmp_path / "index.csv").write_text("file_path,region\n")
    with pytest.raises(DataError, match="missing field 'object'"):
        load_dataset(DatasetSpec(kind="geode", path=tmp_path))


def _write_idx(path, magic, dims, data):
    path.write_bytes(struct.pack(">" + "I" * (1 + len(dims)), magic, *dims) + bytes(data))


def test_clip_benchmark_name_from_local_files(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, n in (("train", 2), ("t10k", 3)):
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", 2051, (n, 4, 4), [(k * 7) % 256 for k in range(n * 16)])
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", 2049, (n,), [k % 10 for k in range(n)])
    data = load_dataset(DatasetSpec(kind="clip_benchmark", dataset="mnist", path=tmp_path))
    assert data.name == "mnist" and len(data.classes) == 10 and [it.label for it in data.items] == [0, 1, 2]
    assert data.templates == ['a photo of the number: "{c}".']  # CLIP_benchmark's own prompt for mnist
    assert data.items[2].image.open().size == (4, 4)
    assert data.items[0].image.digest() != data.items[1].image.digest()
    with pytest.raises(DataError, match="no local copy of CLIP_benchmark dataset 'mnist'"):
        load_dataset(DatasetSpec(kind="clip_benchmark", dataset="mnist", path=tmp_path / "elsewhere"))
    with pytest.raises(ConfigError, match="needs `dataset`"):
        load_dataset(DatasetSpec(kind="clip_benchmark", path=tmp_path))


def test_spec_sample_and_generic_templates(tmp_path):
    for name in ("a", "b", "c", "d", "e"):
        _image(tmp_path / "imgs" / name / "0.png")
    spec = {"kind": "folder", "path": tmp_path / "imgs", "generic_templates": ["a {c}"]}
    data = load_dataset(DatasetSpec(**spec, sample=3, seed=1))
    assert [it.label for it in data.items] == [1, 2, 3]  # sorted(default_rng(1).choice(5, 3, replace=False))
    assert data.classes == ["a", "b", "c", "d", "e"] and data.generic_templates == ["a {c}"]
    assert len(load_dataset(DatasetSpec(**spec, sample=9)).items) == 5
    with pytest.raises(ConfigError, match="dataset kind folder: needs a path"):
        load_dataset(DatasetSpec(kind="folder"))
