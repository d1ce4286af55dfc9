"""The paper's benchmarks through the evaluator (`cultureclip compare --data KIND:PATH`): the same
questions, options and answers as `cultureclip bench`."""

from cultureclip.config import DatasetSpec
from cultureclip.eval.datasets import list_kinds, load_dataset
from helpers.bench_releases import CONCEPTS, GROUNDING_ROWS, bench_and_eval, seeing, write_release


def test_grounding_items_and_predictions_match_the_benchmark(tmp_path):
    rows = [{"image": seeing(CONCEPTS, s), "region": r, "concept": c} for r, c, s in GROUNDING_ROWS]
    root = write_release(tmp_path / "grg", rows)
    assert {"globalrg_grounding", "crope"} <= set(list_kinds())
    data = load_dataset(DatasetSpec(kind="globalrg_grounding", path=root))
    lines, preds = bench_and_eval(tmp_path, "globalrg_grounding", root)
    assert data.default_tasks() == ("choice",) and data.templates == ["{c}"]
    assert [[data.classes[c] for c in it.candidates] for it in data.items] == [x["options"] for x in lines]
    assert [data.classes[it.label] for it in data.items] == [x["options"][x["correct"]] for x in lines]
    assert [(it.group, it.culture) for it in data.items] == [("japan", "japan")] * 5
    assert data.items[1].image.open().getpixel((0, 0))[0] == 10 * CONCEPTS.index("mochi") + 5
    assert preds == [x["options"][x["predicted"]] for x in lines]


def test_crope_items_cover_main_and_definition_images(tmp_path):
    rows = [
        {
            "image": seeing(CONCEPTS, "hanbok"),
            "definition_images": [seeing(CONCEPTS, "kimono"), seeing(CONCEPTS, "erhu")],
            "answer": "No",
            "metadata": {"image_en_concept": "hanbok", "definition_concept": "kimono"},
        },
        {"image": seeing(CONCEPTS, "sushi"), "definition_images": [], "answer": "yes", "metadata": None},
    ]
    data = load_dataset(DatasetSpec(kind="crope", path=write_release(tmp_path / "crope", rows, files=1)))
    assert [it.id for it in data.items] == ["00000-image-0", "00000-definition_images-0", "00000-definition_images-1"]
    assert sorted(data.classes) == ["There is hanbok in the image.", "There is kimono in the image."]
    assert [data.classes[it.label] for it in data.items] == [
        "There is hanbok in the image.",
        "There is kimono in the image.",
        "There is kimono in the image.",
    ]
    assert [it.image.open().getpixel((0, 0))[0] // 10 for it in data.items] == [
        CONCEPTS.index(c) for c in ("hanbok", "kimono", "erhu")
    ]
