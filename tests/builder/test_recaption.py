"""The re-caption stage on a built tiny dataset, with a scripted chat server as the rewriter: what is
rewritten and why, what is kept, the new dataset's shards and card, and a killed run resuming without
asking again for the rows it finished."""

import json
import re

import numpy as np
import pytest

from cultureclip.builder.recipes.cultwin import import_cultwin
from cultureclip.builder.recipes.recaption import recaption_dataset
from cultureclip.builder.stages.recaption import RecaptionStage, low_score_reason
from cultureclip.cli import main
from cultureclip.config import ChatModelConfig, RecaptionConfig, load_config
from cultureclip.data.shards import read_manifest, read_split
from cultureclip.train.data import load_train_data
from helpers.builds import build, config, kill_at_the_third_chunk
from helpers.chat_server import ChatServer

ASK = re.compile(r"This image caption of (.+?) \(.*apart from look-alikes: (.+?)\. Its cultural context", re.S)


def rewriter(prompt: str, attempt: int) -> tuple[int, str, float]:
    """jiaozi and friends: a caption stating every detail; gyoza: one stating none; mandu: no JSON ever."""
    name, details = ASK.search(prompt).groups()
    if name == "mandu":
        return 200, "Here is a better caption for you.", 0.0
    caption = f"{name} on a plate." if name == "gyoza" else f"{name} with {details}."
    return 200, json.dumps({"caption": caption}), 0.0


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build(config(), tmp_path_factory.mktemp("recaption") / "data")


def _argv(data, out, url, *extra):
    generator = f"recaption.generator={{name: openai:writer, base_url: '{url}', backoff_s: 0.01}}"
    return [
        "recaption",
        str(data),
        "--out",
        str(out),
        "--config",
        "tiny",
        "score.judge=null",
        generator,
        "executor.chunk_rows=2",
        *extra,
    ]


def test_low_captions_are_rewritten_with_the_reason_and_kept_only_if_better(built, tmp_path):
    with ChatServer(rewriter) as server:
        assert main(_argv(built, tmp_path / "new", server.url)) == 0
    rows = {r["key"]: r for r in read_manifest(tmp_path / "new")}
    source = {r["key"]: r for r in read_manifest(built)}
    assert rows.keys() == source.keys()
    jiaozi = rows["jiaozi-train-0002"]  # the contextual caption: no detail stated
    details = "thicker pale wrapper, boiled rather than fried, pleated crescent with no browned side"
    assert jiaozi["recaption_reason"] == f"it does not state {details.replace(', ', '; ')}"
    assert jiaozi["original_caption"] == source["jiaozi-train-0002"]["caption"]
    assert jiaozi["original_detail_coverage"] == 0.0 and jiaozi["recaption_detail_coverage"] == 1.0
    assert jiaozi["recaption"] == jiaozi["caption"] == f"jiaozi with {details}." and jiaozi["recaption_kept"]
    assert jiaozi["caption_quality"] == jiaozi["recaption_caption_quality"] == 1.0
    gyoza = rows["gyoza-train-0002"]  # rewritten, but no better: the original stays
    assert gyoza["recaption"] == "gyoza on a plate." and not gyoza["recaption_kept"]
    assert gyoza["caption"] == gyoza["original_caption"] and gyoza["caption_quality"] == 0.0
    mandu = rows["mandu-train-0002"]  # no usable reply after the re-ask: the reason is kept
    assert mandu["recaption"] is None and mandu["recaption_note"].startswith("recaption: no JSON object")
    assert not mandu["recaption_kept"] and mandu["caption"] == mandu["original_caption"]
    template = rows["jiaozi-train-0000"]  # every detail stated: not rewritten
    assert template["recaption_reason"] is None and template["caption"] == source["jiaozi-train-0000"]["caption"]
    shards = {s.row["key"]: s for split in ("train", "test") for s in read_split(tmp_path / "new", split)}
    assert shards["jiaozi-train-0002"].row["caption"] == jiaozi["caption"]
    old = {s.row["key"]: s for s in read_split(built, "train")}
    assert np.array_equal(np.asarray(shards["jiaozi-train-0002"].image), np.asarray(old["jiaozi-train-0002"].image))
    card = (tmp_path / "new" / "card.md").read_text()
    for text in ("## Re-captioning", "| generator | openai:writer |", "## Caption quality before re-captioning"):
        assert text in card, text
    before = json.loads((tmp_path / "new" / "card.json").read_text())["caption_quality_before"]["scores"]
    after = json.loads((tmp_path / "new" / "card.json").read_text())["caption_quality"]["scores"]
    assert after["caption_quality"]["mean"] > before["caption_quality"]["mean"]


