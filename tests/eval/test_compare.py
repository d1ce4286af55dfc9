"""The embedding cache and `cultureclip compare` end to end on two tiny models."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from cultureclip.backends.clip import create_clip
from cultureclip.cli import main
from cultureclip.config import load_config
from cultureclip.eval.cache import EmbeddingCache, model_fingerprint
from cultureclip.eval.datasets.base import FileImage
from cultureclip.eval.embed import Encoder
from cultureclip.eval.stats import paired_bootstrap

COLOURS = {"red_pot": (200, 30, 30), "blue_bowl": (30, 30, 200), "green_cup": (30, 200, 30)}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Two tiny models, an image folder with one broken file, and a manifest with captions and twins."""
    root = tmp_path_factory.mktemp("eval")
    for seed, name in ((0, "base"), (1, "tuned")):
        torch.manual_seed(seed)
        create_clip("config:test-clip").save(root / name)
    rows = []
    for label, colour in COLOURS.items():
        for i in range(3):
            path = root / "imgs" / label / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (24, 24), tuple(min(255, c + 20 * i) for c in colour)).save(path)
            twins = [t for t in COLOURS if t != label]
            rows.append(
                {
                    "image": f"imgs/{label}/{i}.png",
                    "label": label,
                    "caption": f"a {label} number {i}",
                    "twin_ids": twins,
                    "culture": label.split("_")[0],
                    "category": "ware",
                    "group": "ware",
                }
            )
    (root / "imgs" / "red_pot" / "broken.png").write_bytes(b"not a png")
    (root / "set.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def _argv(world, out, *extra, command="compare"):
    return [
        command,
        "--out",
        str(out),
        "--models",
        f"base=local:{world / 'base'},tuned=local:{world / 'tuned'}",
        "--data",
        f"folder:{world / 'imgs'}",
        "--data",
        f"manifest:{world / 'set.jsonl'}",
        f"eval.cache_dir={world / 'cache'}",
        "eval.workers=0",
        "eval.bootstrap=200",
        *extra,
    ]


@pytest.fixture(scope="module")
def first_run(world):
    out = world / "out1"
    assert main(_argv(world, out)) == 0
    return out


def test_metrics_results_predictions_and_reports(first_run):
    metrics = json.loads((first_run / "metrics.json").read_text())
    assert list(metrics["models"]) == ["base", "tuned"] and metrics["reference"] == "base"
    # the manifest lists the folder's images again: same content, so they come from the cache
    assert metrics["models"]["base"]["encoded"] == {"images": 9, "texts": 3 + 3 + 9}
    assert metrics["datasets"]["imgs"] == {
        "kind": "folder",
        "path": str(first_run.parent / "imgs"),
        "items": 10,
        "skipped_at_load": 0,
        "unreadable": 1,
    }
    tasks = {d: set(t) for d, t in metrics["results"]["tuned"].items()}
    assert tasks == {"imgs": {"classification"}, "set": {"classification", "choice", "retrieval"}}
    twin = metrics["results"]["tuned"]["set"]["choice"]
    assert twin["n"] == 9 and set(twin["per_culture"]) == {"red", "blue", "green"}
    delta = metrics["deltas"]["tuned"]["set"]["choice"]["twin_acc"]
    base_acc = metrics["results"]["base"]["set"]["choice"]["twin_acc"]
    assert delta["delta"] == pytest.approx(twin["twin_acc"] - base_acc) and delta["n"] == 9
    assert delta["ci95"][0] <= delta["delta"] <= delta["ci95"][1]
    lines = [json.loads(x) for x in (first_run / "results.jsonl").read_text().splitlines()]
    assert len(lines) == 2 * 4 and {x["task"] for x in lines} == {"classification", "choice", "retrieval"}
    records = (first_run / "predictions" / "tuned" / "set" / "choice.jsonl").read_text().splitlines()
    assert len(records) == 9 and {"id", "label", "pred", "twin_acc"} <= set(json.loads(records[0]))
    report = (first_run / "report.md").read_text()
    for text in ("## set: choice", "| twin_acc |", "Δ tuned (95% CI)", "skipped `", "broken.png", "Most confused"):
        assert text in report, text
    assert (first_run / "plots" / "set-choice-per_culture.png").is_file()
    assert (first_run / "plots" / "set-twin-confusion.png").is_file()
    html = (first_run / "report.html").read_text()
    assert "<table>" in html and 'src="plots/' not in html and html.count("data:image/png;base64,") >= 3


def test_second_evaluation_encodes_nothing_and_agrees(world, first_run):
    out = world / "out2"
    assert main(_argv(world, out)) == 0
    first, second = (json.loads((o / "metrics.json").read_text()) for o in (first_run, out))
    assert all(m["encoded"] == {"images": 0, "texts": 0} for m in second["models"].values())
    assert second["results"] == first["results"] and second["deltas"] == first["deltas"]


def test_cache_is_keyed_by_model_and_content(world, tmp_path):
    base = create_clip(f"local:{world / 'base'}")
    again = create_clip(f"local:{world / 'base'}")
    other = create_clip(f"local:{world / 'tuned'}")
    assert model_fingerprint(base) == model_fingerprint(again) != model_fingerprint(other)
    refs = [
        FileImage(world / "imgs" / "red_pot" / "0.png"),
        FileImage(world / "imgs" / "red_pot" / "broken.png"),
        FileImage(world / "nowhere.png"),
    ]
    encoder = Encoder(base, EmbeddingCache(tmp_path, model_fingerprint(base)), batch_size=2, workers=1)
    features, failed = encoder.images(refs)
    assert set(failed) == {1, 2} and "UnidentifiedImageError" in failed[1] and "FileNotFoundError" in failed[2]
    with torch.inference_mode():
        direct = base.encode_images(base.images_to_tensor([Image.open(refs[0].path)]))
    assert torch.allclose(features[0], direct[0], atol=1e-6) and not features[1].any()
    reloaded = Encoder(base, EmbeddingCache(tmp_path, model_fingerprint(base)), batch_size=2, workers=0)
    assert torch.equal(reloaded.images(refs[:1])[0], features[:1]) and reloaded.encoded["images"] == 0
    assert len(EmbeddingCache(tmp_path, model_fingerprint(other))) == 0


def test_the_cache_writes_one_chunk_per_flush_and_reads_it_back_memory_mapped(tmp_path, monkeypatch):
    """Vectors are held until FLUSH_ROWS (or a flush), then written as one chunk of sorted key digests and
    rows; a reopened cache finds each vector without loading any, and misses what it never got."""
    monkeypatch.setattr(EmbeddingCache, "FLUSH_ROWS", 4)
    cache = EmbeddingCache(tmp_path, "model")
    vectors = torch.arange(30, dtype=torch.float32).reshape(10, 3)
    cache.put([f"k{i}" for i in range(3)], vectors[:3])
    assert not list(tmp_path.rglob("*.npy"))  # held, not written
    cache.put([f"k{i}" for i in range(3, 6)], vectors[3:6])  # 6 >= 4: one chunk of 6
    cache.put(["k6"], vectors[6:7])
    cache.flush()  # and one of 1
    assert len(list((tmp_path / "model").glob("*.keys.npy"))) == 2
    reopened = EmbeddingCache(tmp_path, "model")
    assert all(isinstance(vectors, np.memmap) for _, vectors in reopened._chunks) and len(reopened) == 7
    found = reopened.get(["k6", "nope", "k0", "k5"])
    assert sorted(found) == [0, 2, 3]
    assert [found[i].tolist() for i in (0, 2, 3)] == [[18, 19, 20], [0, 1, 2], [15, 16, 17]]


def test_an_image_file_is_keyed_by_place_size_and_mtime_without_being_read(tmp_path, monkeypatch):
    import os

    path = tmp_path / "a.png"
    Image.new("RGB", (4, 4)).save(path)
    os.utime(path, ns=(1, 1_000))
    key = FileImage(path).digest()
    Image.new("RGB", (4, 4)).save(tmp_path / "b.png")
    os.utime(tmp_path / "b.png", ns=(1, 1_000))  # same bytes and mtime, another place
    monkeypatch.setattr("builtins.open", lambda *a, **k: pytest.fail("read the image to key it"))
    assert FileImage(path).digest() == key and key.startswith("f:") and FileImage(tmp_path / "b.png").digest() != key
    os.utime(path, ns=(1, 2_000))
    assert FileImage(path).digest() != key
    monkeypatch.undo()
    os.utime(path, ns=(1, 1_000))
    assert FileImage(path).digest() == key
    path.write_bytes(path.read_bytes() + b"\0")  # rewritten: another size, the same mtime
    os.utime(path, ns=(1, 1_000))
    assert FileImage(path).digest() != key


def test_paired_bootstrap_golden():
    assert paired_bootstrap([1, 0, 1, 0], [1, 0, 1, 0], 100, 0) == {"delta": 0.0, "ci95": [0.0, 0.0]}
    assert paired_bootstrap([0, 0, 0], [1, 1, 1], 100, 0) == {"delta": 1.0, "ci95": [1.0, 1.0]}
    assert paired_bootstrap([0, 1], [1, 1], 0, 0) == {"delta": 0.5, "ci95": None}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--models", "base"], "--models 'base': expected name=MODEL_ID"),
        (["--models", "a=local:/no/such/model"], "model a: model id local:/no/such/model: no such folder"),
        (["--data", "nokind:/x"], "unknown dataset kind 'nokind'"),
        (["--data", "folder"], "expected KIND:PATH"),
        (["eval.datasets=[{kind: folder, path: IMGS, name: b, tasks: [retrieval]}]"], "task 'retrieval' needs fields"),
        (["--data", "folder:IMGS"], "two datasets are named 'imgs'"),
    ],
)
def test_bad_input_is_one_line(world, tmp_path, capsys, extra, message):
    argv = [
        "compare",
        "--out",
        str(tmp_path),
        "--models",
        f"a=local:{world / 'base'}",
        "eval.workers=0",
        f"eval.cache_dir={tmp_path / 'c'}",
        "--data",
        f"folder:{world / 'imgs'}",
    ]
    argv += [x.replace("IMGS", str(world / "imgs")) for x in extra]
    assert main(argv) == 2
    assert message in capsys.readouterr().err.replace("\n", "")


