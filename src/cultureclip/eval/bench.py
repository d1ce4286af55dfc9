"""`cultureclip bench NAME`: a benchmark people know, scored by the evaluator with its published protocol and
written in its own result format: results.jsonl (one line per question: its fields, row, image, options,
correct, predicted, hit; for a classification benchmark one per image: id, label, pred, hit) and summary.json.

Multiple-choice benchmarks (the `choice` task, each a dataset kind): GlobalRG-Retrieval, GlobalRG-Grounding,
CROPE and CVQA (English, local language). Zero-shot classification benchmarks: GeoDE, Dollar Street. Without
`--root`, a benchmark on the hub is fetched into the Hugging Face cache (`cultureclip.eval.hub`); the others
name where to download them.
"""

import json
from pathlib import Path

from cultureclip.backends.clip import ClipModel
from cultureclip.config import BenchConfig, DatasetSpec, EvalConfig
from cultureclip.errors import ConfigError
from cultureclip.eval.datasets.crope import CROPE
from cultureclip.eval.datasets.cvqa import CVQA, CVQA_LOCAL
from cultureclip.eval.datasets.dollar_street import HOME as DOLLAR_STREET_HOME
from cultureclip.eval.datasets.geode import HOME as GEODE_HOME
from cultureclip.eval.datasets.globalrg_grounding import GLOBALRG_GROUNDING
from cultureclip.eval.datasets.globalrg_retrieval import GLOBALRG_RETRIEVAL
from cultureclip.eval.datasets.questions import Benchmark, load_questions
from cultureclip.eval.hub import fetch_release
from cultureclip.eval.runner import compare_models
from cultureclip.io import write_text

BENCHMARKS: dict[str, Benchmark] = {
    b.name: b for b in (CROPE, CVQA, CVQA_LOCAL, GLOBALRG_GROUNDING, GLOBALRG_RETRIEVAL)
}
"""Multiple-choice benchmarks by name (each on the hub: `Benchmark.source`)."""
CLASSIFICATION: dict[str, str] = {"dollar_street": DOLLAR_STREET_HOME, "geode": GEODE_HOME}
"""Zero-shot classification benchmarks by name, with where their release is downloaded (not the hub)."""
RESULTS = "results.jsonl"
SUMMARY = "summary.json"


def list_benchmarks() -> list[str]:
    return sorted([*BENCHMARKS, *CLASSIFICATION])


def release_root(name: str, root: Path | None) -> Path:
    """The local release of benchmark `name`: `root`, else the hub's copy (fetched into the cache once)."""
    if name not in BENCHMARKS and name not in CLASSIFICATION:
        raise ConfigError(f"unknown benchmark {name!r}; known: {', '.join(list_benchmarks())}")
    if root is not None:
        return Path(root)
    if name in CLASSIFICATION:
        raise ConfigError(
            f"benchmark {name} is not on the hub: download it from {CLASSIFICATION[name]} and pass --root"
        )
    return fetch_release(name, BENCHMARKS[name].source)


def run_benchmark(
    name: str,
    root: Path | None,
    model_id: str,
    bench: BenchConfig,
    cfg: EvalConfig,
    device: str = "auto",
    out: Path | None = None,
    model: ClipModel | None = None,
) -> dict:
    """Score benchmark `name` on the release in `root` (None: the hub's copy) with the model `model_id` (or the
    loaded `model`); the summary {benchmark, model, seed, questions, correct, accuracy}, and OUT/results.jsonl
    and OUT/summary.json when `out` is given. A classification benchmark asks one question per image."""
    root = release_root(name, root)
    task = "classification" if name in CLASSIFICATION else "choice"
    spec = DatasetSpec(kind=name, path=root, tasks=[task], seed=bench.seed)
    cfg = cfg.model_copy(update={"batch_size": bench.batch_size, "bootstrap": 0})
    loaded = {"model": model} if model is not None else None
    comparison = compare_models({"model": model_id}, [spec], cfg, device, bench.seed, loaded=loaded)
    records = comparison.results["model"][name][task].records
    lines = _classified(records) if task == "classification" else _answered(name, root, bench.seed, records)
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


def _answered(name: str, root: Path, seed: int, records: list[dict]) -> list[dict]:
    """A result line per question of a multiple-choice benchmark, in the release's order."""
    picked = {r["id"]: r["pred"] for r in records}
    _, questions = load_questions(BENCHMARKS[name], root, seed)
    lines = []
    for q in questions:
        predicted = q.options.index(picked[q.id]) if q.id in picked else None
        where = {"row": q.row, "image": f"{q.column}[{q.index}]", "options": q.options, "correct": q.correct}
        lines.append({**q.info, **where, "predicted": predicted, "hit": predicted == q.correct})
    return lines


def _classified(records: list[dict]) -> list[dict]:
    """A result line per image of a classification benchmark."""
    return [{k: r[k] for k in ("id", "label", "pred", "culture")} | {"hit": bool(r["top1"])} for r in records]
