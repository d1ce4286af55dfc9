"""The run view of a Comparison: the three accuracies on the run's held-out split (concept, twin,
general) with their deltas against the reference, per category, the most confused twins, the WiSE-FT
sweep, the native-name scoring (when `eval.names` or `catalog.language` asks for it), the other datasets' main
metrics, the stage wall times, and a grid of twin images.

concept_acc: the concept's name among all concepts' names ("a photo of gyoza."): task classification.
twin_acc:    the concept's name among its twin group's names only, the confusion CultureCLIP targets: task choice.
general_acc: the generic noun among all generic nouns ("a photo of a dumpling."), the stand-in for general
             ability, what the base model was trained to know and fine-tuning must keep: task general.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cultureclip.eval.reports.html import code, format_delta, text, write_markdown_and_html
from cultureclip.eval.reports.native import NATIVE, native_section
from cultureclip.eval.reports.plots import plot_per_category, plot_twin_grid, plot_wise
from cultureclip.eval.reports.sections import MAIN_METRIC, disagreements, metric_cell
from cultureclip.io import write_json

if TYPE_CHECKING:
    from cultureclip.eval.runner import Comparison

HELD_OUT = "held-out"
"""Name of the run's held-out split among the comparison's datasets."""
RUN_TASKS = {
    "concept_acc": ("classification", "top1"),
    "twin_acc": ("choice", "twin_acc"),
    "general_acc": ("general", "general_acc"),
}
METRICS = tuple(RUN_TASKS)
PLOT = "per_category.png"
GRID = "twins.png"
WISE_PLOT = "wise.png"
VIEW = "view/index.html"
"""The run's dataset view (`cultureclip view`), linked from the report when it is there."""
GALLERY_MODELS = ("base", "tuned")
"""The models whose disagreements on held-out images the report shows."""


def headline(results: dict) -> dict[str, float]:
    """concept_acc, twin_acc and general_acc of one model's results ({dataset: {task: TaskResult}})."""
    return {m: results[HELD_OUT][task].metrics[key] for m, (task, key) in RUN_TASKS.items()}


def held_out_accuracy(metrics: dict) -> dict[str, dict[str, float]]:
    """{model: {concept_acc, twin_acc, general_acc}} from a run's metrics.json (as read with json.load)."""
    return {
        name: {m: by_data[HELD_OUT][task][key] for m, (task, key) in RUN_TASKS.items()}
        for name, by_data in metrics["results"].items()
    }


def run_metrics(comparison: Comparison) -> dict[str, dict]:
    """Per model: the three accuracies, their deltas against the reference, per category, top twin confusions."""
    out = {}
    for name, results in comparison.results.items():
        held = results[HELD_OUT]
        categories = sorted(held["classification"].metrics["per_category"])
        out[name] = headline(results) | {
            "per_category": {
                c: {m: held[task].metrics["per_category"][c] for m, (task, _) in RUN_TASKS.items()} for c in categories
            },
            "top_twin_confusions": held["choice"].metrics["most_confused"][:5],
        }
        deltas = comparison.deltas.get(name, {}).get(HELD_OUT)
        if deltas is not None:
            out[name]["deltas"] = {m: deltas[task][key] for m, (task, key) in RUN_TASKS.items()}
    return out


def write_report(comparison: Comparison, out: Path, grid_groups: int) -> None:
    """wise.json, the figures, report.md and report.html into `out` (metrics.json is the runner's:
    `eval.runner.write_results`)."""
    out = Path(out)
    if comparison.wise:
        write_json(out / "wise.json", comparison.wise)
        plot_wise(comparison.wise, out / WISE_PLOT)
    metrics = run_metrics(comparison)
    plot_per_category(metrics, METRICS, out / PLOT)
    shown = plot_twin_grid(comparison.datasets[HELD_OUT], grid_groups, out / GRID)
    view = ["", f"Every image of the run's dataset, twin groups side by side: [the dataset's view]({VIEW})."]
    pair = [m for m in GALLERY_MODELS if m in comparison.results]
    extra = (view if (out / VIEW).is_file() else []) + disagreements(comparison, out, pair, HELD_OUT)
    write_markdown_and_html(render(comparison, metrics, shown) + "\n".join(extra) + "\n", out)


