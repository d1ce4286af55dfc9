"""Sections both report views show: a metric's cell, the main metric of each task, and the gallery of images
on which the models disagree."""

import re
from pathlib import Path

from cultureclip.eval.datasets.base import UNREADABLE
from cultureclip.eval.reports.html import code, text
from cultureclip.io import atomic_path

MAIN_METRIC = {"classification": "top1", "choice": "twin_acc", "general": "general_acc", "linear_probe": "probe_acc"}
"""The metric a report shows first for each task."""
THUMB = 112


def metric_cell(metrics: dict, metric: str) -> str:
    """'0.812', or '0.812 [0.750, 0.875]' where the task gives the metric's own 95% interval."""
    ci = metrics.get(f"{metric}_ci95")
    return f"{metrics[metric]:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def disagreements(comparison, out: Path, models: list[str] | None = None, only: str | None = None) -> list[str]:
    """A gallery per dataset (only dataset `only` where given) of the images on which `models` (default:
    all) disagree, with the truth and each model's answer; the thumbnails go into OUT/examples."""
    limit = comparison.examples
    models = list(comparison.results) if models is None else models
    if len(models) < 2 or limit == 0:
        return []
    lines = ["", "## Where the models disagree", ""]
    (out / "examples").mkdir(exist_ok=True)
    for data, by_task in comparison.results[models[0]].items():
        if only is not None and data != only:
            continue
        task = next((t for t in ("choice", "classification", "general") if t in by_task), None)
        if task is None:
            continue
        preds = {m: {r["id"]: r for r in comparison.results[m][data][task].records} for m in models}
        items = {it.id: it for it in comparison.datasets[data].items}
        shared = [i for i in preds[models[0]] if all(i in preds[m] for m in models)]
        ids = [i for i in shared if len({preds[m][i]["pred"] for m in models}) > 1]
        ids.sort(key=lambda i: -sum(preds[m][i]["label"] == preds[m][i]["pred"] for m in models[1:]))
        if not ids:
            continue
        lines += [
            f"### {text(data)} ({task}): {len(ids)} images",
            "",
            "| image | truth | " + " | ".join(map(text, models)) + " |",
            "|---|---|" + "---|" * len(models),
        ]
        for n, i in enumerate(ids[:limit]):
            file = f"examples/{slug(data)}-{n}.png"
            cell = f"![{text(i)}]({file})" if thumbnail(items[i].image, out / file) else code(i)
            shown = [preds[m][i] for m in models]
            marks = [f"{text(p['pred'])} {'✓' if p['pred'] == p['label'] else '✗'}" for p in shown]
            lines.append(f"| {cell} | {text(preds[models[0]][i]['label'])} | " + " | ".join(marks) + " |")
        lines.append("")
    return lines


def thumbnail(ref, path: Path) -> bool:
    """Write a THUMB-pixel PNG of the image `ref` to `path`; False when the image is unreadable."""
    try:
        with ref.open() as image:
            image = image.convert("RGB")
            image.thumbnail((THUMB, THUMB))
            with atomic_path(path) as tmp:
                image.save(tmp, format="PNG")
        return True
    except UNREADABLE:
        return False


def slug(name: str) -> str:
    """`name` as a file name: runs of other characters than letters, digits, `_.-` become `_`."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
