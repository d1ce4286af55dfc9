"""The comparison report's figures: accuracy per category or culture for each model, and twin
confusion matrices side by side."""

from pathlib import Path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def bar_plot(values: dict[str, dict[str, float]], metric: str, path: Path) -> None:
    """Horizontal grouped bars: one group per key (category, culture), one bar per model."""
    import numpy as np

    plt = _pyplot()
    models = list(values)
    keys = sorted({k for v in values.values() for k in v})
    height = 0.8 / len(models)
    fig, ax = plt.subplots(figsize=(7, 0.9 + 0.28 * len(keys) * max(1, len(models) / 2)))
    y = np.arange(len(keys))
    for n, model in enumerate(models):
        ax.barh(y + n * height, [values[model].get(k, 0.0) for k in keys], height, label=model)
    ax.set_yticks(y + height * (len(models) - 1) / 2, keys, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel(metric)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def confusion_plot(groups: list[str], confusion: dict[str, dict[str, dict]], path: Path) -> None:
    """A row per twin group, a column per model: counts of (true, chosen) within the group."""
    plt = _pyplot()
    models = list(confusion)
    fig, axes = plt.subplots(len(groups), len(models), figsize=(3.4 * len(models), 3.0 * len(groups)), squeeze=False)
    for r, group in enumerate(groups):
        for c, model in enumerate(models):
            ax, entry = axes[r][c], confusion[model][group]
            ax.imshow(entry["matrix"], cmap="Blues")
            names = [n[:18] for n in entry["classes"]]
            ax.set_xticks(range(len(names)), names, rotation=40, ha="right", fontsize=7)
            ax.set_yticks(range(len(names)), names, fontsize=7)
            top = max(max(row) for row in entry["matrix"]) or 1
            for i, row in enumerate(entry["matrix"]):
                for j, count in enumerate(row):
                    colour = "white" if count > top / 2 else "black"
                    ax.text(j, i, str(count), ha="center", va="center", fontsize=7, color=colour)
            ax.set_title(f"{model}: {group[:30]} ({entry['acc']:.2f})", fontsize=8)
    fig.supxlabel("chosen", fontsize=8)
    fig.supylabel("true", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
