"""The main job, stage by stage: build the dataset, train base/tuned/ablations, evaluate, report.

Every stage writes into the run folder atomically and leaves a completion marker, so running the
same config again skips what is done and picks up where a crash stopped.
"""

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from cultureclip.builder import pipeline
from cultureclip.builder.card import CARD_JSON
from cultureclip.builder.recipes import BUILD_RECIPES
from cultureclip.builder.recipes.fashion_mnist import import_fashion_mnist
from cultureclip.config import DatasetSpec, ExtraDataConfig, RunConfig, TrainConfig, dump_config
from cultureclip.errors import ConfigError, DataError
from cultureclip.eval.reports.native import NATIVE
from cultureclip.eval.reports.run import HELD_OUT, RUN_TASKS, headline, write_report
from cultureclip.eval.runner import Comparison, compare_models, load_model, write_results
from cultureclip.eval.wise import score_sweep
from cultureclip.io import LOCK_FILE, folder_lock, is_done, write_text
from cultureclip.train.fit import fit_to_folder
from cultureclip.view.site import write_view

log = logging.getLogger(__name__)
EXTRA_IMPORTERS = {"fashion_mnist": import_fashion_mnist}
"""The importer of each `extra_data` kind."""
WORLD_NOTE = (
    "Offline world: images are procedurally rendered from each concept's structured attributes, "
    "a controlled experiment with known ground truth, not a claim about photographs."
)


@contextmanager
def run_folder(cfg: RunConfig, command: str) -> Iterator[Path]:
    """The run folder (a new runs/<timestamp>[-N] by default), locked while `command` writes in it.

    A folder that holds files but neither config.yaml nor a finished dataset (data/, e.g. imported) is
    not a run folder and is refused. The resolved config is saved as config.yaml when the folder is new
    and again when the command succeeds, so a refused or failed command leaves the last config that
    ran, and a folder it created and wrote nothing else into is removed. Under torchrun rank 0 alone
    locks and writes it, and `--out` is required (each rank must name the same folder).
    """
    rank = os.environ.get("RANK", "0")
    if cfg.out is None and "WORLD_SIZE" in os.environ and os.environ["WORLD_SIZE"] != "1":
        raise ConfigError("--out is required under torchrun: every rank must write the same run folder")
    created = cfg.out is None or not cfg.out.exists()
    out = cfg.out or _new_run_folder(Path("runs"))
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: is a file, not a run folder; choose another --out")
    config = out / "config.yaml"
    if (
        out.is_dir()
        and not (config.is_file() or is_done(out / "data"))
        and any(p.name != LOCK_FILE for p in out.iterdir())
    ):
        raise DataError(
            f"{out}: holds files but neither config.yaml nor a dataset in data/, so it is not a run folder; "
            "choose another --out"
        )
    text = dump_config(cfg.model_copy(update={"out": out}))
    if rank != "0":
        yield out
        return
    new = not config.is_file()
    with folder_lock(out, command):
        if new:
            write_text(config, text)
        try:
            yield out
        except BaseException:
            if created and all(p.name in (config.name, LOCK_FILE) for p in out.iterdir()):
                shutil.rmtree(out)  # a new folder the command wrote nothing else into: leave nothing behind
            raise
        write_text(config, text)


def _new_run_folder(root: Path) -> Path:
    """runs/<timestamp>, or runs/<timestamp>-N when a run started in the same second holds that one."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    root.mkdir(parents=True, exist_ok=True)
    folder, n = root / stamp, 1
    while True:
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            n += 1
            folder = root / f"{stamp}-{n}"


def build(cfg: RunConfig, out: Path | str) -> Path:
    """Build the dataset of the recipe `build.recipe` into `out/data`, for the run's CLIP (`model.name`)."""
    job = pipeline.BuildJob(cfg.build, cfg.seed, cfg.model.name, cfg.catalog, cfg.executor, cfg.judge)
    return pipeline.build(BUILD_RECIPES.create(cfg.build.recipe), job, Path(out) / "data")


def train_models(cfg: RunConfig, out: Path | str, seconds: dict[str, float] | None = None) -> dict[str, str]:
    """Train the base (if `pretrain` is set), the tuned model and each ablation; return model ids.

    Each training's `extra_data` is imported into OUT/extra_data and trained on after the world's train split.
    Each model's wall time goes into `seconds` when given.
    """
    out, seconds = Path(out), ({} if seconds is None else seconds)
    models = {"base": cfg.model.name}
    runs = {name: cfg.training(name) for name in ("tuned", *cfg.ablations)}
    if cfg.pretrain is not None:
        start = time.perf_counter()
        seed = cfg.seed if cfg.pretrain.seed is None else cfg.pretrain.seed
        models["base"] = train_model(cfg, out, cfg.model.name, cfg.pretrain, seed, "base")
        seconds["base"] = time.perf_counter() - start
    for name, train_cfg in runs.items():
        start = time.perf_counter()
        seed = cfg.seed + 1 if train_cfg.seed is None else train_cfg.seed
        models[name] = train_model(cfg, out, models["base"], train_cfg, seed, name)
        seconds[name] = time.perf_counter() - start
    return models


