"""Native names: the concept and twin tasks scored twice on the same images, with each class's English name in
the prompts and with its name in another language (the dataset's `names`: each concept's own, or a code).

Only the classes that have such a name take part: the concept task chooses among them, the twin task among an
image's candidates that have one (at least two). Each record holds both answers, so the gain of the native
prompts (`*_native` - `*_en`) is measured on the same images, and each metric is bootstrapped across models.
"""

import torch

from cultureclip.eval.tasks import TaskResult, class_embeddings, class_prompts, mean, register

MEASURES = ("concept_acc", "twin_acc")
LANGUAGES = ("en", "native")


def _named(data) -> list[int]:
    """The classes with a name in the other language."""
    names = data.native_names.names if data.native_names else []
    return [c for c, name in enumerate(names) if name]


def _names(data, classes: list[int]) -> dict[str, list[str]]:
    return {"en": [data.classes[c] for c in classes], "native": [data.native_names.names[c] for c in classes]}


def prompts(data) -> list[str]:
    return [p for names in _names(data, _named(data)).values() for p in class_prompts(names, data.templates)]


@register("native_names", prompts=prompts)
def evaluate(data, image_features: torch.Tensor, encoder) -> TaskResult:
    classes = _named(data)
    column = {c: k for k, c in enumerate(classes)}
    sims = {
        lang: image_features @ class_embeddings(encoder, names, data.templates).T
        for lang, names in _names(data, classes).items()
    }
    records = []
    for i, it in enumerate(data.items):
        if it.label not in column:
            continue
        truth, options = column[it.label], [column[c] for c in it.candidates if c in column]
        record = {"id": it.id, "label": data.classes[it.label], "name": data.native_names.names[it.label]}
        for lang, s in sims.items():
            record[f"concept_acc_{lang}"] = int(int(s[i].argmax()) == truth)
            if len(options) >= 2:
                record[f"twin_acc_{lang}"] = int(options[int(s[i, options].argmax())] == truth)
        records.append(record | {"category": it.category, "culture": it.culture})
    scored = tuple(k for k in _paired() if any(k in r for r in records))  # none of twin_acc_* without twins
    return TaskResult(_metrics(records, data, len(classes)), records, scored)


def _paired() -> tuple[str, ...]:
    return tuple(f"{m}_{lang}" for m in MEASURES for lang in LANGUAGES)


def _metrics(records: list[dict], data, named: int) -> dict:
    metrics = {key: mean(r[key] for r in records if key in r) for key in _paired()}
    for m in MEASURES:
        metrics[f"{m}_gain"] = metrics[f"{m}_native"] - metrics[f"{m}_en"]
    twins = sum("twin_acc_en" in r for r in records)
    return metrics | {"language": data.native_names.language, "concepts": named, "n": len(records), "n_twin": twins}
