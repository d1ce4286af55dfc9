"""Golden values of each task on hand-set embeddings (a stand-in encoder maps each text to a vector)."""

import math

import pytest
import torch

from cultureclip.eval.datasets.base import BytesImage, EvalDataset, EvalItem, NativeNames
from cultureclip.eval.tasks import class_embeddings, list_tasks, run_task, task_prompts

E = torch.eye(4)


class TextTable:
    """Encoder stand-in: texts -> fixed unit vectors."""

    def __init__(self, table: dict[str, torch.Tensor]):
        self.table = table

    def texts(self, texts):
        return torch.stack([self.table[t] for t in texts])


def _item(n, label, **kw):
    return EvalItem(f"i{n}", BytesImage(b"", f"i{n}"), label, **kw)


def test_tasks_are_registered():
    assert {"classification", "choice", "retrieval", "general", "linear_probe", "native_names"} <= set(list_tasks())


def test_template_ensemble_is_the_normalised_mean():
    encoder = TextTable({"a x": E[0], "b x": E[1], "a y": E[2], "b y": E[2]})
    weights = class_embeddings(encoder, ["x", "y"], ["a {c}", "b {c}"])
    assert torch.allclose(weights[0], torch.tensor([1, 1, 0, 0]) / math.sqrt(2))
    assert torch.allclose(weights[1], E[2])


def test_classification_top1_top5_per_class_and_breakdowns():
    classes = ["a", "b", "c"]
    encoder = TextTable({f"{c}.": E[i] for i, c in enumerate(classes)})
    items = [_item(0, 0, culture="X"), _item(1, 0, culture="Y"), _item(2, 1, culture="X"), _item(3, 2, category="k")]
    features = torch.stack([E[0], E[1] * 0.9 + E[0] * 0.1, E[1], E[0]])
    data = EvalDataset("d", items, classes, ["{c}."])
    result = run_task("classification", data, features, encoder)
    assert [r["pred"] for r in result.records] == ["a", "b", "b", "a"]
    assert result.metrics["top1"] == 0.5 and result.metrics["top5"] == 1.0
    assert result.metrics["per_class"] == {"a": 0.5, "b": 1.0, "c": 0.0}
    assert result.metrics["mean_per_class"] == pytest.approx(0.5)
    assert result.metrics["per_culture"] == {"X": 1.0, "Y": 0.0} and result.metrics["per_category"] == {"k": 0.0}
    assert task_prompts("classification", data) == ["a.", "b.", "c."]


def test_choice_picks_only_among_candidates():
    classes = ["gyoza", "mandu", "pelmeni", "gate"]
    encoder = TextTable({c: E[i] for i, c in enumerate(classes)})
    items = [
        _item(0, 0, candidates=(0, 1), group="dumplings"),  # closest overall is "gate", but it is no option
        _item(1, 1, candidates=(1, 0), group="dumplings"),
        _item(2, 1, candidates=(1, 0), group="dumplings"),
        _item(3, 2, candidates=(2, 0), group="dumplings"),
        _item(4, 3),  # no twins: not scored
    ]
    features = torch.stack([E[3] + 0.2 * E[0] + 0.1 * E[1], E[0], E[1], E[2], E[3]])
    result = run_task("choice", EvalDataset("d", items, classes, ["{c}"]), features, encoder)
    assert [r["pred"] for r in result.records] == ["gyoza", "gyoza", "mandu", "pelmeni"]
    assert result.metrics["twin_acc"] == 0.75 and result.metrics["n"] == 4
    assert result.metrics["most_confused"] == [{"true": "mandu", "predicted": "gyoza", "count": 1}]
    group = result.extra["confusion"]["dumplings"]
    assert group["classes"] == ["gyoza", "mandu", "pelmeni"]
    assert group["matrix"] == [[1, 0, 0], [1, 1, 0], [0, 0, 1]] and group["acc"] == 0.75


