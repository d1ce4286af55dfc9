"""Multiple choice: each image chooses among its candidates, its own concept and its twins (or a
benchmark question's options); accuracy (`twin_acc`), the most-confused pairs, and a confusion matrix
per twin group."""

from collections import Counter, defaultdict

import torch

from cultureclip.eval.tasks import TaskResult, breakdown, class_embeddings, class_prompts, mean, register

TOP_PAIRS = 10


@register("choice", prompts=lambda data: class_prompts(data.classes, data.templates))
def evaluate(data, image_features: torch.Tensor, encoder) -> TaskResult:
    sims = image_features @ class_embeddings(encoder, data.classes, data.templates).T
    records, confusions = [], Counter()
    matrices: dict[str, Counter] = defaultdict(Counter)
    members: dict[str, dict[int, None]] = defaultdict(dict)
    for i, it in enumerate(data.items):
        if len(it.candidates) < 2:
            continue
        options = list(it.candidates)
        pick = options[int(sims[i, options].argmax())]
        group = it.group or " / ".join(sorted(data.classes[c] for c in options))
        members[group].update(dict.fromkeys(options))
        matrices[group][(it.label, pick)] += 1
        if pick != it.label:
            confusions[(it.label, pick)] += 1
        records.append(
            {
                "id": it.id,
                "label": data.classes[it.label],
                "pred": data.classes[pick],
                "twin_acc": int(pick == it.label),
                "group": group,
                "category": it.category,
                "culture": it.culture,
            }
        )
    groups = {}
    for group, seen in members.items():
        order = sorted(seen)
        counts = matrices[group]
        total = sum(counts.values())
        groups[group] = {
            "classes": [data.classes[c] for c in order],
            "matrix": [[counts[(t, p)] for p in order] for t in order],
            "acc": sum(counts[(c, c)] for c in order) / total,
        }
    metrics = {
        "twin_acc": mean(r["twin_acc"] for r in records),
        "per_group": breakdown(records, "group", "twin_acc"),
        "per_category": breakdown(records, "category", "twin_acc"),
        "per_culture": breakdown(records, "culture", "twin_acc"),
        "most_confused": [
            {"true": data.classes[t], "predicted": data.classes[p], "count": n}
            for (t, p), n in confusions.most_common(TOP_PAIRS)
        ],
        "n": len(records),
    }
    return TaskResult(metrics, records, ("twin_acc",), {"confusion": groups})
