"""The ablation grid on the offline world, in one command: `cultureclip run --config ablation`.

Builds the world's dataset and base model once, fine-tunes every variant of the grid from that base (the
reference's loss variants, its λ sweep, LoRA on both towers vs the text tower only, ours with and without
preservation), evaluates them and the WiSE-FT sweep of ours, and prints the issue's bars, the run's wall and
CPU time (on a shared machine the wall time overstates what an idle 2-core CPU needs), and as its last line
one JSON object:
{"variants": {name: {"twin_acc", "general_acc"}}, "wise": [{"alpha", "twin_acc", "general_acc"}],
 "base": {"twin_acc", "general_acc"}}
where `ours` is the run's `tuned` model. The table with the confidence intervals is the run's report.md.

    python benchmarks/ablation_world.py [--out DIR] [key=value ...]
"""

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

KEYS = ("twin_acc", "general_acc")
RENAMED = {"tuned": "ours"}


def summary(metrics: dict, wise: list[dict]) -> dict:
    """The benchmark's JSON: each variant's and the base's accuracies ({model: {metric: value}}, as
    `held_out_accuracy` reads them from metrics.json), and the WiSE-FT points."""
    variants = {RENAMED.get(n, n): {k: round(m[k], 4) for k in KEYS} for n, m in metrics.items() if n != "base"}
    return {
        "variants": variants,
        "wise": [{"alpha": p["alpha"], **{k: round(p[k], 4) for k in KEYS}} for p in wise],
        "base": {k: round(metrics["base"][k], 4) for k in KEYS},
    }


def bars(result: dict) -> dict[str, bool]:
    """The issue's bars on the offline world."""
    v = result["variants"]
    loss = {n: result["base"]["general_acc"] - v[n]["general_acc"] for n in ("paper", "ours")}
    return {
        "paper beats clip on twin_acc by >= 0.05": v["paper"]["twin_acc"] - v["clip"]["twin_acc"] >= 0.05,
        "ours >= paper on twin_acc": v["ours"]["twin_acc"] >= v["paper"]["twin_acc"],
        "ours loses less general_acc than paper": loss["ours"] < loss["paper"],
    }


def main(argv: list[str] | None = None) -> dict:
    from cultureclip.cli import main as cultureclip
    from cultureclip.eval.reports.run import held_out_accuracy

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="run folder (default: a new temporary folder)")
    parser.add_argument("overrides", nargs="*", help="config overrides, as for cultureclip run")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="ablation-world-")) / "run"
    start = time.perf_counter()
    if cultureclip(["run", "--config", "ablation", "--out", str(out), *args.overrides]) != 0:
        sys.exit("cultureclip run failed")
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    metrics = held_out_accuracy(json.loads((out / "metrics.json").read_text()))
    result = summary(metrics, json.loads((out / "wise.json").read_text()))
    print(f"run folder: {out} (table with confidence intervals: {out / 'report.md'})")
    print(
        f"wall {seconds:.0f} s ({seconds / 60:.1f} min), CPU {usage.ru_utime + usage.ru_stime:.0f} s "
        f"on {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"
    )
    for bar, met in bars(result).items():
        print(f"{'met' if met else 'NOT met'}: {bar}")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
