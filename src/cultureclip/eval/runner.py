"""The one scorer: compare several models on the same datasets, every task each dataset supports, with
the deltas against the first model (paired bootstrap 95% intervals). `cultureclip compare`, the
run's evaluation and `cultureclip bench` all call `compare_models`; `write_results` writes per-item
predictions and results as JSON lines and metrics.json, which has one shape for all of them."""

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from cultureclip.backends.clip import ClipModel, create_clip
from cultureclip.config import CatalogConfig, DatasetSpec, EvalConfig, TowersConfig
from cultureclip.errors import ConfigError, CultureClipError, DataError
from cultureclip.eval.cache import EmbeddingCache, default_cache_dir, model_fingerprint
from cultureclip.eval.datasets import load_dataset
from cultureclip.eval.datasets.base import EvalDataset
from cultureclip.eval.embed import Encoder
from cultureclip.eval.native import attach_native_names
from cultureclip.eval.stats import compare_records
from cultureclip.eval.tasks import TaskResult, run_task, task_prompts
from cultureclip.io import atomic_path, plain_name, write_json
from cultureclip.runtime import announce, resolve_precision

log = logging.getLogger(__name__)


@dataclass
class Comparison:
    """Everything a report needs: models, datasets, task results by model, dataset and task, and what the
    caller adds before rendering (the run's stage wall times, its WiSE-FT points, notes)."""

    models: dict[str, dict]
    datasets: dict[str, EvalDataset]
    specs: dict[str, DatasetSpec]
    unreadable: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    results: dict[str, dict[str, dict[str, TaskResult]]] = field(default_factory=dict)
    deltas: dict = field(default_factory=dict)
    examples: int = 8
    """Images where the models disagree, shown per dataset."""
    confusion_groups: int = 4
    stages: dict[str, float] = field(default_factory=dict)
    """Wall time in seconds per stage of the invocation that produced it (the run's build, train, eval)."""
    wise: list[dict] = field(default_factory=list)
    """WiSE-FT points: {"alpha", "model", and the run's headline accuracies}."""
    notes: list[str] = field(default_factory=list)
    """Lines the report shows under its title."""

    @property
    def reference(self) -> str:
        return next(iter(self.models))


def compare_models(
    models: dict[str, str],
    datasets: list[DatasetSpec],
    cfg: EvalConfig,
    device: str,
    seed: int,
    towers: TowersConfig | None = None,
    loaded: dict[str, ClipModel] | None = None,
    catalog: CatalogConfig | None = None,
) -> Comparison:
    """Evaluate `models` (name -> model id; the first is the reference) on `datasets`.

    A model in `loaded` (by name) is scored as given instead of being loaded from its id, so a caller that
    needs the models afterwards (the run's WiSE-FT sweep) loads each once. `catalog` is the catalogue a
    dataset's `names` come from (default: the shipped one).
    """
    if not models:
        raise ConfigError("no models to evaluate: give --models name=MODEL_ID,... or eval.models")
    for name in models:  # each names a folder of predictions/
        plain_name(name, "model name")
    comparison = load_datasets(datasets, cfg, catalog)
    for name, model_id in models.items():
        start = time.perf_counter()
        model = (loaded or {}).get(name) or load_model(name, model_id, device, towers)
        runtime = announce(f"evaluating {name}", str(model.device), eval_precision(model, cfg))
        comparison.results[name], encoded, fingerprint = score_model(comparison, model, cfg)
        comparison.models[name] = {
            "id": model_id,
            "fingerprint": fingerprint,
            "encoded": encoded,
            "seconds": round(time.perf_counter() - start, 2),
            "runtime": runtime,
        }
        log.info("%s: encoded %s in %.1f s", name, encoded, comparison.models[name]["seconds"])
    comparison.deltas = _deltas(comparison, cfg.bootstrap, seed)
    return comparison


def load_datasets(datasets: list[DatasetSpec], cfg: EvalConfig, catalog: CatalogConfig | None = None) -> Comparison:
    """A Comparison holding the loaded datasets (checked: distinct names, the tasks asked for supported), with
    their classes' names in a spec's `names` language from `catalog` (default: the shipped catalogue)."""
    if not datasets:
        raise ConfigError("no datasets to evaluate: give --data KIND:PATH or eval.datasets")
    loaded = [(spec, load_dataset(spec)) for spec in datasets]
    for spec, data in loaded:
        if spec.names is not None:
            attach_native_names(data, spec.names, catalog or CatalogConfig())
    names = [plain_name(data.name, "dataset name (set `name` in eval.datasets)") for _, data in loaded]
    if len(set(names)) != len(names):
        raise ConfigError(f"two datasets are named {_first_duplicate(names)!r}: set `name` in eval.datasets")
    for spec, data in loaded:
        unsupported = [t for t in _tasks(spec, data) if t not in data.supported_tasks()]
        if unsupported:
            raise ConfigError(
                f"dataset {data.name}: task {unsupported[0]!r} needs fields it lacks (has: {data.supported_tasks()})"
            )
    comparison = Comparison({}, {d.name: d for _, d in loaded}, {d.name: s for s, d in loaded})
    comparison.examples, comparison.confusion_groups = cfg.examples, cfg.confusion_groups
    return comparison


def score_model(comparison: Comparison, model: ClipModel, cfg: EvalConfig) -> tuple[dict, dict[str, int], str]:
    """One model on every dataset of `comparison`: ({dataset: {task: TaskResult}}, what it encoded, its
    fingerprint). Unreadable images are recorded in `comparison.unreadable`."""
    fingerprint = model_fingerprint(model)
    cache_root = (cfg.cache_dir or default_cache_dir()) if cfg.cache else None
    precision = eval_precision(model, cfg)
    space = fingerprint if precision == "fp32" else f"{fingerprint}-{precision}"  # each precision's own vectors
    encoder = Encoder(model, EmbeddingCache(cache_root, space), cfg.batch_size, cfg.workers, precision)
    results = {}
    for name, data in comparison.datasets.items():
        results[name], comparison.unreadable[name] = evaluate_dataset(
            data, _tasks(comparison.specs[name], data), encoder
        )
    return results, dict(encoder.encoded), fingerprint