def train_model(
    cfg: RunConfig, out: Path, start: str, train_cfg: TrainConfig, seed: int, name: str, data: Path | None = None
) -> str:
    """Train one model of the run into OUT/models/NAME on `data` (default OUT/data) and the training's extra
    data; return its model id."""
    extra = [_import_extra(spec, out / "extra_data", cfg.seed) for spec in train_cfg.extra_data]
    train_cfg = train_cfg.model_copy(update={"seed": seed})
    data = out / "data" if data is None else data
    folder = fit_to_folder(start, [data, *extra], train_cfg, out / "models" / name, cfg.resume, cfg.model)
    return f"local:{folder}"


def _import_extra(spec: ExtraDataConfig, root: Path, seed: int) -> Path:
    """The folder of one extra dataset, imported once per settings (drawn with the run's seed)."""
    digest = hashlib.sha256((f"seed: {seed}\n" + dump_config(spec)).encode()).hexdigest()[:8]
    return EXTRA_IMPORTERS[spec.kind](spec, root / f"{spec.kind}-{digest}", seed)


def evaluate_models(
    cfg: RunConfig, out: Path, models: dict[str, str], stages: dict[str, float] | None = None
) -> Comparison:
    """Score every model on the held-out split and `eval.extra_datasets` (deltas against `eval.reference`
    with their bootstrap intervals), then the WiSE-FT sweep of `wise.model` on the same models; write
    metrics.json, results.jsonl and predictions/ (the runner's), then wise.json and the run report; with
    `stages` (wall seconds of the stages before), metrics and report also show those, this evaluation's
    ("eval") and their sum ("total")."""
    start = time.perf_counter()
    if not models:
        raise DataError(f"{out}: no trained model to evaluate in models/; run `cultureclip train` on it first")
    if cfg.eval.reference in models:
        models = {cfg.eval.reference: models[cfg.eval.reference]} | models
    else:
        reference = next(iter(models))
        log.warning("eval.reference %r is not among the models; deltas are against %s", cfg.eval.reference, reference)
    names = held_out_names(cfg)
    held_out = DatasetSpec(
        kind="shards",
        path=out / "data",
        name=HELD_OUT,
        tasks=[*(task for task, _ in RUN_TASKS.values()), *cfg.eval.held_out_tasks, *([NATIVE] if names else [])],
        probe=cfg.eval.probe,
        templates=[cfg.eval.concept_template],
        generic_templates=[cfg.eval.generic_template],
        names=names,
    )
    wise_pair = _wise_pair(cfg, models)
    loaded = {n: load_model(n, models[n], cfg.model.device, cfg.model.towers) for n in wise_pair}
    datasets = [held_out, *cfg.eval.extra_datasets]
    comparison = compare_models(
        models, datasets, cfg.eval, cfg.model.device, cfg.seed, cfg.model.towers, loaded, cfg.catalog
    )
    if wise_pair:
        sweep = score_sweep(comparison, *(loaded[n] for n in wise_pair), cfg.wise.alphas, cfg.eval)
        comparison.wise = [{"alpha": alpha, "model": wise_pair[1]} | headline(results) for alpha, results in sweep]
    comparison.notes = _notes(out / "data")
    if stages is not None:
        comparison.stages = stages | {"eval": time.perf_counter() - start}
        comparison.stages["total"] = sum(comparison.stages.values())
    if cfg.view.in_run and not is_done(out / "view"):
        write_view(out / "data", out / "view", cfg.view)
    write_results(comparison, out)
    write_report(comparison, out, cfg.eval.grid_groups)
    return comparison


def held_out_names(cfg: RunConfig) -> str | None:
    """The language of the held-out split's native-name scoring: `eval.names`, else `catalog.language` when it
    is not en (a dataset built with native names is also scored with them), else None."""
    return cfg.eval.names or (cfg.catalog.language if cfg.catalog.language != "en" else None)


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
    with run_folder(cfg, "run") as out:
        build(cfg, out)
        seconds = {"build": time.perf_counter() - start}
        models = train_models(cfg, out, seconds)
        return out, evaluate_models(cfg, out, models, seconds)