def test_a_model_that_cannot_load_names_path_and_reason(world, tmp_path, capsys):
    broken = tmp_path / "broken_model"
    broken.mkdir()
    (broken / "open_clip_config.json").write_text("{not json")
    argv = [
        "compare",
        "--out",
        str(tmp_path / "o"),
        "--models",
        f"a=local:{broken}",
        "--data",
        f"folder:{world / 'imgs'}",
        "eval.workers=0",
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err.replace("\n", "")
    assert f"model a: {broken}: cannot load model" in err


def test_compare_refuses_a_folder_it_did_not_write_and_leaves_it_as_it_was(world, tmp_path, capsys):
    run = tmp_path / "run"
    (run / "data").mkdir(parents=True)
    (run / "data" / ".done").write_text("build")
    (run / "metrics.json").write_text("{}")
    assert main(_argv(world, run)) == 2
    err = capsys.readouterr().err.replace("\n", "")
    assert f"error: {run}: not empty and not written by `cultureclip compare`; choose a new --out" in err
    assert sorted(p.name for p in run.iterdir()) == ["data", "metrics.json"]
    assert (run / "metrics.json").read_text() == "{}"


def test_compare_replaces_its_own_comparison_whole_and_saves_its_config(world, first_run, tmp_path):
    out = tmp_path / "cmp"
    assert main(_argv(world, out)) == 0
    assert (out / ".done").read_text() == "compare" and not list(tmp_path.glob(".cmp.tmp-*"))
    (out / "stray.txt").write_text("from the first comparison")
    argv = _argv(world, out)
    argv[argv.index("--models") + 1] = f"tuned=local:{world / 'tuned'}"
    assert main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["models"]) == ["tuned"] and not (out / "stray.txt").exists()
    assert metrics["results"]["tuned"] == json.loads((first_run / "metrics.json").read_text())["results"]["tuned"]
    saved = load_config(out / "config.yaml")
    assert saved.eval.models == {"tuned": f"local:{world / 'tuned'}"}
    assert [d.kind for d in saved.eval.datasets] == ["folder", "manifest"]


