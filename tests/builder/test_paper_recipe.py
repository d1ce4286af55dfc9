"""The reference data recipe (`--preset paper-build`) on tiny models: a scripted OpenAI-compatible server
plays the text generator and the vision judge (over real HTTP, images as data URLs), `tiny:sd` renders."""

import base64
import hashlib
import io

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from cultureclip import run as run_job
from cultureclip.backends.chat import create_chat_model
from cultureclip.backends.clip import tokenizer_for
from cultureclip.builder.recipes.paper import CATEGORIES, prompt_rows, select_pairs
from cultureclip.builder.stages.images import ImageStage
from cultureclip.builder.stages.paper_text import PaperCaptionStage
from cultureclip.builder.stages.replies import ReplyError, ask_parsed, parse_fields, parse_scores
from cultureclip.builder.stages.vlm_judge import VlmJudgeStage, image_passes
from cultureclip.cli import main
from cultureclip.config import ChatModelConfig, JudgeConfig, PaperRecipeConfig, load_config
from cultureclip.data.shards import read_manifest, read_split
from cultureclip.errors import ConfigError
from cultureclip.train.data import load_train_data
from helpers.chat_server import ChatServer
from helpers.paper_world import fake_model, overrides


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("paper")
    with ChatServer(fake_model) as server:
        assert main(["build", "--preset", "paper-build", "--out", str(out), *overrides(server.url)]) == 0
    return out / "data", server


def test_the_preset_is_the_reference_recipe():
    run = load_config("paper-build")
    cfg = run.build
    assert cfg.renderer == "diffusers:stabilityai/stable-diffusion-3.5-large-turbo"
    assert run.judge.model.name == "transformers:Qwen/Qwen2.5-VL-7B-Instruct"
    assert cfg.paper.generator.temperature == 0.7
    assert (cfg.paper.captions_per_concept, cfg.paper.max_caption_words, run.judge.fail_score) == (10, 14, 1)
    assert cfg.paper.categories is None and len(CATEGORIES) == 8  # the reference's 8, from the recipe
    assert len(prompt_rows(cfg.paper)) == 249 * 8  # every ISO 3166-1 country x 8 categories


@pytest.mark.parametrize(
    ("scores", "passes"),
    [((4, 3, 3), True), ((3, 3, 3), False), ((2, 2, 5), False), ((1, 5, 5), False), ((2, 4, 4), True)],
)
def test_an_image_passes_if_no_score_is_1_and_the_mean_is_above_3(scores, passes):
    row = dict(zip(("authenticity", "consistency", "cultural_fidelity"), scores, strict=True))
    assert image_passes(row, JudgeConfig()) is passes


def test_a_pair_is_kept_only_if_both_images_pass():
    good, bad = {"authenticity": 4, "consistency": 4, "cultural_fidelity": 4}, {"authenticity": 1}
    bad |= {"consistency": 5, "cultural_fidelity": 5}
    twins = [{"key": "t", "status": "ok", "concept_captions": ["a", "b"], "twin_captions": ["c"]}]
    images = [
        {"key": "t-concept-00-0", "status": "ok", "reason": None, **good},
        {"key": "t-concept-01-0", "status": "ok", "reason": None, **bad},
        {"key": "t-twin-00-0", "status": "ok", "reason": None, **good},
    ]
    pairs = select_pairs(twins, images, PaperRecipeConfig(), JudgeConfig())
    assert [(p["concept_key"], p["status"]) for p in pairs] == [
        ("t-concept-00-0", "kept"),
        ("t-concept-01-0", "rejected"),
    ]
    assert pairs[1]["reason"] == "concept image judge: authenticity 1, consistency 5, cultural_fidelity 5 (mean 3.67)"
    assert [r["status"] for r in images] == ["kept", "rejected", "kept"]


def test_replies_parse_strictly_and_broken_ones_are_reasked_then_fail_with_the_reason():
    assert parse_fields('Sure:\n```json\n{"concept": " a  b ", "x": 1}\n```', ("concept",)) == {"concept": "a b"}
    with pytest.raises(ReplyError, match="field 'context' is missing"):
        parse_fields('{"concept": "a"}', ("concept", "context"))
    with pytest.raises(ReplyError, match="consistency: score 6 outside 1-5"):
        parse_scores('{"authenticity": 2, "consistency": {"score": 6}, "cultural_fidelity": 2}')
    sent = []

    def send(indices, prompts):
        sent.append(list(indices))
        return ['{"concept": "ok"}' if i == 0 or len(sent) == 2 and i == 1 else "no" for i in indices]

    results = ask_parsed(send, ["p0", "p1", "p2"], lambda i, t: parse_fields(t, ("concept",)), lambda p, r: p, 2)
    assert sent == [[0, 1, 2], [1, 2], [2]]
    assert results == [
        ({"concept": "ok"}, None),
        ({"concept": "ok"}, None),
        (None, "no JSON object in the reply (reply: 'no')"),
    ]