def test_a_killed_run_resumes_without_asking_again_for_finished_rows(built, tmp_path, monkeypatch):
    cfg = load_config("tiny", ["score.judge=null", "executor.chunk_rows=2"])

    def boiled(prompt: str, attempt: int) -> tuple[int, str, float]:
        return 200, json.dumps({"caption": f"{ASK.search(prompt).group(1)}, boiled."}), 0.0

    with ChatServer(boiled) as server:
        recaption = cfg.recaption.model_copy(update={"generator": cfg.recaption.generator.model_copy(
            update={"name": "openai:writer", "base_url": server.url, "backoff_s": 0.01})})  # fmt: skip
        kill_at_the_third_chunk(monkeypatch, RecaptionStage)
        with pytest.raises(RuntimeError, match="killed"):
            recaption_dataset(built, tmp_path / "new", recaption, cfg.score, cfg.executor, cfg.model.name)
        assert sum(server.attempts.values()) == 4 and not (tmp_path / "new").exists()
        monkeypatch.undo()
        recaption_dataset(built, tmp_path / "new", recaption, cfg.score, cfg.executor, cfg.model.name)
    low = [r for r in read_manifest(tmp_path / "new") if r["recaption_reason"] is not None]
    assert len(server.attempts) == len(low) > 4 and set(server.attempts.values()) == {1}  # each row asked once


def test_an_imported_dataset_is_recaptioned_and_trains(release, tmp_path):
    data = import_cultwin({"train": release / "train.jsonl"}, tmp_path / "ds")
    with ChatServer(rewriter) as server:  # every detail must be stated: "features of Erhu" is not, by the caption
        assert main(_argv(data, tmp_path / "new", server.url, "score.detail_share=1.0")) == 0
    rows = {r["key"]: r for r in read_manifest(tmp_path / "new")}
    erhu = rows["id-000000-pos-0000"]
    assert erhu["original_caption"] == "A Erhu on a stage, caption 0." and erhu["original_detail_coverage"] == 0.0
    assert erhu["caption"] == "Erhu with features of Erhu." and erhu["recaption_kept"]
    assert rows["id-000000-neg-0000"]["recaption_reason"] is None  # no features: no score, nothing to fix
    assert len(load_train_data(tmp_path / "new")) == 3


def test_the_reason_names_each_low_score():
    scores = {"details_missing": ["red lid"], "caption_clip": 0.1, "rubric_score": 2.0, "rubric_reason": "vague"}
    scores |= {"detail_coverage": 0.0, "caption_quality": 0.1}
    assert low_score_reason(scores, 0.5) == (
        "it does not state red lid; a judge CLIP finds it a poor match for the image (cosine 0.10); "
        "a grader gave it 2.0 of 5 (vague)"
    )
    assert low_score_reason({"caption_quality": 0.4, "detail_coverage": 0.9}, 0.5) == (
        "its caption quality is 0.40, below 0.5"
    )


def test_bad_folders_are_one_line_errors(built, tmp_path, capsys):
    assert main(["recaption", str(built), "--out", str(built)]) == 2
    assert "--out must be a new folder" in capsys.readouterr().err
    assert main(["recaption", str(tmp_path), "--out", str(tmp_path / "new")]) == 2
    assert f"{tmp_path}: not a finished dataset folder" in capsys.readouterr().err.replace("\n", "")


class CountingModel:
    def __init__(self):
        self.asked: list[list[str]] = []

    def generate(self, texts, images=None, schema=None):
        self.asked.append(list(texts))
        return [f"re: {t}" for t in texts]


def _chat_stage(temperature: float) -> RecaptionStage:
    generator = ChatModelConfig(name="tiny:causal-lm", temperature=temperature)
    stage = RecaptionStage(RecaptionConfig(generator=generator, reasks=0), "caption-quality-v1", "config:test-clip")
    stage.model, stage.replies = CountingModel(), {}  # what setup loads
    return stage


def test_at_temperature_0_the_recaption_stage_asks_each_distinct_prompt_once():
    stage, parse = _chat_stage(0.0), lambda i, text: text
    assert [v for v, _ in stage.ask(["a", "b", "a"], parse)] == ["re: a", "re: b", "re: a"]
    assert [v for v, _ in stage.ask(["b", "c"], parse)] == ["re: b", "re: c"]  # a later chunk: b answered already
    assert stage.model.asked == [["a", "b"], ["c"]]
    sampling = _chat_stage(0.7)  # sampled replies differ: every prompt is asked
    sampling.ask(["a", "a"], parse)
    assert sampling.model.asked == [["a", "a"]]
