"""The "Native names" section of both reports: per model, the concept and twin accuracies with English names
in the prompts beside those with each concept's name in another language (task native_names), and the change."""

import math

from cultureclip.eval.reports.html import text

NATIVE = "native_names"
"""The task of the native-name evaluation."""
COLUMNS = ("concept_acc", "twin_acc")


def native_section(comparison, data: str) -> list[str]:
    """The section of dataset `data` (nothing when it was not scored with native names)."""
    results = {m: by_data[data][NATIVE].metrics for m, by_data in comparison.results.items() if NATIVE in by_data[data]}
    if not results:
        return []
    first = next(iter(results.values()))
    language = "its own language" if first["language"] == "native" else f"language {text(first['language'])}"
    total = len(comparison.datasets[data].classes)
    lines = [
        "",
        f"## Native names: {text(data)}",
        "",
        f"The same images with each concept named in {language} in the prompts instead of in English, among the "
        f"{first['concepts']} of {total} concepts that have such a name ({first['n']} images; the twin task on the "
        f"{first['n_twin']} whose twins have one too). Change: native minus English.",
        "",
        "| model | " + " | ".join(f"{c} en | {c} native | change" for c in COLUMNS) + " |",
        "|---|" + "---:|" * 3 * len(COLUMNS),
    ]
    for model, m in results.items():
        cells = [_cell(m[f"{c}_{k}"], k == "gain") for c in COLUMNS for k in ("en", "native", "gain")]
        lines.append(f"| {text(model)} | " + " | ".join(cells) + " |")
    return lines


def _cell(value: float, signed: bool) -> str:
    """A value, or n/a where no image was scored (no twins with native names)."""
    if math.isnan(value):
        return "n/a"
    return f"{value:+.3f}" if signed else f"{value:.3f}"
