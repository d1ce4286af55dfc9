"""The ablation grid preset, WiSE-FT in the run and report, and the ablation benchmark's JSON (tiny sizes)."""

import contextlib
import importlib.util
import io
import json
from pathlib import Path

import pytest

from cultureclip.config import apply_overrides, load_config
from cultureclip.eval.reports.run import METRICS, held_out_accuracy

BENCH = Path(__file__).parents[1] / "benchmarks" / "ablation_world.py"
GRID = {
    "paper", "clip", "caption", "caption_notwin", "concept", "concept_notwin", "paper_notwin",
    "lambda_50_50", "lambda_30_70", "paper_text_lora", "paper_unnormalized", "ours_no_preserve",
}  # fmt: skip
TINY = [
    "model.name=config:test-clip",
    "build.catalog.max_groups=3",
    "build.image_size=32",
    "build.catalog.captions_per_concept=2",
    "build.catalog.train_images=4",
    "build.catalog.test_images=2",
    "pretrain.steps=4",
    "pretrain.batch_size=16",
    "finetune.steps=2",
    "finetune.batch_size=8",
    "eval.bootstrap=50",
    "eval.cache=false",  # every WiSE point is embedded anew, not read back from the base's or tuned's cache
    "wise.alphas=[0, 0.5, 1]",
    *(f"ablations.{name}=null" for name in sorted(GRID - {"paper", "clip"})),
]


def test_the_grid_expands_into_its_variants_on_the_same_data_steps_and_seed():
    cfg = load_config("ablation")
    assert set(cfg.ablations) == GRID
    runs = {name: apply_overrides(cfg.finetune, o, name) for name, o in cfg.ablations.items()}
    weights = {n: (r.loss.caption, r.loss.concept, r.loss.clip, r.loss.twin_negatives) for n, r in runs.items()}
    assert weights["paper"] == (0.7, 0.3, 0, True) and weights["paper_notwin"] == (0.7, 0.3, 0, False)
    assert weights["clip"] == (0, 0, 1, True)
    assert weights["caption"] == (1, 0, 0, True) and weights["caption_notwin"] == (1, 0, 0, False)
    assert weights["concept"] == (0, 1, 0, True) and weights["concept_notwin"] == (0, 1, 0, False)
    assert weights["lambda_50_50"][:2] == (0.5, 0.5) and weights["lambda_30_70"][:2] == (0.3, 0.7)
    paper = runs["paper"]
    assert (paper.tune.mode, paper.tune.lora_r, paper.tune.lora_alpha, paper.tune.lora_dropout) == ("lora", 4, 16, 0.1)
    assert (paper.tune.heads, paper.loss.preserve, paper.schedule, paper.loss.normalize) == (False, 0, "linear", True)
    for name, run in runs.items():  # one change at a time against the reference recipe (or ours)
        start = cfg.finetune if name == "ours_no_preserve" else paper
        changed = {k for k, v in run.model_dump().items() if v != start.model_dump()[k]}
        assert changed <= {"loss", "tune"}, name
        assert (run.steps, run.batch_size, run.sampler, run.seed) == (150, 32, "twins", None)
    assert runs["paper_text_lora"].tune.towers == ["text"] and not runs["paper_unnormalized"].loss.normalize
    assert runs["ours_no_preserve"].loss.preserve == 0 and cfg.finetune.loss.preserve > 0
    assert cfg.finetune.tune.mode == "full" and (cfg.eval.reference, cfg.wise.model) == ("paper", "tuned")


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("ablation_world", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("grid") / "run"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        result = module.main(["--out", str(out), *TINY])
    return module, out, result, printed.getvalue()


def test_the_benchmark_prints_the_issue_json_as_its_last_line(bench_run):
    module, out, result, printed = bench_run
    last = json.loads(printed.strip().splitlines()[-1])
    assert last == result
    assert set(result) == {"variants", "wise", "base"}
    assert set(result["variants"]) == {"ours", "paper", "clip"}
    assert all(set(v) == {"twin_acc", "general_acc"} for v in [*result["variants"].values(), result["base"]])
    assert [p["alpha"] for p in result["wise"]] == [0, 0.5, 1]
    assert all(set(p) == {"alpha", "twin_acc", "general_acc"} for p in result["wise"])
    metrics = held_out_accuracy(json.loads((out / "metrics.json").read_text()))
    assert last["variants"]["ours"]["twin_acc"] == round(metrics["tuned"]["twin_acc"], 4)
    assert set(module.bars(result)) == {
        "paper beats clip on twin_acc by >= 0.05",
        "ours >= paper on twin_acc",
        "ours loses less general_acc than paper",
    }


def test_wise_ends_reproduce_the_base_and_the_tuned_model_exactly(bench_run):
    out = bench_run[1]
    metrics = held_out_accuracy(json.loads((out / "metrics.json").read_text()))
    wise = {p["alpha"]: p for p in json.loads((out / "wise.json").read_text())}
    assert {m: wise[0][m] for m in METRICS} == {m: metrics["base"][m] for m in METRICS}
    assert {m: wise[1][m] for m in METRICS} == {m: metrics["tuned"][m] for m in METRICS}
    assert all(0 <= wise[0.5][m] <= 1 for m in METRICS)


def test_the_report_has_the_grid_table_with_intervals_and_the_wise_curve(bench_run):
    out = bench_run[1]
    raw = json.loads((out / "metrics.json").read_text())
    metrics = held_out_accuracy(raw)
    report = (out / "report.md").read_text()
    assert "| model | concept_acc | twin_acc | general_acc | Δ concept_acc (95% CI) |" in report
    clip = raw["deltas"]["clip"]["held-out"]["choice"]["twin_acc"]
    assert raw["reference"] == "paper" and clip["n"] == raw["datasets"]["held-out"]["items"]
    assert clip["delta"] == pytest.approx(metrics["clip"]["twin_acc"] - metrics["paper"]["twin_acc"])
    low, high = clip["ci95"]
    assert low <= clip["delta"] <= high
    assert f"| clip | {metrics['clip']['concept_acc']:.3f} |" in report and "paper" not in raw["deltas"]
    assert "## WiSE-FT" in report and "![WiSE-FT trade-off](wise.png)" in report and (out / "wise.png").is_file()
    html = (out / "report.html").read_text()
    assert "WiSE-FT" in html and "data:image/png;base64," in html
