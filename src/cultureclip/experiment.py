"""The main job, stage by stage: build the dataset, train base/tuned/ablations, evaluate, report.

Every stage writes into the run folder atomically and leaves a completion marker, so running the
same config again skips what is done and picks up where a crash stopped.
"""

import hashlib
import logging
import time
from datetime import datetime
from pathlib import Path

from cultureclip import photos
from cultureclip.backends.clip import create_clip
from cultureclip.builder.paper import build_paper_dataset
from cultureclip.builder.pipeline import build_dataset
from cultureclip.config import ExtraDataConfig, RunConfig, TrainConfig, dump_config
from cultureclip.data.shards import read_split
from cultureclip.eval.report import write_report
from cultureclip.eval.stats import deltas_against
from cultureclip.eval.zeroshot import evaluate
from cultureclip.importers.fashion_mnist import import_fashion_mnist
from cultureclip.io import is_done, write_json, write_text
from cultureclip.train.fit import fit_to_folder
from cultureclip.wise import wise_sweep

log = logging.getLogger(__name__)
EXTRA_IMPORTERS = {"fashion_mnist": import_fashion_mnist}
"""The importer of each `extra_data` kind."""
WORLD_NOTE = (
    "Offline world: images are procedurally rendered from each concept's structured attributes, "
    "a controlled experiment with known ground truth, not a claim about photographs."
)


def resolve_out(cfg: RunConfig) -> Path:
    """The run folder (runs/<timestamp> by default), with the resolved config saved in it."""
    out = cfg.out or Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "config.yaml", dump_config(cfg.model_copy(update={"out": out})))
    return out


def build(cfg: RunConfig, out: Path) -> Path:
    if cfg.build.recipe == "paper":  # the reference data recipe (the paper-build preset)
        return build_paper_dataset(cfg.build, cfg.seed, out / "data", cfg.model.name)
    return build_dataset(cfg.catalog, cfg.build, cfg.seed, out / "data", cfg.model.name)


def train_models(cfg: RunConfig, out: Path, seconds: dict[str, float] | None = None) -> dict[str, str]:
    """Train the base (if `pretrain` is set), the tuned model and each ablation; return model ids.

    Each training's `extra_data` is imported into OUT/extra_data and trained on after the world's train split.
    Each model's wall time goes into `seconds` when given.
    """
    seconds = {} if seconds is None else seconds
    models = {"base": cfg.model.name}
    runs = {name: cfg.training(name) for name in ("tuned", *cfg.ablations)}
    if cfg.pretrain is not None:
        start = time.perf_counter()
        seed = cfg.seed if cfg.pretrain.seed is None else cfg.pretrain.seed
        models["base"] = _train(cfg, out, cfg.model.name, cfg.pretrain, seed, "base")
        seconds["base"] = time.perf_counter() - start
    for name, train_cfg in runs.items():
        start = time.perf_counter()
        seed = cfg.seed + 1 if train_cfg.seed is None else train_cfg.seed
        models[name] = _train(cfg, out, models["base"], train_cfg, seed, name)
        seconds[name] = time.perf_counter() - start
    return models


def _train(cfg: RunConfig, out: Path, start: str, train_cfg: TrainConfig, seed: int, name: str) -> str:
    """Train one model of the run into OUT/models/NAME on OUT/data and the training's extra data."""
    extra = [_import_extra(spec, out / "extra_data", cfg.seed) for spec in train_cfg.extra_data]
    train_cfg = train_cfg.model_copy(update={"seed": seed})
    folder = fit_to_folder(start, [out / "data", *extra], train_cfg, out / "models" / name, cfg.resume, cfg.model)
    return f"local:{folder}"


def _import_extra(spec: ExtraDataConfig, root: Path, seed: int) -> Path:
    """The folder of one extra dataset, imported once per settings (drawn with the run's seed)."""
    digest = hashlib.sha256((f"seed: {seed}\n" + dump_config(spec)).encode()).hexdigest()[:8]
    return EXTRA_IMPORTERS[spec.kind](spec, root / f"{spec.kind}-{digest}", seed)


