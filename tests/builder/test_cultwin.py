import json
import re

import numpy as np
import pytest

from cultureclip.builder.recipes.cultwin import import_cultwin
from cultureclip.cli import main
from cultureclip.data.shards import LOCATION, read_manifest, read_split
from cultureclip.errors import DataError


def test_import_converts_rows_and_images_exactly(release, tmp_path):
    out = import_cultwin({"train": release / "train.jsonl", "test": release / "valid.json"}, tmp_path / "ds")
    rows = read_manifest(out)
    assert [(r["key"], r["split"], r["concept_id"], r["twin_group"], r["twin_ids"]) for r in rows] == [
        ("id-000000-pos-0000", "train", "erhu", "id_000000", ["guzheng"]),
        ("id-000000-neg-0000", "train", "guzheng", "id_000000", ["erhu"]),
        ("id-000000-neg-0001", "train", "guzheng", "id_000000", ["erhu"]),
        ("id-000001-pos-0000", "test", "xiaolongbao", "id_000001", ["gyoza"]),
        ("id-000001-neg-0000", "test", "gyoza", "id_000001", ["xiaolongbao"]),
    ]
    assert {k: v for k, v in rows[2].items() if k not in LOCATION} == {
        "key": "id-000000-neg-0001",
        "split": "train",
        "concept_id": "guzheng",
        "name": "Guzheng",
        "culture": "",
        "category": "Art",
        "generic": "art",
        "twin_group": "id_000000",
        "twin_ids": ["erhu"],
        "caption": "A Guzheng in a hall, caption 1.",
        "generic_caption": "a photo of art.",
        "context": "context of Guzheng",
        "features": "",
        "release_row": "train.jsonl:1",
        "source": "release",
        "status": "kept",
        "reason": None,
    }
    assert rows[2]["shard"] == "train-00000.tar"
    assert rows[3]["features"] == "features of Xiaolongbao" and rows[3]["generic"] == "cuisine"
    train = read_split(out, "train")
    assert [np.asarray(s.image)[0, 0, 0] for s in train] == [1, 41, 81]  # e0, g0, g1
    assert train[0].image.size == (5, 6)
    assert [np.asarray(s.image)[0, 0, 0] for s in read_split(out, "test")] == [121, 161]
    assert (out / ".done").is_file()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: r.pop("neg_caption"), r"train.jsonl: row 1: field 'neg_caption' is missing"),
        (lambda r: r.update(pos_concept=""), r"train.jsonl: row 1: field 'pos_concept' is not a non-empty string"),
        (lambda r: r.update(neg_image_path="images/none.png"), r"row 1: field 'neg_image_path': no such image"),
    ],
)
def test_malformed_rows_name_file_row_and_field(release, tmp_path, edit, message):
    rows = [json.loads(line) for line in (release / "train.jsonl").read_text().splitlines()]
    edit(rows[1])
    (release / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError, match=message):
        import_cultwin({"train": release / "train.jsonl"}, tmp_path / "ds")
    assert not (tmp_path / "ds").exists()


def test_unreadable_image_and_bad_json(release, tmp_path):
    (release / "images" / "g1.png").write_text("not a png")
    with pytest.raises(DataError, match=r"row 1: field 'neg_image_path': .*g1.png is not a readable image"):
        import_cultwin({"train": release / "train.jsonl"}, tmp_path / "ds")
    (release / "bad.json").write_text("{")
    with pytest.raises(DataError, match=r"bad.json: not valid JSON \(line 1\)"):
        import_cultwin({"train": release / "bad.json"}, tmp_path / "ds")


def test_cli_import(release, tmp_path, capsys):
    out = tmp_path / "ds"
    argv = ["import", "cultwin", str(release / "train.jsonl"), "--test", str(release / "valid.json"), "--out", str(out)]
    assert main(argv) == 0
    assert len(read_manifest(out)) == 5
    assert main(["import", "cultwin", str(release / "nope.jsonl"), "--out", str(tmp_path / "x")]) == 2
    assert "nope.jsonl: no such CulTwin file" in capsys.readouterr().err