def test_eval_with_models_is_the_deprecated_spelling_of_compare(world, first_run, tmp_path, capsys):
    out = tmp_path / "old"
    assert main(_argv(world, out, command="eval")) == 0
    err = capsys.readouterr().err.replace("\n", "")
    assert "warning: `cultureclip eval --models/--data` (or eval.models) is deprecated" in err
    assert (out / ".done").read_text() == "compare"
    assert (
        json.loads((out / "metrics.json").read_text())["results"]
        == json.loads((first_run / "metrics.json").read_text())["results"]
    )


def test_eval_with_models_in_the_config_is_compare_too(world, first_run, tmp_path, capsys):
    models = json.dumps({"tuned": f"local:{world / 'tuned'}"})
    datasets = json.dumps([{"kind": "manifest", "path": str(world / "set.jsonl")}])
    argv = ["eval", "--out", str(tmp_path / "cfg"), f"eval.models={models}", f"eval.datasets={datasets}"]
    assert main([*argv, f"eval.cache_dir={world / 'cache'}", "eval.workers=0"]) == 0
    assert "deprecated" in capsys.readouterr().err
    metrics = json.loads((tmp_path / "cfg" / "metrics.json").read_text())
    assert (
        metrics["results"]["tuned"]["set"]
        == json.loads((first_run / "metrics.json").read_text())["results"]["tuned"]["set"]
    )
