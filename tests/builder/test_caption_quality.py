"""Caption-quality scores: detail coverage on hand-set text, and `cultureclip score-captions` on a built and
an imported dataset (a saved tiny judge CLIP, a scripted chat server as the rubric model): the scores go
beside the dataset (`scores.parquet`), its manifest stays byte for byte, so a run's models stay valid."""

import hashlib
import io
import json
import shutil

import pytest
import torch
from PIL import Image

from cultureclip.backends.clip import create_clip
from cultureclip.builder.recipes.caption_scores import score_dataset
from cultureclip.builder.recipes.cultwin import import_cultwin
from cultureclip.builder.stages.caption_rubric import RubricStage
from cultureclip.builder.stages.caption_scores import CLIPSCORE_W, detail_coverage
from cultureclip.cli import main
from cultureclip.config import ChatModelConfig, load_config
from cultureclip.data.finished import scored_rows
from cultureclip.data.shards import ShardReader, image_member, read_manifest
from cultureclip.data.tables import read_table
from helpers.builds import build, config, kill_at_the_third_chunk
from helpers.chat_server import ChatServer

GRADES = {"accuracy": 5, "visual_detail": 3, "cultural_context": 4, "no_invented_facts": 4}
RUBRIC = json.dumps({c: {"score": s, "reason": f"{c} reason"} for c, s in GRADES.items()})


def rubric_model(prompt: str, attempt: int) -> tuple[int, str, float]:
    """A first ask gets a reply that does not parse; the re-ask (with the reason) gets the rubric."""
    return 200, (RUBRIC if "previous reply was rejected" in prompt else "I think it is fine."), 0.0


def test_detail_coverage_counts_the_details_a_caption_states():
    details = "thinner wrapper, pleats on one side only, and a crisp pan-fried golden-brown base"
    caption = "Gyoza with a thinner wrapper, pleated on one side, served in Tokyo."
    assert detail_coverage(caption, details, 0.5) == (2 / 3, ["a crisp pan-fried golden-brown base"])
    # "pan-fried golden-brown base": 1 content word of 6 stated; at share 1/6 that is enough
    assert detail_coverage(caption + " A brown one.", details, 1 / 6) == (1.0, [])
    assert detail_coverage(caption, "", 0.5) == (None, []) and detail_coverage(caption, None, 0.5) == (None, [])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("quality")
    build(config(), root / "built")
    torch.manual_seed(0)
    create_clip("config:test-clip").save(root / "judge")
    return root


def _argv(data, judge, *extra):
    return ["score-captions", str(data), f"score.judge=local:{judge}", "executor.chunk_rows=4", *extra]


def _cosine(judge, row, data):
    stored = image_member(ShardReader().read(data / row["shard"], row["offset"], row["length"]), row["shard"])
    with torch.inference_mode():
        image = judge.encode_images(judge.images_to_tensor([Image.open(io.BytesIO(stored)).convert("RGB")]))
        text = judge.encode_texts(judge.tokenize([row["caption"]]))
    return float(image[0] @ text[0])


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_built_dataset_gets_scores_beside_its_manifest_and_in_its_card(world, tmp_path):
    data = shutil.copytree(world / "built", tmp_path / "data")
    before = json.loads((data / "card.json").read_text())
    manifest = _digest(data / "manifest.parquet")
    with ChatServer(rubric_model) as server:
        rubric = f"score.rubric={{name: openai:grader, base_url: '{server.url}', backoff_s: 0.01}}"
        assert main(_argv(data, world / "judge", rubric)) == 0
        rows = scored_rows(data)
        assert sum(server.attempts.values()) == 2 * len(rows)  # every caption, asked once again
        assert main(_argv(data, world / "judge", rubric)) == 0  # the same settings: nothing asked
        assert sum(server.attempts.values()) == 2 * len(rows) and scored_rows(data) == rows
    assert _digest(data / "manifest.parquet") == manifest  # the manifest is left byte for byte
    assert "caption_quality" not in read_manifest(data)[0]
    table = read_table(data / "scores.parquet").to_pylist()
    assert [r["key"] for r in table] == [r["key"] for r in rows]
    judge = create_clip(f"local:{world / 'judge'}")
    by_key = {r["key"]: r for r in rows}
    # jiaozi's three captions: the template and the detailed one ("thick, soft wrappers pinched into pleats
    # ... boiled") state every detail, the contextual one (its history and customs) none
    jiaozi = [by_key[f"jiaozi-train-000{k}"] for k in range(3)]
    details = ["thicker pale wrapper", "boiled rather than fried", "pleated crescent with no browned side"]
    assert [(r["detail_coverage"], r["details_missing"]) for r in jiaozi] == [(1.0, []), (1.0, []), (0.0, details)]
    for row in rows[:3]:
        assert row["caption_clip"] == pytest.approx(_cosine(judge, row, data), abs=1e-5)
        assert row["rubric_score"] == 4.0 and row["rubric_visual_detail"] == 3
        assert row["rubric_reason"].startswith("accuracy: accuracy reason; visual_detail: visual_detail reason")
        clipscore = min(1.0, CLIPSCORE_W * max(row["caption_clip"], 0.0))
        assert row["caption_quality"] == pytest.approx((clipscore + row["detail_coverage"] + 0.75) / 3)
    card = json.loads((data / "card.json").read_text())
    assert {k: v for k, v in card.items() if k != "caption_quality"} == before
    quality = card["caption_quality"]
    assert quality["scores"]["caption_clip"]["given_by"] == f"local:{world / 'judge'}"
    assert quality["scores"]["rubric_score"]["given_by"] == "openai:grader (prompts caption-quality-v1)"
    assert quality["scores"]["rubric_score"] | {"given_by": None, "measures": None} == {
        "given_by": None, "measures": None, "n": len(rows), "mean": 4.0, "p10": 4.0, "median": 4.0, "p90": 4.0
    }  # fmt: skip
    assert sum(quality["distribution"].values()) == len(rows)
    assert set(quality["per_category"]) == {r["category"] for r in rows}
    assert set(quality["per_culture"]) == {r["culture"] for r in rows}
    md = (data / "card.md").read_text()
    for text in ("## Caption quality", "| rubric_score | openai:grader", "## Caption quality per culture"):
        assert text in md, text
    assert "## Kept images per split" in md