def test_the_15_word_rule_and_the_target_tokenizer():
    stage = PaperCaptionStage(PaperRecipeConfig(), "config:test-clip")
    stage.tokenizer = tokenizer_for("config:test-clip")
    fourteen = "Onigiri " + "rice " * 12 + "ball."
    assert stage.problem(fourteen, "onigiri") is None
    assert stage.problem("Onigiri fresh " + fourteen[8:], "onigiri") == "too many words: 15 > 14"
    assert stage.problem("A rice ball at home.", "onigiri") == "does not name the concept"
    assert stage.problem("Onigiri at home.", "Onigiri (rice ball)") is None


def test_counts_follow_concepts_twins_captions_and_renders(built):
    data, _ = built
    twins = pq.read_table(data / "twins.parquet").to_pylist()
    assert [t["status"] for t in twins] == ["ok", "ok", "ok", "failed", "ok"]  # Cuisine, Clothing, Animal, Art, Arch.
    assert twins[3]["reason"] == "concept: no JSON object in the reply (reply: 'I cannot answer that.')"
    assert (
        twins[0]["twin_name"] == "gimbap" and twins[0]["twin_features"] == "its colours"
    )  # the twin keeps its features
    assert all(len(t["concept_captions"]) == 3 and len(t["twin_captions"]) == 3 for t in twins if t["status"] == "ok")
    assert twins[0]["concept_caption_rejects"] == [
        "too many words: 15 > 14: onigiri very very very very very very very very very very very long, scene three."
    ]
    rows = read_manifest(data)
    assert len(rows) == 4 * 2 * 3 * 2  # twin pairs x members x captions x renders
    pairs = pq.read_table(data / "pairs.parquet").to_pylist()
    assert len(pairs) == 4 * 3 * 3 * 2  # twin pairs x concept captions x twin captions x renders
    assert sum(p["status"] == "kept" for p in pairs) == 4 * 2 * 2 * 2
    assert all(len(r["caption"].split()) <= 14 for r in rows)


def test_the_judge_scores_and_reasons_are_in_the_manifest(built):
    data, server = built
    rows = {r["key"]: r for r in read_manifest(data)}
    rejected = rows["japan--cuisine-twin-01-1"]
    assert (rejected["status"], rejected["shard"]) == ("rejected", None)
    assert rejected["reason"] == "judge: authenticity 1, consistency 5, cultural_fidelity 5 (mean 3.67)"
    assert rejected["authenticity_reason"] == "authenticity is 1"
    assert (
        rows["japan--cuisine-concept-02-0"]["reason"]
        == "judge: authenticity 3, consistency 3, cultural_fidelity 3 (mean 3.00)"
    )
    kept = rows["japan--cuisine-twin-00-0"]
    assert (kept["status"], kept["twin_ids"], kept["concept_id"]) == ("kept", ["japan-onigiri"], "south-korea-gimbap")
    assert {r["split"] for r in rows.values() if r["twin_group"] == "japan--clothing"} == {"test"}
    assert len(server.images) == 48
    sent = base64.b64decode(server.images[0].removeprefix("data:image/jpeg;base64,"))  # the stored bytes, as they are
    assert Image.open(io.BytesIO(sent)).size == (16, 16)
    assert hashlib.sha256(sent).hexdigest() in {r["sha256"] for r in rows.values()} - {None}
    card = (data / "card.md").read_text()
    assert "| caption pairs kept | 32 |" in card and "| judge | openai:fake-vlm |" in card


def test_the_trainer_reads_the_result(built):
    data, _ = built
    train = load_train_data(data)
    assert len(train) == 3 * 8  # 3 train twin pairs x 8 kept images
    pairs = [
        ["china-plum-blossom", "japan-sakura"],
        ["japan-pagoda", "nepal-stupa"],
        ["japan-onigiri", "south-korea-gimbap"],
    ]
    assert train.groups == pairs  # by twin pair: animal & plants, architecture, cuisine
    sizes = ["model.name=config:test-clip", "finetune.steps=2", "finetune.batch_size=4", "ablations.tuned_plain=null"]
    assert main(["train", "--preset", "paper-build", "--out", str(data.parent), *sizes]) == 0
    assert (data.parent / "models" / "tuned").is_dir()


