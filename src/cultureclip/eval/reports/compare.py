"""The comparison report: report.md and a self-contained report.html (figures and example images
inlined), with metric tables, deltas against the reference model and their bootstrap 95% intervals,
per-category and per-culture plots, twin confusion matrices of the worst groups, and images on which
the models disagree."""

import re
from pathlib import Path

from cultureclip.eval.datasets.base import UNREADABLE
from cultureclip.eval.reports.html import code, format_delta, text, write_markdown_and_html
from cultureclip.eval.reports.native import NATIVE, native_section
from cultureclip.eval.reports.plots import bar_plot, confusion_plot
from cultureclip.io import atomic_path

MAIN_METRIC = {"classification": "top1", "choice": "twin_acc", "general": "general_acc", "linear_probe": "probe_acc"}
THUMB = 112


def write_report(comparison, out: Path) -> None:
    """Write the figures, then report.md, then report.html from the same Markdown."""
    (out / "plots").mkdir(exist_ok=True)
    write_markdown_and_html(render(comparison, out), out)


def render(comparison, out: Path) -> str:
    ref = comparison.reference
    lines = ["# cultureclip evaluation", ""]
    lines += [f"Deltas are against **{text(ref)}**, with paired bootstrap 95% intervals.", ""]
    lines += ["## Models", "", "| model | id | fingerprint | images encoded | texts encoded | seconds |"]
    lines += ["|---|---|---|---:|---:|---:|"]
    for name, m in comparison.models.items():
        enc = m["encoded"]
        lines.append(
            f"| {text(name)} | {code(m['id'])} | {code(m['fingerprint'][:12])} | {enc['images']} | {enc['texts']} "
            f"| {m['seconds']} |"
        )
    lines += ["", "## Datasets", "", "| dataset | kind | path | images | unreadable (skipped) | dropped at load |"]
    lines += ["|---|---|---|---:|---:|---:|"]
    for name, data in comparison.datasets.items():
        spec = comparison.specs[name]
        lines.append(
            f"| {text(name)} | {text(spec.kind)} | {code(spec.path)} | {len(data.items)} "
            f"| {len(comparison.unreadable.get(name, []))} | {len(data.skipped)} |"
        )
    lines.append("")
    for name in comparison.datasets:
        for image, reason in comparison.unreadable.get(name, [])[:10]:
            lines.append(f"- skipped {code(image)}: {text(reason)}")
    for data in comparison.datasets:
        for task in comparison.results[ref][data]:
            lines += native_section(comparison, data) if task == NATIVE else _task_section(comparison, data, task, out)
    lines += disagreements(comparison, out)
    return "\n".join(lines) + "\n"


def _task_section(comparison, data: str, task: str, out: Path) -> list[str]:
    models = list(comparison.results)
    results = {m: comparison.results[m][data][task] for m in models}
    ref = comparison.reference
    others = models[1:]
    first = results[ref].metrics
    rows = [k for k, v in first.items() if isinstance(v, float)]
    lines = [
        "",
        f"## {text(data)}: {text(task)}",
        "",
        "| metric | " + " | ".join(map(text, models)) + "".join(f" | Δ {text(m)} (95% CI)" for m in others) + " |",
        "|---|" + "---:|" * (len(models) + len(others)),
    ]
    for metric in rows:
        cells = [metric_cell(results[m].metrics, metric) for m in models]
        cells += [format_delta(comparison.deltas[m][data][task].get(metric)) for m in others]
        lines.append(f"| {text(metric)} | " + " | ".join(cells) + " |")
    main = MAIN_METRIC.get(task)
    for by in ("per_category", "per_culture"):
        values = {m: results[m].metrics.get(by, {}) for m in models}
        if main and len(values[ref]) > 1:
            file = f"plots/{_slug(data)}-{task}-{by}.png"
            bar_plot(values, main, out / file)
            lines += ["", f"![{main} {by.replace('_', ' ')}]({file})"]
    if task == "choice":
        lines += _twin_details(comparison, data, results, out)
    return lines


def metric_cell(metrics: dict, metric: str) -> str:
    """'0.812', or '0.812 [0.750, 0.875]' where the task gives the metric's own 95% interval."""
    ci = metrics.get(f"{metric}_ci95")
    return f"{metrics[metric]:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def _twin_details(comparison, data: str, results: dict, out: Path) -> list[str]:
    lines = ["", "Most confused pairs (true → chosen, count):", ""]
    for model, result in results.items():
        confused = result.metrics["most_confused"][:5]
        pairs = ", ".join(f"{text(c['true'])} → {text(c['predicted'])} ({c['count']})" for c in confused)
        lines.append(f"- {text(model)}: {pairs or 'none'}")
    confusion = {m: r.extra["confusion"] for m, r in results.items()}
    ref = confusion[comparison.reference]
    worst = sorted(ref, key=lambda g: (ref[g]["acc"], g))[: comparison.confusion_groups]
    if worst:
        file = f"plots/{_slug(data)}-twin-confusion.png"
        confusion_plot(worst, confusion, out / file)
        lines += [
            "",
            f"Confusion matrices of the {len(worst)} worst groups for {text(comparison.reference)}:",
            "",
            f"![twin confusion]({file})",
        ]
    return lines


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
            file = f"examples/{_slug(data)}-{n}.png"
            cell = f"![{text(i)}]({file})" if _thumbnail(items[i].image, out / file) else code(i)
            shown = [preds[m][i] for m in models]
            marks = [f"{text(p['pred'])} {'✓' if p['pred'] == p['label'] else '✗'}" for p in shown]
            lines.append(f"| {cell} | {text(preds[models[0]][i]['label'])} | " + " | ".join(marks) + " |")
        lines.append("")
    return lines


def _thumbnail(ref, path: Path) -> bool:
    try:
        with ref.open() as image:
            image = image.convert("RGB")
            image.thumbnail((THUMB, THUMB))
            with atomic_path(path) as tmp:
                image.save(tmp, format="PNG")
        return True
    except UNREADABLE:
        return False


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
