"""`cultureclip bench NAME --root R`: one of the paper's benchmarks, scored by the evaluator (the `choice`
task on the dataset kind NAME), written in the benchmark's own result format: results.jsonl (one line per
question: its fields, row, image, options, correct, predicted, hit) and summary.json."""

import json
from pathlib import Path

from cultureclip.backends.clip import ClipModel
from cultureclip.config import BenchConfig, DatasetSpec, EvalConfig
from cultureclip.errors import ConfigError
from cultureclip.eval.datasets.crope import CROPE
from cultureclip.eval.datasets.globalrg_grounding import GLOBALRG_GROUNDING
from cultureclip.eval.datasets.globalrg_retrieval import GLOBALRG_RETRIEVAL
from cultureclip.eval.datasets.questions import Benchmark, load_questions
from cultureclip.eval.runner import compare_models
from cultureclip.io import write_text

BENCHMARKS: dict[str, Benchmark] = {b.name: b for b in (CROPE, GLOBALRG_GROUNDING, GLOBALRG_RETRIEVAL)}
RESULTS = "results.jsonl"
SUMMARY = "summary.json"


def run_benchmark(
    name: str,
    root: Path,
    model_id: str,
    bench: BenchConfig,
    cfg: EvalConfig,
    device: str = "auto",
    out: Path | None = None,
    model: ClipModel | None = None,
) -> dict:
    """Score benchmark `name` on the release in `root` with the model `model_id` (or the loaded `model`);
    the summary {benchmark, model, seed, questions, correct, accuracy}, and OUT/results.jsonl and
    OUT/summary.json when `out` is given."""
    if name not in BENCHMARKS:
        raise ConfigError(f"unknown benchmark {name!r}; known: {', '.join(sorted(BENCHMARKS))}")
    spec = DatasetSpec(kind=name, path=root, tasks=["choice"], seed=bench.seed)
    cfg = cfg.model_copy(update={"batch_size": bench.batch_size, "bootstrap": 0})
    loaded = {"model": model} if model is not None else None
    comparison = compare_models({"model": model_id}, [spec], cfg, device, bench.seed, loaded=loaded)
    picked = {r["id"]: r["pred"] for r in comparison.results["model"][name]["choice"].records}
    _, questions = load_questions(BENCHMARKS[name], root, bench.seed)
    lines = []
    for q in questions:
        predicted = q.options.index(picked[q.id]) if q.id in picked else None
        where = {"row": q.row, "image": f"{q.column}[{q.index}]", "options": q.options, "correct": q.correct}
        lines.append({**q.info, **where, "predicted": predicted, "hit": predicted == q.correct})
    hits = sum(line["hit"] for line in lines)
    summary = {
        "benchmark": name,
        "model": model_id,
        "seed": bench.seed,
        "questions": len(lines),
        "correct": hits,
        "accuracy": hits / len(lines),
    }
    if out is not None:
        write_text(Path(out) / RESULTS, "".join(json.dumps(line) + "\n" for line in lines))
        write_text(Path(out) / SUMMARY, json.dumps(summary, indent=2) + "\n")
    return summary