def eval_precision(model: ClipModel, cfg: EvalConfig) -> str:
    """The precision `eval.precision` means on the device the model is on."""
    return resolve_precision(cfg.precision, str(model.device))


def load_model(name: str, model_id: str, device: str, towers: TowersConfig | None = None) -> ClipModel:
    """The model an id names, with a load failure reported as an error naming the model."""
    try:
        return create_clip(model_id, device, towers)
    except CultureClipError as err:
        raise type(err)(f"model {name}: {err}") from None
    except Exception as err:  # a hub or checkpoint failure deep inside open_clip / torch
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(f"model {name}: cannot load {model_id} ({reason})") from None


def _tasks(spec: DatasetSpec, data: EvalDataset) -> list[str]:
    return spec.tasks or list(data.default_tasks())


def evaluate_dataset(data: EvalDataset, tasks: list[str], encoder: Encoder) -> tuple[dict, list[tuple[str, str]]]:
    """Run `tasks` on `data` with one model: {task: TaskResult} and the (image, reason) of unreadable ones.

    The tasks' prompts are encoded in a thread while the dataloader workers decode the images.
    """
    prompts = list(dict.fromkeys(p for task in tasks for p in task_prompts(task, data)))
    features, failed = encoder.images([it.image for it in data.items], alongside=lambda: encoder.texts(prompts))
    unreadable = [(data.items[i].image.name, reason) for i, reason in sorted(failed.items())]
    for image, reason in unreadable:
        log.warning("skipped unreadable image %s (%s)", image, reason)
    keep = [i for i in range(len(data.items)) if i not in failed]
    if not keep:
        raise DataError(f"dataset {data.name}: no readable image among {len(data.items)}")
    subset, kept = data.subset(keep), features[torch.tensor(keep)]
    return {task: run_task(task, subset, kept, encoder) for task in tasks}, unreadable


def _deltas(comparison: Comparison, resamples: int, seed: int) -> dict:
    ref = comparison.results[comparison.reference]
    deltas: dict = {}
    for name, by_data in comparison.results.items():
        if name == comparison.reference:
            continue
        for data, by_task in by_data.items():
            for task, result in by_task.items():
                base = ref[data][task]
                deltas.setdefault(name, {}).setdefault(data, {})[task] = {
                    m: compare_records(base.records, result.records, m, resamples, seed) for m in result.paired
                }
    return deltas


def write_results(comparison: Comparison, out: Path) -> None:
    """results.jsonl (a line per model, dataset and task), predictions/ and metrics.json into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    for name, by_data in comparison.results.items():
        for data, by_task in by_data.items():
            for task, result in by_task.items():
                lines.append(
                    {"model": name, **comparison.models[name], "dataset": data, "task": task, "metrics": result.metrics}
                )
                _write_jsonl(out / "predictions" / name / data / f"{task}.jsonl", result.records)
    _write_jsonl(out / "results.jsonl", lines)
    write_json(out / "metrics.json", metrics_summary(comparison))


def metrics_summary(comparison: Comparison) -> dict:
    """metrics.json: models, datasets, results[model][dataset][task] (the task's metrics), reference,
    deltas[model][dataset][task][metric] against the reference, stages and wise."""
    return {
        "models": comparison.models,
        "datasets": {
            name: {
                "kind": comparison.specs[name].kind,
                "path": str(comparison.specs[name].path),
                "items": len(data.items),
                "skipped_at_load": len(data.skipped),
                "unreadable": len(comparison.unreadable.get(name, [])),
            }
            for name, data in comparison.datasets.items()
        },
        "results": {
            m: {d: {t: r.metrics for t, r in by_task.items()} for d, by_task in by_data.items()}
            for m, by_data in comparison.results.items()
        },
        "reference": comparison.reference,
        "deltas": comparison.deltas,
        "stages": comparison.stages,
        "wise": comparison.wise,
    }


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _first_duplicate(names: list[str]) -> str:
    return next(n for i, n in enumerate(names) if n in names[:i])


def parse_models(text: str) -> dict[str, str]:
    """'base=ID,tuned=ID' -> {'base': 'ID', 'tuned': 'ID'}; names must be distinct."""
    models: dict[str, str] = {}
    for entry in filter(None, (e.strip() for e in text.split(","))):
        name, sep, model_id = entry.partition("=")
        if not sep or not name.strip() or not model_id.strip():
            raise ConfigError(f"--models {text!r}: expected name=MODEL_ID,... (got {entry!r})")
        plain_name(name.strip(), f"--models {text!r}: the model name")
        if name.strip() in models:
            raise ConfigError(f"--models {text!r}: the name {name.strip()!r} appears twice")
        models[name.strip()] = model_id.strip()
    if not models:
        raise ConfigError(f"--models {text!r}: expected name=MODEL_ID,...")
    return models


def parse_data(text: str) -> DatasetSpec:
    """'KIND:PATH', or 'clip_benchmark/NAME:ROOT' for a standard dataset, as a DatasetSpec."""
    kind, sep, path = text.partition(":")
    if not sep or not kind or not path:
        raise ConfigError(f"--data {text!r}: expected KIND:PATH (or clip_benchmark/NAME:ROOT)")
    kind, _, dataset = kind.partition("/")
    return DatasetSpec(kind=kind, path=Path(path).expanduser(), dataset=dataset or None)
