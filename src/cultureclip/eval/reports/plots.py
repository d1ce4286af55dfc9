"""The reports' figures: accuracy per category or culture for each model, twin confusion matrices side by
side (the comparison view); per-category accuracy, a grid of twin images and the WiSE-FT curve (the run view)."""

from pathlib import Path

from cultureclip.io import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["text.parse_math"] = False  # labels are names from data: a '$' is a dollar, not TeX
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path, dpi: int) -> None:
    """Write the figure as a PNG at `path` through the atomic writer (a link there is replaced, not followed)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")


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
    _save(fig, path, 100)
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
    _save(fig, path, 100)
    plt.close(fig)


def plot_per_category(metrics: dict[str, dict], names: tuple[str, ...], path: Path) -> None:
    """One panel per metric of `names`, a group of bars per category, a bar per model."""
    import numpy as np

    plt = _pyplot()
    models = list(metrics)
    categories = list(metrics[models[0]]["per_category"])
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.8), sharey=True)
    width = 0.8 / len(models)
    x = np.arange(len(categories))
    for ax, metric in zip(axes, names, strict=True):
        for k, m in enumerate(models):
            ax.bar(x + k * width, [metrics[m]["per_category"][c][metric] for c in categories], width, label=m)
        ax.set_xticks(x + width * (len(models) - 1) / 2, categories, rotation=30, ha="right")
        ax.set_title(metric)
        ax.set_ylim(0, 1)
    axes[0].set_ylabel("accuracy (held-out images)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path, 110)
    plt.close(fig)


def plot_twin_grid(data, groups: int, path: Path) -> list[dict]:
    """One image per concept of the EvalDataset `data` for its first `groups` twin groups, a row per group;
    returns what is shown: {name, culture, caption} per image."""
    plt = _pyplot()
    first: dict[str, dict[int, int]] = {}
    for i, item in enumerate(data.items):
        first.setdefault(item.group, {}).setdefault(item.label, i)
    chosen = list(first.values())[:groups]
    cols = max(len(g) for g in chosen)
    fig, axes = plt.subplots(len(chosen), cols, figsize=(2.2 * cols, 2.4 * len(chosen)), squeeze=False)
    shown = []
    for r, group in enumerate(chosen):
        for c in range(cols):
            ax = axes[r][c]
            ax.axis("off")
            if c < len(group):
                item = data.items[list(group.values())[c]]
                with item.image.open() as image:
                    ax.imshow(image.convert("RGB"))
                name = data.classes[item.label]
                ax.set_title(f"{name}\n({item.culture})", fontsize=8)
                shown.append({"name": name, "culture": item.culture, "caption": item.captions[0]})
    fig.tight_layout()
    _save(fig, path, 110)
    plt.close(fig)
    return shown


def plot_wise(wise: list[dict], path: Path) -> None:
    """General accuracy (x) against twin and concept accuracy (y), one point per α, labelled with α."""
    plt = _pyplot()

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
    _save(fig, path, 110)
    plt.close(fig)
