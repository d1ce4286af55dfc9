"""Benchmarks by name: CVQA (English and local language) and Dollar Street on small releases written here in
their published layouts, GeoDE through `bench`, and the hub's copy read from the Hugging Face cache (no
download: a cache written by the test, or none and the one-line error)."""

import json

import huggingface_hub.constants
import pytest

from cultureclip.cli import main
from cultureclip.config import DatasetSpec
from cultureclip.errors import DataError
from cultureclip.eval.datasets import load_dataset
from helpers.bench_releases import JAPAN, NAMES, FakeClip, cvqa_rows, dollar_street, evaluate, seeing, write_release


def test_cvqa_asks_question_and_option_texts_in_english_and_in_the_local_language(tmp_path):
    root = write_release(tmp_path / "cvqa", cvqa_rows())
    data = load_dataset(DatasetSpec(kind="cvqa", path=root))
    assert [data.classes[c] for c in data.items[0].candidates] == [
        "What food is this? ramen",
        "What food is this? sushi",
    ]
    assert [(it.id, it.group, it.culture) for it in data.items] == [
        ("00000-image-0", JAPAN, "Japan"),
        ("00001-image-0", JAPAN, "Japan"),
    ]
    model = FakeClip(NAMES)
    english = evaluate("cvqa", root, model, out=tmp_path / "en")
    local = evaluate("cvqa_local", root, model, out=tmp_path / "local")
    assert (english["questions"], english["correct"], local["questions"], local["correct"]) == (2, 1, 2, 1)
    lines = {
        k: [json.loads(x) for x in (tmp_path / k / "results.jsonl").read_text().splitlines()] for k in ("en", "local")
    }
    # English texts: the image that sees "sushi" picks it; the one that sees "susi" matches no text (a tie: the first)
    assert [x["predicted"] for x in lines["en"]] == [1, 0]
    assert [x["predicted"] for x in lines["local"]] == [0, 1]
    assert (
        lines["local"][1]["options"] == ["これは何? raamen", "これは何? susi"]
        and lines["local"][1]["region"] == "Japan"
    )


def test_dollar_street_classifies_by_topic_with_the_country_as_culture(tmp_path):
    root = dollar_street(tmp_path / "ds")
    data = load_dataset(DatasetSpec(kind="dollar_street", path=root))
    assert data.classes == ["ramen", "sushi", "tacos"] and data.default_tasks() == ("classification",)
    assert [(it.id, data.classes[it.label], it.culture) for it in data.items] == [
        ("assets/a1.png", "sushi", "Japan"),
        ("assets/a2.png", "ramen", "Japan"),
        ("assets/a3.png", "tacos", "Mexico"),
    ]
    summary = evaluate("dollar_street", root, FakeClip(NAMES), out=tmp_path / "b")
    assert (summary["questions"], summary["correct"]) == (3, 2)  # the tacos image shows sushi
    lines = [json.loads(x) for x in (tmp_path / "b" / "results.jsonl").read_text().splitlines()]
    assert lines[2] == {"id": "assets/a3.png", "label": "tacos", "pred": "sushi", "culture": "Mexico", "hit": False}


def test_dollar_street_prefers_the_imagenet_test_index_and_names_a_bad_topics_cell(tmp_path):
    root = dollar_street(tmp_path / "ds", index="images_v2_imagenet_test.csv")
    (root / "images_v2.csv").write_text("unrelated\n")
    assert len(load_dataset(DatasetSpec(kind="dollar_street", path=root)).items) == 3
    (root / "images_v2_imagenet_test.csv").write_text(
        "id,country.name,imageRelPath,topics\na,Japan,assets/a1.png,\"['x'\"\n"
    )
    with pytest.raises(
        DataError, match=r"images_v2_imagenet_test.csv: line 2: topics \"\['x'\" is not a list of names"
    ):
        load_dataset(DatasetSpec(kind="dollar_street", path=root))


def test_geode_runs_as_a_benchmark(tmp_path):
    (tmp_path / "geode" / "images").mkdir(parents=True)
    lines = ["file_path,object,region"]
    for k, (obj, seen) in enumerate([("sushi", "sushi"), ("ramen", "sushi"), ("tacos", "tacos")]):
        seeing(NAMES, seen).save(tmp_path / "geode" / "images" / f"{k}.png")
        lines.append(f"{k}.png,{obj},Asia")
    (tmp_path / "geode" / "index.csv").write_text("\n".join(lines) + "\n")
    summary = evaluate("geode", tmp_path / "geode", FakeClip(NAMES))
    assert (summary["benchmark"], summary["questions"], summary["correct"]) == ("geode", 3, 2)


def test_without_root_the_hub_copy_is_read_from_the_cache(tmp_path, monkeypatch):
    """The layout huggingface_hub's cache gives a snapshot: refs/main names the commit of snapshots/<commit>/."""
    repo = tmp_path / "hub" / "datasets--afaji--cvqa"
    write_release(repo / "snapshots" / "c0ffee", cvqa_rows())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("c0ffee")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    summary = evaluate("cvqa", None, FakeClip(NAMES))
    assert (summary["questions"], summary["correct"]) == (2, 1)


def test_without_root_offline_and_not_cached_is_one_line_naming_the_dataset_and_root(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    assert main(["bench", "cvqa", "--model", "config:test-clip"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "dataset afaji/cvqa is not in the Hugging Face cache" in err
    assert "(offline: HF_HUB_OFFLINE is set)" in err and "and pass --root DIR" in err
    assert main(["bench", "geode", "--model", "config:test-clip"]) == 2
    assert "benchmark geode is not on the hub: download it from https://" in capsys.readouterr().err
