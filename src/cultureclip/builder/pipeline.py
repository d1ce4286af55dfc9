"""Run the builder: captions -> planned rows -> images -> judge filter -> shards, manifest and card.

Each stage saves its finished chunks under `<out>.work/` (see executors.py), so a killed build resumes
where it stopped and yields exactly the dataset an uninterrupted build would. The dataset folder itself
appears atomically, with a completion marker; the work folder is removed once it is there.
"""

import logging
import shutil
from pathlib import Path

from cultureclip.builder.captions import CaptionStage, caption_rows, load_prompts
from cultureclip.builder.card import card_facts, write_card
from cultureclip.builder.executors import Executor, open_executor, progress_bar
from cultureclip.builder.images import ImageStage
from cultureclip.builder.judge import JudgeStage, select
from cultureclip.builder.rows import SPLITS, plan_rows
from cultureclip.catalog import Catalog
from cultureclip.catalog.select import dataset_catalog
from cultureclip.config import BuildConfig, CatalogConfig, ClipFilterConfig, dump_config
from cultureclip.data.shards import Sample, write_manifest, write_split
from cultureclip.data.text import fill
from cultureclip.errors import DataError
from cultureclip.io import atomic_path, is_finished, mark_done

log = logging.getLogger(__name__)
RECORD = "build_config.yaml"
WORK_ONLY = ("png", "embedding", "attributes", "concept_text", "twin_texts")


def build_dataset(
    catalog_cfg: CatalogConfig, cfg: BuildConfig, seed: int, out: Path, target_model: str = "config:world-clip"
) -> Path:
    """Build the dataset into `out` (skipped when a finished one is already there).

    `target_model` is the CLIP the data is for: generated captions must fit its tokenizer's context.
    """
    out = Path(out)
    record = f"seed: {seed}\ntarget_model: {target_model}\n" + dump_config(catalog_cfg) + dump_config(cfg)
    if is_finished(out, RECORD, record):
        log.info("dataset %s already built, skipping", out)
        return out
    work = out.with_name(f"{out.name}.work")
    claim_work(work, record)
    catalog = dataset_catalog(catalog_cfg, cfg.catalog)
    with progress_bar() as progress, open_executor(cfg, progress) as executor:
        rows = _generate(catalog, cfg, seed, work, target_model, executor)
    with atomic_path(out) as tmp:
        tmp.mkdir(parents=True)
        (tmp / RECORD).write_text(record)
        write_dataset(tmp, rows, cfg)
        write_card(tmp, card_facts(rows, _models(cfg)))
        mark_done(tmp)
    shutil.rmtree(work)
    kept = sum(r["status"] == "kept" for r in rows)
    log.info("built %d of %d planned images of %d concepts into %s", kept, len(rows), len(catalog.concepts), out)
    return out


def claim_work(work: Path, record: str) -> None:
    """Use `work` for this build; a work folder left by a build with other settings is an error."""
    saved = work / RECORD
    if saved.is_file() and saved.read_text() != record:
        raise DataError(f"{work}: left by a build with other settings ({RECORD} differs); delete it to start over")
    work.mkdir(parents=True, exist_ok=True)
    saved.write_text(record)


def _generate(
    catalog: Catalog, cfg: BuildConfig, seed: int, work: Path, target_model: str, executor: Executor
) -> list[dict]:
    recipe = cfg.catalog
    units = caption_rows(catalog, recipe.captions, recipe.captions_per_concept)
    stage = CaptionStage(recipe.captions, recipe.captions.fallback, target_model)
    written = executor.run_stage(stage, units, work / "captions")
    captions: dict[str, list[dict]] = {c.id: [] for c in catalog.concepts}
    for unit, result in zip(units, written, strict=True):
        captions[unit["id"]].append({**result, "caption_style": unit["style"]})
    counts = {"train": recipe.train_images, "test": recipe.test_images}
    rows = plan_rows(catalog, captions, counts, seed)
    for row in rows:
        row["attributes"] = catalog.by_id[row["concept_id"]].attributes.model_dump()
    images = executor.run_stage(ImageStage(cfg.renderer, cfg.image_size, cfg.images), rows, work / "images")
    rows = [{**row, **image} for row, image in zip(rows, images, strict=True)]
    if recipe.filter is not None:
        for row in rows:
            concept = catalog.by_id[row["concept_id"]]
            row["concept_text"] = _concept_text(concept, recipe.filter)
            row["twin_texts"] = [_concept_text(catalog.by_id[t], recipe.filter) for t in row["twin_ids"]]
        scores = executor.run_stage(JudgeStage(recipe.filter), rows, work / "judge")
        rows = [{**row, **score} for row, score in zip(rows, scores, strict=True)]
        select(rows, recipe.filter)
    for row in rows:
        row["status"] = "kept" if row["status"] == "ok" else row["status"]
        row.setdefault("clip_score", None)
        row.setdefault("twin_margin", None)
    return rows


def _concept_text(concept, cfg: ClipFilterConfig) -> str:
    return fill(cfg.concept_template, concept.model_dump(exclude={"attributes"}, exclude_none=True))


def write_dataset(folder: Path, rows: list[dict], cfg: BuildConfig) -> None:
    """Kept rows into WebDataset shards per split; every row (dropped ones with their reason) into the manifest."""
    manifest = []
    for split in SPLITS:
        samples = [
            Sample({k: v for k, v in r.items() if k not in WORK_ONLY}, r["png"])
            for r in rows
            if r["split"] == split and r["status"] == "kept"
        ]
        manifest += write_split(folder, split, samples, cfg.shard_size)
    dropped = [
        {k: v for k, v in r.items() if k not in WORK_ONLY} | {"shard": None} for r in rows if r["status"] != "kept"
    ]
    write_manifest(folder, manifest + dropped)


def _models(cfg: BuildConfig) -> dict[str, str]:
    recipe = cfg.catalog
    models = {"caption_writer": recipe.captions.fallback, "renderer": cfg.renderer}
    if recipe.captions.generator:
        models["caption_generator"] = recipe.captions.generator.name
        models["caption_prompts"] = load_prompts(recipe.captions.prompts, recipe.captions.styles)["version"]
    if recipe.filter:
        models["judge"] = recipe.filter.clip
    return models