def test_imported_release_trains_in_one_command(release, tmp_path):
    run = tmp_path / "run"
    assert main(["import", "cultwin", str(release / "train.jsonl"), "--out", str(run / "data")]) == 0
    argv = ["train", "--config", "tiny", "--out", str(run), "pretrain=null", "finetune.steps=2", "ablations={}"]
    assert main(argv) == 0
    log = (run / "models" / "tuned" / "train_log.jsonl").read_text().splitlines()
    assert len(log) == 2 and {"caption", "concept"} <= set(json.loads(log[0]))


def test_authors_absolute_paths_resolve_under_an_images_folder(release, tmp_path):
    rows = [json.loads(line) for line in (release / "train.jsonl").read_text().splitlines()]
    for row in rows:  # paths as on the authors' machine
        for side in ("pos", "neg"):
            row[f"{side}_image_path"] = "/data/yuchen/cultwin/" + row[f"{side}_image_path"]
    (release / "moved.json").write_text("\n".join(json.dumps(r) for r in rows))  # JSON lines in a .json file
    outside = r"moved.json: row 0: field 'pos_image_path': image '/data/yuchen/.*' is outside the release's folder"
    with pytest.raises(DataError, match=outside + r" .*; pass --images FOLDER"):
        import_cultwin({"train": release / "moved.json"}, tmp_path / "ds")
    out = import_cultwin({"train": release / "moved.json"}, tmp_path / "ds", images=release, max_side=3, shard_size=2)
    assert sorted(p.name for p in out.glob("*.tar")) == ["train-00000.tar", "train-00001.tar"]
    assert [r["shard"] for r in read_manifest(out)] == ["train-00000.tar"] * 2 + ["train-00001.tar"]
    back = read_split(out, "train")
    assert [s.row["key"] for s in back] == ["id-000000-pos-0000", "id-000000-neg-0000", "id-000000-neg-0001"]
    assert [np.asarray(s.image)[0, 0, 0] for s in back] == [1, 41, 81] and max(back[0].image.size) == 3


def test_images_are_loaded_one_at_a_time_as_their_shard_is_written(release, tmp_path, monkeypatch):
    from cultureclip.data import cultwin, shards

    loaded, shard_writes = [], []
    load, write_shard = cultwin.load, shards._write_shard

    def spy_load(member, max_side):
        loaded.append(member)
        return load(member, max_side)

    def spy_write_shard(path, samples, images):
        shard_writes.append((path.name, len(loaded), len(samples)))  # images loaded so far, images in this shard
        return write_shard(path, samples, images)

    monkeypatch.setattr(cultwin, "load", spy_load)
    monkeypatch.setattr(shards, "_write_shard", spy_write_shard)
    import_cultwin({"train": release / "train.jsonl", "test": release / "valid.json"}, tmp_path / "ds", shard_size=2)
    assert shard_writes == [("train-00000.tar", 2, 2), ("train-00001.tar", 3, 1), ("test-00000.tar", 5, 2)]


RENDER = ["build.image_size=32", "build.images={steps: 1, guidance_scale: 0}", "executor.chunk_rows=2"]


def _caption_pairs(release):
    """The caption-pairing output: the release's layout without image paths (the images were never published)."""
    for name in ("train.jsonl", "valid.json"):
        text = (release / name).read_text()
        rows = json.loads(text) if name.endswith(".json") else [json.loads(line) for line in text.splitlines()]
        for row in rows:
            del row["pos_image_path"], row["neg_image_path"]
        lines = "".join(json.dumps(r) + "\n" for r in rows)
        (release / name).write_text(json.dumps(rows) if name.endswith(".json") else lines)