def evaluate_models(cfg: RunConfig, out: Path, models: dict[str, str], notes: tuple[str, ...] = ()) -> dict:
    """Evaluate every model (and the WiSE-FT sweep of `wise.model`) on the held-out split, with each model's
    deltas against `eval.reference` and their bootstrap intervals; write metrics.json, wise.json and the report."""
    samples = read_split(out / "data", "test")
    rows, images = [s.row for s in samples], [s.image for s in samples]
    photo_test = None if cfg.photos is None else photos.load_photo_test(cfg.photos, cfg.seed)

    def score(model) -> tuple[dict, dict]:
        result, records = evaluate(model, rows, images, cfg.eval)
        if photo_test is not None:
            result |= photos.zero_shot(model, photo_test, cfg.eval.batch_size)
        return result, records

    metrics, records = {}, {}
    for name, model_id in models.items():
        metrics[name], records[name] = score(create_clip(model_id, cfg.model.device, cfg.model.towers))
    if cfg.eval.reference in records:
        for name, deltas in deltas_against(records, cfg.eval.reference, cfg.eval.bootstrap, cfg.seed).items():
            metrics[name]["deltas"] = {"reference": cfg.eval.reference, **deltas}
    else:
        log.warning("eval.reference %r is not among the models; no deltas", cfg.eval.reference)
    header = [
        WORLD_NOTE,
        "",
        f"{len(rows)} held-out images of {len({r['concept_id'] for r in rows})} concepts; "
        f"models: " + ", ".join(f"{n} = `{m}`" for n, m in models.items()) + ".",
        *notes,
        *(photos.photo_notes(metrics, photo_test) if photo_test is not None else []),
    ]
    write_report(out, metrics, rows, images, cfg.eval.grid_groups, header, _wise_points(cfg, models, score))
    return metrics


def _wise_points(cfg: RunConfig, models: dict[str, str], score) -> list[dict]:
    """The accuracies of `wise.model` mixed with the run's base at each of `wise.alphas` (LoRA merged first)."""
    name = cfg.wise.model
    if name is None or name == "base":
        return []
    if name not in models:
        log.warning("wise.model %r is not among the models; no WiSE-FT sweep", name)
        return []
    base, tuned = (create_clip(models[n], cfg.model.device, cfg.model.towers) for n in ("base", name))
    points = []
    for alpha, mixed in wise_sweep(base, tuned, cfg.wise.alphas):
        result, _ = score(mixed)
        points.append({"alpha": alpha, "model": name} | {k: v for k, v in result.items() if isinstance(v, float)})
    return points


def model_ids(cfg: RunConfig, out: Path) -> dict[str, str]:
    """The models a finished `train` left in the run folder."""
    names = (["base"] if cfg.pretrain is not None else []) + ["tuned", *cfg.ablations]
    ids = {"base": cfg.model.name} | {n: f"local:{out / 'models' / n}" for n in names}
    return {n: i for n, i in ids.items() if not i.startswith("local:") or is_done(Path(i.removeprefix("local:")))}


def run(cfg: RunConfig) -> tuple[Path, dict]:
    """build -> train -> eval; returns the run folder and the metrics.

    With `photos` set, metrics.json and the report also hold each stage's wall time ("stages").
    """
    start = time.perf_counter()
    out = resolve_out(cfg)
    build(cfg, out)
    seconds = {"build": time.perf_counter() - start}
    models = train_models(cfg, out, seconds)
    minutes = (time.perf_counter() - start) / 60
    eval_start = time.perf_counter()
    metrics = evaluate_models(cfg, out, models, (f"Build and training took {minutes:.1f} min in this invocation.",))
    if cfg.photos is not None:
        seconds |= {"eval": time.perf_counter() - eval_start, "total": time.perf_counter() - start}
        write_json(out / "metrics.json", {**metrics, "stages": seconds})
        write_text(out / "report.md", (out / "report.md").read_text() + "\n".join(photos.stage_notes(seconds)) + "\n")
    return out, metrics