def render(comparison: Comparison, metrics: dict[str, dict], shown: list[dict]) -> str:
    """The run report as Markdown."""
    models, ref = list(metrics), comparison.reference
    data = comparison.datasets[HELD_OUT]
    lines = ["# cultureclip run report", "", *map(text, comparison.notes)]
    lines += [
        "",
        f"{len(data.items)} held-out images of {len(data.classes)} concepts; models: "
        + ", ".join(f"{text(n)} = {code(m['id'])}" for n, m in comparison.models.items())
        + ".",
        "",
        "## Accuracy on held-out images",
        "",
    ]
    has_deltas = len(models) > 1
    if has_deltas:
        lines += [f"Δ: the change against **{text(ref)}** on the same images, with its paired bootstrap 95% interval."]
        lines.append("")
    deltas = [f"Δ {k} (95% CI)" for k in METRICS] if has_deltas else []
    lines += ["| model | " + " | ".join([*METRICS, *deltas]) + " |", "|---|" + "---:|" * (len(METRICS) + len(deltas))]
    for m in models:
        cells = [f"{metrics[m][k]:.3f}" for k in METRICS]
        if has_deltas:
            cells += [format_delta(metrics[m].get("deltas", {}).get(k)) for k in METRICS]
        lines.append(f"| {text(m)} | " + " | ".join(cells) + " |")
    if comparison.wise:
        lines += _wise_section(comparison.wise)
    if "base" in metrics:
        lines += ["", "Change against base:", ""]
        lines += [
            f"- {text(m)}: " + ", ".join(f"{k} {metrics[m][k] - metrics['base'][k]:+.3f}" for k in METRICS)
            for m in models
            if m != "base"
        ]
    lines += native_section(comparison, HELD_OUT)
    lines += _other_datasets(comparison)
    lines += [
        "",
        "## Per category",
        "",
        f"![per-category accuracy]({PLOT})",
        "",
        "| category | " + " | ".join(f"{text(m)} twin_acc" for m in models) + " |",
        "|---|" + "---:|" * len(models),
    ]
    for cat in metrics[models[0]]["per_category"]:
        accuracy = [f"{metrics[m]['per_category'][cat]['twin_acc']:.3f}" for m in models]
        lines.append(f"| {text(cat)} | " + " | ".join(accuracy) + " |")
    lines += ["", "## Most confused twins", ""]
    for m in models:
        confused = metrics[m]["top_twin_confusions"]
        pairs = ", ".join(f"{text(c['true'])} -> {text(c['predicted'])} ({c['count']})" for c in confused)
        lines.append(f"- {text(m)}: {pairs or 'none'}")
    if comparison.stages:
        lines += ["", "## Wall time per stage (this invocation)", "", "| stage | seconds |", "|---|---:|"]
        lines += [f"| {text(stage)} | {value:.1f} |" for stage, value in comparison.stages.items()]
    lines += [
        "",
        "## Twins as rendered, with their captions",
        "",
        f"![twin images]({GRID})",
        "",
        "| concept | culture | caption |",
        "|---|---|---|",
    ]
    lines += [f"| {text(r['name'])} | {text(r['culture'])} | {text(r['caption'])} |" for r in shown]
    return "\n".join(lines) + "\n"


def _other_datasets(comparison: Comparison) -> list[str]:
    """Each other dataset's main metric per task and model, with the change against the reference (and the
    held-out split's tasks beyond the three accuracies, `eval.held_out_tasks`)."""
    ref, lines = comparison.reference, []
    run_tasks = {task for task, _ in RUN_TASKS.values()} | {NATIVE}  # the held-out split's own sections
    for data, by_task in comparison.results[ref].items():
        if data == HELD_OUT:  # its other tasks (eval.held_out_tasks)
            by_task = {t: r for t, r in by_task.items() if t not in run_tasks}
        if not by_task:
            continue
        n = len(comparison.datasets[data].items)
        lines += ["", f"## {text(data)} ({n:,} images, {code(comparison.specs[data].kind)})", ""]
        lines += [f"| model | task | metric | value | Δ against {text(ref)} (95% CI) |", "|---|---|---|---:|---:|"]
        for task, result in by_task.items():
            metric = MAIN_METRIC.get(task, result.paired[0])
            for name, results in comparison.results.items():
                delta = comparison.deltas.get(name, {}).get(data, {}).get(task, {}).get(metric)
                value = metric_cell(results[data][task].metrics, metric)
                lines.append(f"| {text(name)} | {text(task)} | {text(metric)} | {value} | {format_delta(delta)} |")
    return lines


def _wise_section(wise: list[dict]) -> list[str]:
    model = text(wise[0]["model"])
    lines = [
        "",
        "## WiSE-FT: the trade-off between cultural and general accuracy",
        "",
        f"Weights (1-α)·base + α·{model} (LoRA merged first): α = 0 is the base model, α = 1 {model}.",
        "",
        f"![WiSE-FT trade-off]({WISE_PLOT})",
        "",
        "| α | " + " | ".join(METRICS) + " |",
        "|---:|" + "---:|" * len(METRICS),
    ]
    lines += [f"| {p['alpha']:g} | " + " | ".join(f"{p[k]:.3f}" for k in METRICS) + " |" for p in wise]
    return lines