def test_the_transformers_judge_runs_a_tiny_vlm_and_records_unparseable_replies():
    cfg = JudgeConfig(model=ChatModelConfig(name="tiny:vlm", max_new_tokens=8), reasks=1)
    stage = VlmJudgeStage(cfg)
    stage.setup()
    png = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(png, format="PNG")
    row = {"png": png.getvalue(), "caption": "onigiri.", "name": "onigiri", "country": "Japan", "category": "Cuisine"}
    first, again = stage.run([row], retries=0), stage.run([row], retries=0)
    assert first == again and first[0]["status"] == "failed"
    assert first[0]["reason"].startswith("judge: no JSON object in the reply (reply: ")
    texts = create_chat_model(ChatModelConfig(name="tiny:vlm", max_new_tokens=4)).generate(["hello", "a b"])
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)


def test_a_stopped_build_resumes_without_asking_the_generator_again(tmp_path, monkeypatch):
    def stop(self):
        raise RuntimeError("stopped before the images")

    with ChatServer(fake_model) as server:
        cfg = load_config("paper-build", [*overrides(server.url), "build.paper.max_prompts=1"])
        monkeypatch.setattr(ImageStage, "setup", stop)
        with pytest.raises(RuntimeError, match="stopped before the images"):
            run_job.build(cfg, tmp_path)
        assert not (tmp_path / "data").exists()
        asked = sum(server.attempts.values())
        monkeypatch.undo()
        run_job.build(cfg, tmp_path)
    new = sum(server.attempts.values()) - asked
    assert new == 1 * 2 * 3 * 2  # only the judge's requests: one per image (concept, twin, captions were saved)
    assert not (tmp_path / "data.work").exists() and len(read_manifest(tmp_path / "data")) == 12


def test_on_ray_the_build_gives_the_same_rows_and_pairs(built, ray_cluster, tmp_path):
    data, _ = built
    with ChatServer(fake_model) as server:
        args = ["build", "--preset", "paper-build", "--out", str(tmp_path), *overrides(server.url)]
        assert main([*args, "executor.kind=ray", "executor.ray_workers=2"]) == 0
    # a Ray worker's torch runs on one thread, so a rendered pixel may differ by a rounding step: the
    # rows match but for the image digest, and the images match to within that step
    same = [{k: v for k, v in r.items() if k != "sha256"} for r in read_manifest(data)]
    assert [{k: v for k, v in r.items() if k != "sha256"} for r in read_manifest(tmp_path / "data")] == same
    for split in ("train", "test"):
        for ray_sample, local_sample in zip(read_split(tmp_path / "data", split), read_split(data, split), strict=True):
            diff = np.abs(np.asarray(ray_sample.image, int) - np.asarray(local_sample.image, int))
            assert diff.max() <= 1
    assert pq.read_table(tmp_path / "data" / "pairs.parquet") == pq.read_table(data / "pairs.parquet")
    assert pq.read_table(tmp_path / "data" / "twins.parquet") == pq.read_table(data / "twins.parquet")


def test_a_bad_model_id_or_prompt_file_is_a_one_line_error_before_any_work(tmp_path, capsys):
    assert main(["build", "--preset", "paper-build", "--out", str(tmp_path), "judge.model.name=qwen"]) == 2
    known = "fixed:..., openai:..., package:..., tiny:..., transformers:..."
    assert f"unknown chat model 'qwen': expected one of {known}" in (capsys.readouterr().err.replace("\n", ""))
    assert main(["build", "--preset", "paper-build", "--out", str(tmp_path), "build.paper.prompts=nope"]) == 2
    assert "build.paper.prompts: 'nope' is neither a file" in capsys.readouterr().err.replace("\n", "")
    assert not (tmp_path / "data.work").exists()


def test_a_text_generator_can_write_but_not_judge():
    model = create_chat_model(ChatModelConfig(name="tiny:causal-lm", max_new_tokens=3))
    assert model.generate(["hello"]) == create_chat_model(
        ChatModelConfig(name="tiny:causal-lm", max_new_tokens=3)
    ).generate(["hello"])
    with pytest.raises(ConfigError, match="tiny:causal-lm: a text-only generator cannot judge images"):
        model.generate(["score it"], [Image.new("RGB", (16, 16))])
