"""The main job, stage by stage: build the dataset, train base/tuned/ablations, evaluate, report.

Every stage writes into the run folder atomically and leaves a completion marker, so running the
same config again skips what is done and picks up where a crash stopped.
"""

import json
import logging
import shutil
import time
from datetime import datetime
from pathlib import Path

import torch

from cultureclip import photos
from cultureclip.backends.clip import create_clip
from cultureclip.builder import pipeline
from cultureclip.builder.card import CARD_JSON
from cultureclip.builder.recipes import BUILD_RECIPES
from cultureclip.config import DatasetSpec, RunConfig, TrainConfig, apply_overrides, dump_config
from cultureclip.errors import DataError
from cultureclip.eval.reports.run import HELD_OUT, RUN_TASKS, headline, write_report
from cultureclip.eval.runner import Comparison, compare_models, load_model, score_model
from cultureclip.io import atomic_path, is_done, is_finished, mark_done, write_text
from cultureclip.train.data import load_train_data
from cultureclip.train.distributed import barrier, device_for, world
from cultureclip.train.loop import LOG_FILE, PARAMS_FILE, train
from cultureclip.wise import wise_sweep

log = logging.getLogger(__name__)
TRAIN_RECORD = "train_config.yaml"
RESOLVED_RECORD = "train_config.resolved.yaml"
"""The training config as trained, beside the checkpoint: TRAIN_RECORD with `epochs` resolved to `steps`."""
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
    """Build the dataset of the recipe `build.recipe` into `out/data`, for the run's CLIP (`model.name`)."""
    job = pipeline.BuildJob(cfg.build, cfg.seed, cfg.model.name, cfg.catalog)
    return pipeline.build(BUILD_RECIPES.create(cfg.build.recipe), job, out / "data")


def train_models(cfg: RunConfig, out: Path, seconds: dict[str, float] | None = None) -> dict[str, str]:
    """Train the base (if `pretrain` is set), the tuned model and each ablation; return model ids.

    With `photos` set, the base trains on the world's images plus real photos (the alignment data).
    Each model's wall time goes into `seconds` when given.
    """
    seconds = {} if seconds is None else seconds
    data_dir = out / "data"
    models = {"base": cfg.model.name}
    runs = {
        "tuned": cfg.finetune,
        **{name: apply_overrides(cfg.finetune, o, f"ablations.{name}") for name, o in cfg.ablations.items()},
    }
    if cfg.pretrain is not None:
        start = time.perf_counter()
        base_data = data_dir
        if cfg.photos is not None:
            base_data = photos.build_align_data(cfg.photos, data_dir, out / "align_data", cfg.seed)
        seed = cfg.seed if cfg.pretrain.seed is None else cfg.pretrain.seed
        models["base"] = _train_one(cfg, cfg.model.name, base_data, cfg.pretrain, seed, out / "models" / "base")
        seconds["base"] = time.perf_counter() - start
    for name, train_cfg in runs.items():
        start = time.perf_counter()
        seed = cfg.seed + 1 if train_cfg.seed is None else train_cfg.seed
        models[name] = _train_one(cfg, models["base"], data_dir, train_cfg, seed, out / "models" / name)
        seconds[name] = time.perf_counter() - start
    return models


def _train_one(cfg: RunConfig, start: str, data_dir: Path, train_cfg: TrainConfig, seed: int, folder: Path) -> str:
    record = _record(start, seed, train_cfg)
    if is_finished(folder, TRAIN_RECORD, record):
        log.info("%s already trained, skipping", folder)
        return f"local:{folder}"
    w = world(cfg.model.device)
    torch.manual_seed(seed)  # a model built from a config draws its initial weights here
    model = create_clip(start, device_for(cfg.model.device, w), cfg.model.towers)
    data = load_train_data(data_dir, model)
    train_cfg = train_cfg.resolved(len(data.rows))  # epochs -> steps, now that the data size is known
    work = folder.with_name(f"{folder.name}.work")  # log and checkpoints while training: kept for --resume
    if w.is_main:
        _prepare_work(work, record, cfg.resume)
    barrier(w)
    train(model, data, train_cfg, seed, work, resume=cfg.resume)
    if w.is_main:
        with atomic_path(folder) as tmp:
            tmp.mkdir(parents=True)
            (tmp / TRAIN_RECORD).write_text(record)
            (tmp / RESOLVED_RECORD).write_text(_record(start, seed, train_cfg))
            for name in (LOG_FILE, PARAMS_FILE):
                shutil.copy(work / name, tmp / name)
            model.save(tmp)
            mark_done(tmp)
        shutil.rmtree(work)
    barrier(w)
    return f"local:{folder}"


