"""The comparison report: report.md and a self-contained report.html (figures and example images
inlined), with metric tables, deltas against the reference model and their bootstrap 95% intervals,
per-category and per-culture plots, twin confusion matrices of the worst groups, and images on which
the models disagree."""

from pathlib import Path

from cultureclip.eval.reports.html import code, format_delta, text, write_markdown_and_html
from cultureclip.eval.reports.native import NATIVE, native_section
from cultureclip.eval.reports.plots import bar_plot, confusion_plot
from cultureclip.eval.reports.sections import MAIN_METRIC, disagreements, metric_cell, slug


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
            file = f"plots/{slug(data)}-{task}-{by}.png"
            bar_plot(values, main, out / file)
            lines += ["", f"![{main} {by.replace('_', ' ')}]({file})"]
    if task == "choice":
        lines += _twin_details(comparison, data, results, out)
    return lines


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
        file = f"plots/{slug(data)}-twin-confusion.png"
        confusion_plot(worst, confusion, out / file)
        lines += [
            "",
            f"Confusion matrices of the {len(worst)} worst groups for {text(comparison.reference)}:",
            "",
            f"![twin confusion]({file})",
        ]
    return lines
