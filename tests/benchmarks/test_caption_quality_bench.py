"""benchmarks/caption_quality.py's summary, bars and plot on fabricated figures (the experiment itself is a
benchmark run, not a test)."""

import importlib.util
import json
from pathlib import Path

BENCH = Path(__file__).parents[2] / "benchmarks" / "caption_quality.py"


def _module():
    spec = importlib.util.spec_from_file_location("caption_quality_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _figures(quality: float, twin: float, probe: float) -> dict:
    return {
        "quality": quality,
        "twin_acc": twin,
        "twin_ci": [twin - 0.02, twin + 0.02],
        "linear_probe": probe,
        "linear_probe_ci": [probe - 0.03, probe + 0.03],
        "retrieval_r1": twin / 2,
        "fmnist_linear_probe": 0.81234567,
        "concept_acc": twin / 3,
    }


FIGURES = {
    "template": _figures(0.7, 0.80, 0.70),
    "generic": _figures(0.1, 0.30, 0.40),
    "smollm2": _figures(0.3, 0.50, 0.50),
    "no_details": _figures(0.2, 0.70, 0.60),
    "wrong_details": _figures(0.4, 0.60, 0.65),
    "smollm2_recaptioned": _figures(0.5, 0.55, 0.66666666),
}


def test_the_summary_is_the_issue_json_in_the_intended_order(tmp_path):
    bench = _module()
    result = bench.summary(FIGURES)
    assert result["order"] == ["generic", "wrong_details", "no_details", "smollm2", "smollm2_recaptioned", "template"]
    assert list(result["variants"]) == result["order"]
    assert all(set(v) == set(bench.KEYS) for v in result["variants"].values())  # concept_acc is printed, not in it
    assert result["variants"]["smollm2_recaptioned"]["linear_probe"] == 0.6667
    assert result["variants"]["generic"]["twin_ci"] == [0.28, 0.32]
    # by quality (generic, no_details, smollm2, wrong_details, smollm2_recaptioned, template) the twin ranks are
    # 1, 5, 2, 4, 3, 6: squared rank differences 0 + 9 + 1 + 0 + 4 + 0, rho = 1 - 6 * 14 / (6 * 35)
    assert result["spearman"] == 0.6
    assert json.loads(json.dumps(result)) == result
    bars = bench.bars(result)
    assert bars["twin_acc rises generic -> template, 95% intervals apart"]
    assert bars["linear_probe rises generic -> template, 95% intervals apart"]
    assert bars["wrong_details below template on twin_acc"] and bars["wrong_details below template on linear_probe"]
    bench.plot(result, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 0


def test_overlapping_intervals_and_a_constant_quality_are_reported_as_such():
    bench = _module()
    figures = {n: f | {"quality": 0.5} for n, f in FIGURES.items()}
    figures["template"] = _figures(0.5, 0.31, 0.41)
    result = bench.summary(figures)
    assert result["spearman"] is None
    bars = bench.bars(result)
    assert not bars["twin_acc rises generic -> template, 95% intervals apart"]
    assert not bars["linear_probe rises generic -> template, 95% intervals apart"]
    assert not bars["wrong_details below template on twin_acc"]