def _record(start: str, seed: int, train_cfg: TrainConfig) -> str:
    """The starting model and the training config, with the seed it trains with."""
    return f"start: {start}\n" + dump_config(train_cfg.model_copy(update={"seed": seed}))


def _prepare_work(work: Path, record: str, resume: bool) -> None:
    """A fresh work folder, or with `resume` the existing one if it was made with the same settings."""
    saved = work / TRAIN_RECORD
    if resume and saved.is_file() and saved.read_text() != record:
        raise DataError(f"{work}: cannot resume, made with other settings than now ({TRAIN_RECORD} differs)")
    if not resume:
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    saved.write_text(record)


def evaluate_models(
    cfg: RunConfig, out: Path, models: dict[str, str], stages: dict[str, float] | None = None
) -> Comparison:
    """Score every model on the held-out split and `eval.extra_datasets` (deltas against `eval.reference`
    with their bootstrap intervals), then the WiSE-FT sweep of `wise.model` on the same models; write
    metrics.json, wise.json and the run report; with `stages` (wall seconds of the stages before), both also
    show those, this evaluation's ("eval") and their sum ("total")."""
    start = time.perf_counter()
    if cfg.eval.reference in models:
        models = {cfg.eval.reference: models[cfg.eval.reference]} | models
    else:
        reference = next(iter(models))
        log.warning("eval.reference %r is not among the models; deltas are against %s", cfg.eval.reference, reference)
    held_out = DatasetSpec(
        kind="shards",
        path=out / "data",
        name=HELD_OUT,
        tasks=[task for task, _ in RUN_TASKS.values()],
        templates=[cfg.eval.concept_template],
        generic_templates=[cfg.eval.generic_template],
    )
    wise_pair = _wise_pair(cfg, models)
    loaded = {n: load_model(n, models[n], cfg.model.device, cfg.model.towers) for n in wise_pair}
    datasets = [held_out, *cfg.eval.extra_datasets]
    comparison = compare_models(models, datasets, cfg.eval, cfg.model.device, cfg.seed, cfg.model.towers, loaded)
    if wise_pair:
        base, tuned = (loaded[n] for n in wise_pair)
        for alpha, mixed in wise_sweep(base, tuned, cfg.wise.alphas):
            results, _, _ = score_model(comparison, mixed, cfg.eval)
            comparison.wise.append({"alpha": alpha, "model": wise_pair[1]} | headline(results))
    comparison.notes = _notes(out / "data")
    if stages is not None:
        comparison.stages = stages | {"eval": time.perf_counter() - start}
        comparison.stages["total"] = sum(comparison.stages.values())
    write_report(comparison, out, cfg.eval.grid_groups)
    return comparison


def _wise_pair(cfg: RunConfig, models: dict[str, str]) -> tuple[str, ...]:
    """("base", wise.model) when the run sweeps WiSE-FT mixes of the two, else ()."""
    name = cfg.wise.model
    if name is None or name == "base":
        return ()
    if name not in models:
        log.warning("wise.model %r is not among the models; no WiSE-FT sweep", name)
        return ()
    return ("base", name)


def _notes(data: Path) -> list[str]:
    """The world note, when the dataset card says its images were rendered procedurally."""
    card = data / CARD_JSON
    renderer = json.loads(card.read_text()).get("models", {}).get("renderer", "") if card.is_file() else ""
    return [WORLD_NOTE] if str(renderer).startswith("procedural") else []


def model_ids(cfg: RunConfig, out: Path) -> dict[str, str]:
    """The models a finished `train` left in the run folder."""
    names = (["base"] if cfg.pretrain is not None else []) + ["tuned", *cfg.ablations]
    ids = {"base": cfg.model.name} | {n: f"local:{out / 'models' / n}" for n in names}
    return {n: i for n, i in ids.items() if not i.startswith("local:") or is_done(Path(i.removeprefix("local:")))}


def run(cfg: RunConfig) -> tuple[Path, Comparison]:
    """build -> train -> eval; returns the run folder and the comparison its report shows (with each
    stage's wall time)."""
    start = time.perf_counter()
    out = resolve_out(cfg)
    build(cfg, out)
    seconds = {"build": time.perf_counter() - start}
    models = train_models(cfg, out, seconds)
    return out, evaluate_models(cfg, out, models, seconds)