def test_an_imported_dataset_is_scored_from_its_features(world, release, tmp_path):
    data = import_cultwin({"train": release / "train.jsonl"}, tmp_path / "ds")
    assert main(_argv(data, world / "judge")) == 0
    rows = {r["key"]: r for r in scored_rows(data)}
    erhu, guzheng = rows["id-000000-pos-0000"], rows["id-000000-neg-0000"]
    # "features of Erhu": of its content words (features, erhu) the caption states one, half of them
    assert erhu["detail_coverage"] == 1.0 and erhu["rubric_score"] is None
    assert guzheng["detail_coverage"] is None and guzheng["caption_clip"] is not None  # the twin has no features
    assert guzheng["caption_quality"] == pytest.approx(min(1.0, CLIPSCORE_W * max(guzheng["caption_clip"], 0.0)))
    md = (data / "card.md").read_text()
    assert "## Caption quality" in md and "## Kept images per split" in md  # the import's own card, kept


def test_other_settings_score_again(world, tmp_path):
    data = shutil.copytree(world / "built", tmp_path / "data")
    assert main(_argv(data, world / "judge")) == 0
    assert main(_argv(data, world / "judge", "score.judge=null", "score.detail_share=1.0")) == 0
    rows = scored_rows(data)
    assert all(r["caption_clip"] is None and r["caption_quality"] == r["detail_coverage"] for r in rows)
    assert not (tmp_path / "data.scores.work").exists()


def test_a_killed_scoring_resumes_without_asking_again_for_finished_rows(world, tmp_path, monkeypatch):
    data = shutil.copytree(world / "built", tmp_path / "data")
    cfg = load_config("tiny", ["score.judge=null", "executor.chunk_rows=4"])
    with ChatServer(lambda prompt, attempt: (200, RUBRIC, 0.0)) as server:
        grader = ChatModelConfig(name="openai:grader", base_url=server.url, backoff_s=0.01)
        score = cfg.score.model_copy(update={"rubric": grader})
        kill_at_the_third_chunk(monkeypatch, RubricStage)
        with pytest.raises(RuntimeError, match="killed"):
            score_dataset(data, score, cfg.executor)
        assert sum(server.attempts.values()) == 8 and "rubric_score" not in scored_rows(data)[0]
        monkeypatch.undo()
        score_dataset(data, score, cfg.executor)
    rows = scored_rows(data)
    assert sum(server.attempts.values()) == len(rows)  # each row asked once, over both runs
    assert {r["rubric_score"] for r in rows} == {4.0}


def test_scoring_a_runs_data_leaves_its_models_valid(world, tmp_path, capsys):
    out = tmp_path / "run"
    small = ["build.catalog.max_groups=2", "build.catalog.train_images=3", "build.catalog.test_images=1"]
    assert main(["run", "--config", "tiny", "--out", str(out), *small]) == 0
    weights = {p: p.stat().st_mtime_ns for p in (out / "models").rglob("*.safetensors")}
    manifest = _digest(out / "data" / "manifest.parquet")
    assert weights and main(_argv(out / "data", world / "judge")) == 0
    assert _digest(out / "data" / "manifest.parquet") == manifest
    capsys.readouterr()
    assert main(["run", "--config", "tiny", "--out", str(out), *small]) == 0, capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in (out / "models").rglob("*.safetensors")} == weights  # not retrained