def test_retrieval_recall_both_ways():
    captions = {"cap0": E[0], "cap0b": (E[0] + E[3]) / math.sqrt(2), "cap1": E[1], "cap2": E[2]}
    items = [
        _item(0, None, captions=("cap0", "cap0b")),
        _item(1, None, captions=("cap1",)),
        _item(2, None, captions=("cap2",)),
    ]
    # image 1 looks like caption 0 most: its own caption ranks third
    features = torch.nn.functional.normalize(torch.stack([E[0], E[0] + 0.5 * E[1], E[2]]), dim=-1)
    result = run_task("retrieval", EvalDataset("d", items), features, TextTable(captions))
    m = result.metrics
    assert m["image_to_text_R@1"] == pytest.approx(2 / 3) and m["image_to_text_R@5"] == 1.0
    # text->image: cap0 -> image 0 (1.0 vs 0.89), cap0b -> image 0 (0.71 vs 0.63), cap1 -> 1, cap2 -> 2
    assert m["text_to_image_R@1"] == 1.0 and m["n_texts"] == 4 and m["n_images"] == 3
    assert {r["id"] for r in result.records if "text_to_image_R@1" in r} == {"i0#0", "i0#1", "i1#0", "i2#0"}


def test_general_uses_generic_kinds_when_present():
    encoder = TextTable({"a photo of a dumpling.": E[0], "a photo of an arch.": E[1]})
    items = [_item(0, 0, generic="dumpling"), _item(1, 1, generic="arch"), _item(2, 1, generic="arch")]
    data = EvalDataset("d", items, ["gyoza", "torii"])
    result = run_task("general", data, torch.stack([E[0], E[0], E[1]]), encoder)
    assert result.metrics["general_acc"] == pytest.approx(2 / 3)
    assert result.paired == ("general_acc", "top5") and "general_acc" in result.records[0]
    assert task_prompts("general", data) == ["a photo of an arch.", "a photo of a dumpling."]


def _named_dumplings() -> EvalDataset:
    """jiaozi, gyoza and naan have native names; mandu has none, so it takes no part."""
    items = [
        _item(0, 0, candidates=(0, 1, 2), culture="China"),
        _item(1, 1, candidates=(1, 0, 2), culture="Japan"),
        _item(2, 2, candidates=(2, 0), culture="Korea"),
        _item(3, 3, culture="India"),  # no twins: the concept task only
        _item(4, 1, candidates=(1, 0), culture="Japan"),
    ]
    data = EvalDataset("d", items, ["jiaozi", "gyoza", "mandu", "naan"], ["{c}"])
    data.native_names = NativeNames("native", ["饺子", "餃子", None, "नान"])
    return data


def test_native_names_score_the_concept_and_twin_tasks_with_both_names_on_the_same_images():
    # English "gyoza" points where no image is; its native name points where gyoza images are
    encoder = TextTable({"jiaozi": E[0], "gyoza": E[2], "naan": E[3], "饺子": E[0], "餃子": E[1], "नान": E[3]})
    features = torch.stack([E[0], E[1] + 0.1 * E[0], E[2], E[3], E[2] + 0.1 * E[1]])
    data = _named_dumplings()
    result = run_task("native_names", data, features, encoder)
    assert task_prompts("native_names", data) == ["jiaozi", "gyoza", "naan", "饺子", "餃子", "नान"]
    assert [(r["id"], r["concept_acc_en"], r["concept_acc_native"]) for r in result.records] == [
        ("i0", 1, 1),
        ("i1", 0, 1),  # English: closest to jiaozi; native: 餃子
        ("i3", 1, 1),
        ("i4", 1, 1),
    ]
    assert [(r["twin_acc_en"], r["twin_acc_native"]) for r in result.records if "twin_acc_en" in r] == [
        (1, 1),
        (0, 1),
        (1, 1),
    ]
    assert result.records[1] | {"id": 0} == {
        "id": 0,
        "label": "gyoza",
        "name": "餃子",
        "concept_acc_en": 0,
        "concept_acc_native": 1,
        "twin_acc_en": 0,
        "twin_acc_native": 1,
        "category": None,
        "culture": "Japan",
    }
    m = result.metrics
    assert (m["concept_acc_en"], m["concept_acc_native"], m["concept_acc_gain"]) == (0.75, 1.0, 0.25)
    assert m["twin_acc_en"] == pytest.approx(2 / 3) and m["twin_acc_native"] == 1.0
    assert m["twin_acc_gain"] == pytest.approx(1 / 3)
    assert (m["language"], m["concepts"], m["n"], m["n_twin"]) == ("native", 3, 4, 3)
    assert result.paired == ("concept_acc_en", "concept_acc_native", "twin_acc_en", "twin_acc_native")


def test_native_names_are_a_task_only_of_data_that_has_them():
    data = _named_dumplings()
    assert "native_names" in data.supported_tasks() and "native_names" in data.default_tasks()
    data.native_names = None
    assert "native_names" not in data.supported_tasks() and task_prompts("native_names", data) == []
