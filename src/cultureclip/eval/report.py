"""The run's report: metrics.json, report.md, a per-category plot and a grid of twin images."""

from pathlib import Path

from PIL import Image

from cultureclip.eval.zeroshot import METRICS
from cultureclip.io import write_json, write_text

PLOT = "per_category.png"
GRID = "twins.png"


def write_report(
    out: Path, metrics: dict[str, dict], rows: list[dict], images: list[Image.Image], grid_groups: int, notes: list[str]
) -> None:
    """Write metrics.json, the two figures and report.md into `out`."""
    out = Path(out)
    write_json(out / "metrics.json", metrics)
    plot_per_category(metrics, out / PLOT)
    shown = plot_twin_grid(rows, images, grid_groups, out / GRID)
    write_text(out / "report.md", render_markdown(metrics, shown, notes))


def render_markdown(metrics: dict[str, dict], shown: list[dict], notes: list[str]) -> str:
    models = list(metrics)
    lines = [
        "# cultureclip run report",
        "",
        *notes,
        "",
        "## Accuracy on held-out images",
        "",
        "| model | " + " | ".join(METRICS) + " |",
        "|---|" + "---:|" * len(METRICS),
    ]
    lines += [f"| {m} | " + " | ".join(f"{metrics[m][k]:.3f}" for k in METRICS) + " |" for m in models]
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
