"""The run's report: metrics.json, report.md, a per-category plot and a grid of twin images."""

from pathlib import Path

from PIL import Image

from cultureclip.eval.compare_report import format_delta, to_html
from cultureclip.eval.zeroshot import METRICS
from cultureclip.io import write_json, write_text

PLOT = "per_category.png"
GRID = "twins.png"
WISE_PLOT = "wise.png"


def write_report(
    out: Path,
    metrics: dict[str, dict],
    rows: list[dict],
    images: list[Image.Image],
    grid_groups: int,
    notes: list[str],
    wise: list[dict] = (),
) -> None:
    """Write metrics.json (and wise.json: the WiSE-FT points), the figures, report.md and report.html into `out`."""
    out = Path(out)
    write_json(out / "metrics.json", metrics)
    if wise:
        write_json(out / "wise.json", list(wise))
        plot_wise(wise, out / WISE_PLOT)
    plot_per_category(metrics, out / PLOT)
    shown = plot_twin_grid(rows, images, grid_groups, out / GRID)
    markdown = render_markdown(metrics, shown, notes, wise)
    write_text(out / "report.md", markdown)
    write_text(out / "report.html", to_html(markdown, out))


def render_markdown(metrics: dict[str, dict], shown: list[dict], notes: list[str], wise: list[dict] = ()) -> str:
    models = list(metrics)
    ref = next((metrics[m]["deltas"]["reference"] for m in models if "deltas" in metrics[m]), None)
    lines = ["# cultureclip run report", "", *notes, "", "## Accuracy on held-out images", ""]
    if ref is not None:
        lines += [f"Δ: the change against **{ref}** on the same images, with its paired bootstrap 95% interval.", ""]
    deltas = [f"Δ {k} (95% CI)" for k in METRICS] if ref is not None else []
    lines += ["| model | " + " | ".join([*METRICS, *deltas]) + " |", "|---|" + "---:|" * (len(METRICS) + len(deltas))]
    for m in models:
        cells = [f"{metrics[m][k]:.3f}" for k in METRICS]
        if ref is not None:
            cells += [format_delta(metrics[m].get("deltas", {}).get(k)) for k in METRICS]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    if wise:
        lines += _wise_section(wise)
    if "base" in metrics:
        lines += ["", "Change against base:", ""]
        lines += [
            f"- {m}: " + ", ".join(f"{k} {metrics[m][k] - metrics['base'][k]:+.3f}" for k in METRICS)
            for m in models
            if m != "base"
        ]
    lines += [
        "",
        "## Per category",
        "",
        f"![per-category accuracy]({PLOT})",
        "",
        "| category | " + " | ".join(f"{m} twin_acc" for m in models) + " |",
        "|---|" + "---:|" * len(models),
    ]
    for cat in metrics[models[0]]["per_category"]:
        lines.append(
            f"| {cat} | " + " | ".join(f"{metrics[m]['per_category'][cat]['twin_acc']:.3f}" for m in models) + " |"
        )
    lines += ["", "## Most confused twins", ""]
    for m in models:
        pairs = ", ".join(f"{c['true']} -> {c['predicted']} ({c['count']})" for c in metrics[m]["top_twin_confusions"])
        lines.append(f"- {m}: {pairs or 'none'}")
    lines += [
        "",
        "## Twins as rendered, with their captions",
        "",
        f"![twin images]({GRID})",
        "",
        "| concept | culture | caption |",
        "|---|---|---|",
    ]
    lines += [f"| {r['name']} | {r['culture']} | {r['caption']} |" for r in shown]
    return "\n".join(lines) + "\n"


def plot_per_category(metrics: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    models = list(metrics)
    categories = list(metrics[models[0]]["per_category"])
    fig, axes = plt.subplots(1, len(METRICS), figsize=(5 * len(METRICS), 3.8), sharey=True)
    width = 0.8 / len(models)
    x = np.arange(len(categories))
    for ax, metric in zip(axes, METRICS, strict=True):
        for k, m in enumerate(models):
            ax.bar(x + k * width, [metrics[m]["per_category"][c][metric] for c in categories], width, label=m)
        ax.set_xticks(x + width * (len(models) - 1) / 2, categories, rotation=30, ha="right")
        ax.set_title(metric)
        ax.set_ylim(0, 1)
    axes[0].set_ylabel("accuracy (held-out images)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_twin_grid(rows: list[dict], images: list[Image.Image], groups: int, path: Path) -> list[dict]:
    """One image per concept for the first `groups` twin groups, a row per group; returns the rows shown."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first: dict[str, dict[str, int]] = {}
    for i, r in enumerate(rows):
        first.setdefault(r["twin_group"], {}).setdefault(r["concept_id"], i)
    chosen = list(first.values())[:groups]
    cols = max(len(g) for g in chosen)
    fig, axes = plt.subplots(len(chosen), cols, figsize=(2.2 * cols, 2.4 * len(chosen)), squeeze=False)
    shown = []
    for r, group in enumerate(chosen):
        for c in range(cols):
            ax = axes[r][c]
            ax.axis("off")
            if c < len(group):
                i = list(group.values())[c]
                ax.imshow(images[i])
                ax.set_title(f"{rows[i]['name']}\n({rows[i]['culture']})", fontsize=8)
                shown.append(rows[i])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return shown


def _wise_section(wise: list[dict]) -> list[str]:
    model = wise[0]["model"]
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


def plot_wise(wise: list[dict], path: Path) -> None:
    """General accuracy (x) against twin and concept accuracy (y), one point per α, labelled with α."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    x = [p["general_acc"] for p in wise]
    for metric, marker in (("twin_acc", "o-"), ("concept_acc", "s--")):
        y = [p[metric] for p in wise]
        ax.plot(x, y, marker, label=metric)
        for p, xi, yi in zip(wise, x, y, strict=True):
            ax.annotate(f"α={p['alpha']:g}", (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlabel("general_acc")
    ax.set_ylabel("cultural accuracy")
    ax.set_title(f"WiSE-FT: base ↔ {wise[0]['model']}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
