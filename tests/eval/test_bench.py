"""The paper's benchmarks on small releases written here in each benchmark's own Parquet columns.

A fake CLIP makes the expected accuracies hand-checkable: every image "sees" one name (coded in its
red channel) and every option text is the one-hot of the name it contains, so an option wins exactly
when it names what the image sees.
"""

import json

import pytest
import torch

from cultureclip.backends.clip import create_clip
from cultureclip.cli import main
from cultureclip.errors import DataError
from cultureclip.eval.bench import BENCHMARKS
from helpers.bench_releases import (
    CONCEPTS,
    GROUNDING_ROWS,
    REGIONS,
    RETRIEVAL_ROWS,
    FakeClip,
    evaluate,
    seeing,
    write_release,
)


@pytest.fixture
def retrieval(tmp_path):
    rows = [{"image": seeing(REGIONS, s), "region": r, "universal": u} for u, r, s in RETRIEVAL_ROWS]
    return write_release(tmp_path / "globalrg_retrieval", rows)


def test_globalrg_retrieval_keep_rule_options_and_accuracy(retrieval, tmp_path):
    summary = evaluate("globalrg_retrieval", retrieval, FakeClip(REGIONS), out=tmp_path / "out")
    lines = [json.loads(x) for x in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    # drinks has 3 regions: dropped; food (4 regions) and house (5 regions) kept: 4 + 5 questions
    assert [(x["row"], x["universal"], x["region"]) for x in lines] == [
        (i, u, r) for i, (u, r, _) in enumerate(RETRIEVAL_ROWS) if u != "drinks"
    ]
    prompt = "The picture depicts a kind of {} in {}".format
    for x in lines:
        assert x["options"][x["correct"]] == prompt(x["universal"], x["region"])
        assert len(set(x["options"])) == 4
        if x["universal"] == "food":  # all 4 food regions, in a seeded order
            assert sorted(x["options"]) == sorted(prompt("food", r) for r in ["japan", "india", "peru", "kenya"])
        else:  # the true region + 3 of the 4 other house regions
            assert {o.rsplit(" ", 1)[1] for o in x["options"]} <= set(REGIONS)
    # every question right except food/peru, whose image the fake reads as japan (an option)
    assert [x["hit"] for x in lines] == [True, True, False, True, True, True, True, True, True]
    assert summary == {
        "benchmark": "globalrg_retrieval",
        "model": "fake",
        "seed": 42,
        "questions": 9,
        "correct": 8,
        "accuracy": 8 / 9,
    }
    assert lines[2]["options"][lines[2]["predicted"]] == prompt("food", "japan")
    # the seed fixes the draws: the same seed gives the same options, another seed other ones
    again = evaluate("globalrg_retrieval", retrieval, FakeClip(REGIONS), out=tmp_path / "again")
    assert (tmp_path / "again" / "results.jsonl").read_text() == (tmp_path / "out" / "results.jsonl").read_text()
    assert again == summary
    evaluate("globalrg_retrieval", retrieval, FakeClip(REGIONS), seed=7, out=tmp_path / "seed7")
    other = [json.loads(x)["options"] for x in (tmp_path / "seed7" / "results.jsonl").read_text().splitlines()]
    assert other != [x["options"] for x in lines]


def test_globalrg_retrieval_seed_42_options_golden(retrieval, tmp_path):
    """Seed 42, sorted candidates: random.Random(42).sample(sorted others, 3), then shuffle([true] + drawn)."""
    evaluate("globalrg_retrieval", retrieval, FakeClip(REGIONS), out=tmp_path)
    first = json.loads((tmp_path / "results.jsonl").read_text().splitlines()[0])
    import random

    rng = random.Random(42)
    drawn = rng.sample(["india", "kenya", "peru"], 3)
    options = [f"The picture depicts a kind of food in {r}" for r in ["japan", *drawn]]
    rng.shuffle(options)
    assert first["options"] == options


def test_globalrg_grounding(tmp_path):
    rows = [{"image": seeing(CONCEPTS, s), "region": r, "concept": c} for r, c, s in GROUNDING_ROWS]
    root = write_release(tmp_path / "globalrg_grounding", rows, files=1)
    summary = evaluate("globalrg_grounding", root, FakeClip(CONCEPTS), out=tmp_path / "out")
    lines = [json.loads(x) for x in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert [x["row"] for x in lines] == [0, 1, 3, 5, 7]
    expected = sorted(f"The item in the picture is {c} in japan" for c in ["sushi", "ramen", "mochi", "tempura"])
    assert all(sorted(x["options"]) == expected for x in lines)
    assert [x["options"][x["correct"]] for x in lines] == [
        f"The item in the picture is {c} in japan" for c in ["sushi", "ramen", "mochi", "tempura", "sushi"]
    ]
    assert [x["hit"] for x in lines] == [True, False, True, False, True]
    assert (summary["questions"], summary["correct"], summary["accuracy"]) == (5, 3, 0.6)


def test_crope_binary_choice_main_and_definition_images(tmp_path):
    def row(answer, target, definition, main_sees, definition_sees):
        return {
            "image": seeing(CONCEPTS, main_sees),
            "definition_images": [seeing(CONCEPTS, s) for s in definition_sees],
            "answer": answer,
            "metadata": {"image_en_concept": target, "definition_concept": definition, "country": "x"},
        }

    rows = [
        row("No", "hanbok", "kimono", "hanbok", ["kimono", "hanbok"]),  # 3 questions: right, right, wrong
        row("yes", "sushi", "ramen", "sushi", ["ramen"]),  # answer yes: dropped
        row("no", "mole", "", "mole", ["tacos"]),  # no definition concept: dropped
        row("no", "erhu", "guzheng", "guzheng", []),  # 1 question: wrong
    ]
    root = write_release(tmp_path / "crope", rows)
    summary = evaluate("crope", root, FakeClip(CONCEPTS), out=tmp_path / "out")
    lines = [json.loads(x) for x in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert [(x["row"], x["image"]) for x in lines] == [
        (0, "image[0]"),
        (0, "definition_images[0]"),
        (0, "definition_images[1]"),
        (3, "image[0]"),
    ]
    hanbok, kimono = "There is hanbok in the image.", "There is kimono in the image."
    assert sorted(lines[0]["options"]) == [hanbok, kimono]
    assert lines[0]["options"] == lines[1]["options"] == lines[2]["options"]  # one shuffle per row
    assert [x["options"][x["correct"]] for x in lines[:3]] == [hanbok, kimono, kimono]
    assert [x["hit"] for x in lines] == [True, True, False, False]
    assert (summary["questions"], summary["correct"], summary["accuracy"]) == (4, 2, 0.5)


def test_tiny_open_clip_scores_each_question_by_its_cosine_argmax(retrieval, tmp_path):
    torch.manual_seed(0)
    model = create_clip("config:test-clip")
    summary = evaluate("globalrg_retrieval", retrieval, model, batch_size=4, out=tmp_path)
    lines = [json.loads(x) for x in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert summary["questions"] == 9 and summary["model"] == "config:test-clip"
    with torch.no_grad():
        for x in lines:
            u, r, sees = RETRIEVAL_ROWS[x["row"]]
            image = model.encode_images(model.images_to_tensor([seeing(REGIONS, sees)]))
            sims = (image @ model.encode_texts(model.tokenize(x["options"])).T)[0]
            assert x["predicted"] == int(sims.argmax())
    assert summary["correct"] == sum(x["hit"] for x in lines)
    fake = [json.loads(x) for x in _run_fake(retrieval, tmp_path / "fake")]
    assert [x["options"] for x in fake] == [x["options"] for x in lines]  # options do not depend on the model


def _run_fake(root, out):
    evaluate("globalrg_retrieval", root, FakeClip(REGIONS), out=out)
    return (out / "results.jsonl").read_text().splitlines()


def test_release_errors_name_the_file_and_column(tmp_path, retrieval):
    with pytest.raises(DataError, match="no such benchmark folder"):
        evaluate("globalrg_retrieval", tmp_path / "none", FakeClip(REGIONS))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"no 'test' Parquet files \(expected data/test-\*.parquet"):
        evaluate("globalrg_retrieval", tmp_path / "empty", FakeClip(REGIONS))
    with pytest.raises(DataError, match=r"test-00000-of-00002-abc0.parquet: no column 'concept'"):
        evaluate("globalrg_grounding", retrieval, FakeClip(REGIONS))
    bad = [{"image": seeing(REGIONS, r), "region": r, "universal": "food"} for r in REGIONS]
    bad[3]["image"] = {"bytes": b"not an image", "path": None}  # the first row of the second file
    bad[4]["image"] = {"bytes": None, "path": None}
    with pytest.raises(DataError, match=r"test-00001-of-00002-abc1.parquet: row 1: column 'image': image 0 has no"):
        evaluate("globalrg_retrieval", write_release(tmp_path / "bad", bad), FakeClip(REGIONS))
    bad.pop()
    summary = evaluate(
        "globalrg_retrieval", write_release(tmp_path / "unreadable", bad), FakeClip(REGIONS), out=tmp_path
    )
    lines = [json.loads(x) for x in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [(x["predicted"], x["hit"]) for x in lines][3] == (None, False)  # skipped, counted as a miss
    assert (summary["questions"], summary["correct"]) == (4, 3)


def test_crope_metadata_must_be_a_struct(tmp_path):
    rows = [{"image": seeing(CONCEPTS, "erhu"), "definition_images": [], "answer": "no", "metadata": "erhu"}]
    with pytest.raises(DataError, match="CROPE row 0: column 'metadata' is not a struct"):
        evaluate("crope", write_release(tmp_path / "crope", rows, files=1), FakeClip(CONCEPTS))


def test_registry_and_cli(retrieval, tmp_path, capsys):
    assert sorted(BENCHMARKS) == ["crope", "cvqa", "cvqa_local", "globalrg_grounding", "globalrg_retrieval"]
    out = tmp_path / "cli"
    argv = ["bench", "globalrg_retrieval", "--root", str(retrieval), "--model", "config:test-clip", "--out", str(out)]
    argv += [f"eval.cache_dir={tmp_path / 'cache'}"]
    assert main(argv) == 0
    assert json.loads((out / "summary.json").read_text())["questions"] == 9
    assert main(["bench", "nope", "--root", str(retrieval)]) == 2
    known = "crope, cvqa, cvqa_local, dollar_street, geode, globalrg_grounding, globalrg_retrieval"
    assert f"unknown benchmark 'nope'; known: {known}" in capsys.readouterr().err