def test_a_release_without_images_is_rendered_resumably_once_per_image(release, tmp_path, monkeypatch):
    from cultureclip.builder.stages.images import ImageStage

    _caption_pairs(release)
    rendered, killed, process = [], [], ImageStage.process

    def counted(self, rows):
        if len(rendered) == 2 and not killed:
            killed.append(True)
            raise KeyboardInterrupt  # killed once, after the first saved chunk
        rendered.extend(r["key"] for r in rows)
        return process(self, rows)

    monkeypatch.setattr(ImageStage, "process", counted)
    files = [str(release / "train.jsonl"), "--test", str(release / "valid.json")]
    argv = ["import", "cultwin", *files, "--out", str(tmp_path / "ds"), "--render", "tiny:sd", *RENDER]
    assert main(argv) == 130 and not (tmp_path / "ds").exists()
    assert main(argv) == 0
    # pos caption 0, neg captions 0 and 1 of the train pair; pos and neg of the test pair: each rendered once
    assert sorted(rendered) == [
        "test/id-000001-neg-0000",
        "test/id-000001-pos-0000",
        "train/id-000000-neg-0000",
        "train/id-000000-neg-0001",
        "train/id-000000-pos-0000",
    ]
    rows = read_manifest(tmp_path / "ds")
    assert {r["source"] for r in rows} == {"rendered"} and len(rows) == 5
    assert not (tmp_path / "ds.work").exists()
    again = tmp_path / "again"  # the same rows give the same images
    assert main([*argv[: -len(RENDER) - 4], "--out", str(again), "--render", "tiny:sd", *RENDER]) == 0
    first, second = read_split(tmp_path / "ds", "train"), read_split(again, "train")
    assert [np.asarray(s.image).tolist() for s in first] == [np.asarray(s.image).tolist() for s in second]
    assert first[0].image.size == (32, 32) and np.asarray(first[0].image).std() > 0


def test_only_missing_images_are_rendered_and_the_result_trains(release, tmp_path):
    (release / "images" / "g1.png").unlink()
    run = tmp_path / "run"
    argv = ["import", "cultwin", str(release / "train.jsonl"), "--out", str(run / "data"), "--render", "tiny:sd"]
    assert main([*argv, *RENDER]) == 0
    rows = read_manifest(run / "data")
    assert [r["source"] for r in rows] == ["release", "release", "rendered"]
    train = ["train", "--config", "tiny", "--out", str(run), "pretrain=null", "finetune.steps=2", "ablations={}"]
    assert main(train) == 0 and (run / "models" / "tuned" / ".done").is_file()


def test_the_judge_keeps_the_images_that_pass_and_records_why_the_others_are_out(release, tmp_path):
    from helpers.chat_server import ChatServer

    def judge(prompt, attempt):
        caption = re.search(r'caption "(.+?)"\. It should show', prompt)[1]
        scores = (1, 5, 5) if "Guzheng" in caption and "caption 1" in caption else (4, 4, 4)
        keys = ("authenticity", "consistency", "cultural_fidelity")
        return 200, json.dumps({k: {"score": s, "reason": f"{k} is {s}"} for k, s in zip(keys, scores, strict=True)}), 0

    with ChatServer(judge) as server:
        model = ["name=openai:vlm", f"base_url={server.url}", "backoff_s=0.01"]
        argv = [
            "import",
            "cultwin",
            str(release / "train.jsonl"),
            "--out",
            str(tmp_path / "ds"),
            "--judge",
            "openai:vlm",
        ]
        assert main([*argv, *[f"judge.model.{m}" for m in model]]) == 0
        asked = len(server.attempts)
    rows = read_manifest(tmp_path / "ds")
    assert [(r["key"], r["status"], r["shard"] is not None) for r in rows] == [
        ("id-000000-pos-0000", "kept", True),
        ("id-000000-neg-0000", "kept", True),
        ("id-000000-neg-0001", "rejected", False),
    ]
    assert rows[2]["reason"] == "judge: authenticity 1, consistency 5, cultural_fidelity 5 (mean 3.67)"
    assert rows[0]["authenticity"] == 4 and rows[0]["authenticity_reason"] == "authenticity is 4"
    assert asked == 3 and len(read_split(tmp_path / "ds", "train")) == 2


def test_culture_is_the_members_country_where_the_release_gives_one(release, tmp_path):
    rows = [json.loads(line) for line in (release / "train.jsonl").read_text().splitlines()]
    rows[0] |= {"pos_country": "China"}
    rows[0]["metadata"]["neg_country"] = "China "
    (release / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = import_cultwin({"train": release / "train.jsonl"}, tmp_path / "ds")
    assert [(r["name"], r["culture"]) for r in read_manifest(out)] == [
        ("Erhu", "China"), ("Guzheng", "China"), ("Guzheng", "")
    ]  # fmt: skip
