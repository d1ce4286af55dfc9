"""The build driver: one skeleton for every recipe (recipes/): record, work folder, executor, atomic
publish of shards, manifest, extra tables and card.

Each stage saves its finished chunks under `<out>.work/` (see executors.py), so a killed build resumes
where it stopped and yields exactly the dataset an uninterrupted build would. The dataset folder itself
appears atomically, with a completion marker; the work folder is removed once it is there. A stage that
fails with a bug (not a backend error, see stage.py) stops the build, and nothing is published.
"""

import logging
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cultureclip.builder.card import card_facts, write_card
from cultureclip.builder.executors import Executor, open_executor, progress_bar
from cultureclip.builder.rows import SPLITS
from cultureclip.builder.stage import Stage
from cultureclip.config import BuildConfig, CatalogConfig
from cultureclip.data.shards import Sample, write_manifest, write_split
from cultureclip.data.tables import write_table
from cultureclip.errors import DataError, GenerationError
from cultureclip.io import (
    atomic_path,
    claim_output,
    is_finished,
    mark_done,
    record_difference,
    refuse_link,
    write_text,
)

log = logging.getLogger(__name__)
RECORD = "build_config.yaml"
WORK_ONLY = ("png", "embedding", "attributes", "concept_text", "twin_texts")
"""Row fields that stay in the work folder (the image, a `Blob` there, goes into the shards, not the manifest)."""


@dataclass(frozen=True)
class BuildJob:
    """What a recipe builds from: the build settings, the seed, the CLIP the data is for (generated
    captions must fit its tokenizer's context) and the concept catalogue's settings."""

    cfg: BuildConfig
    seed: int
    target_model: str
    catalog: CatalogConfig


@dataclass
class Built:
    """A recipe's product: one row per image (status kept, rejected or failed; a kept row's `png` is a
    `Blob`, where the image lies in the work folder), the models for the card,
    extra Parquet tables by file name, extra card sections (title -> counts) and a one-line summary."""

    rows: list[dict]
    models: dict[str, str]
    tables: dict[str, list[dict]] = field(default_factory=dict)
    sections: dict[str, dict] = field(default_factory=dict)
    summary: str = ""


class Recipe(Protocol):
    """A way to build a dataset: its record (what a finished dataset must match), early checks, and its
    plan and steps (`generate`, which runs its stages with `run_step`)."""

    def record(self, job: BuildJob) -> str: ...

    def check(self, job: BuildJob) -> None: ...

    def generate(self, job: BuildJob, executor: Executor, work: Path) -> Built: ...


def build(recipe: Recipe, job: BuildJob, out: Path) -> Path:
    """Build `recipe`'s dataset for `job` into `out` (skipped when a finished one with the same record is there)."""
    out = Path(out)
    record = recipe.record(job)
    if is_finished(out, RECORD, record):
        log.info("dataset %s already built, skipping", out)
        return out
    claim_output(out, "build")
    recipe.check(job)
    work = out.with_name(f"{out.name}.work")
    claim_work(work, record)
    with progress_bar() as progress, open_executor(job.cfg, progress) as executor:
        built = recipe.generate(job, executor, work)
    failures = check_failures(built.rows, job.cfg.max_failed_share, work)
    with atomic_path(out) as tmp:
        tmp.mkdir(parents=True)
        (tmp / RECORD).write_text(record)
        write_dataset(tmp, built.rows, job.cfg)
        for name, rows in built.tables.items():
            write_table(rows, tmp / name)
        stored = job.cfg.shard_images.model_dump()  # format, quality, longest side (None: as made)
        write_card(tmp, card_facts(built.rows, built.models) | {"stored_images": stored}, built.sections)
        mark_done(tmp, "build")
    shutil.rmtree(work)
    log.info("%s into %s; %s", built.summary, out, failures)
    return out


def check_failures(rows: list[dict], max_share: float, work: Path) -> str:
    """'N failed, M fell back' for the summary line; more than `max_share` of `rows` is an error (nothing
    is published; the work folder stays, so a rerun asks again only for what failed)."""
    failed = Counter(str(r["reason"]) for r in rows if r.get("status") == "failed")
    fell_back = Counter(str(r["caption_note"]) for r in rows if str(r.get("caption_note")).startswith("fallback"))
    count = failed.total() + fell_back.total()
    counts = f"{failed.total()} failed, {fell_back.total()} fell back to the template caption"
    if rows and count / len(rows) > max_share:
        reason, times = (failed + fell_back).most_common(1)[0]
        raise GenerationError(
            f"{count} of {len(rows)} rows failed or fell back ({count / len(rows):.0%} > build.max_failed_share="
            f"{max_share:g}), most often {reason!r} ({times}x); nothing published: fix the cause and rerun "
            f"(failed rows are asked again, the rest is kept in {work})"
        )
    return counts


def run_step(executor: Executor, stage: Stage, rows: list[dict], work: Path, folder: str | None = None) -> list[dict]:
    """`rows`, each joined with its output of `stage` (saved under `work/<folder or stage.name>`)."""
    outputs = executor.run_stage(stage, rows, work / (folder or stage.name))
    return [{**row, **out} for row, out in zip(rows, outputs, strict=True)]


def claim_work(work: Path, record: str) -> None:
    """Use `work` for this build; a work folder left by a build with other settings is an error."""
    refuse_link(work)
    saved = work / RECORD
    if saved.is_file() and saved.read_text() != record:
        raise DataError(
            f"{work}: left by a build with other settings or inputs ({record_difference(saved.read_text(), record)}); "
            "delete it to start over"
        )
    work.mkdir(parents=True, exist_ok=True)
    write_text(saved, record)


def write_dataset(folder: Path, rows: list[dict], cfg: BuildConfig) -> None:
    """Kept rows into WebDataset shards per split, each image read from the work folder as its shard is
    written (rows carry a `Blob`, see blobs.py); every row (dropped ones with their reason) into the manifest."""
    manifest = []
    for split in SPLITS:
        kept = (r for r in rows if r["split"] == split and r["status"] == "kept")
        samples = (Sample(_metadata(r), r["png"].read()) for r in kept)
        manifest += write_split(folder, split, samples, cfg.shard_size, images=cfg.shard_images)
    dropped = [_metadata(r) | {"shard": None} for r in rows if r["status"] != "kept"]
    write_manifest(folder, manifest + dropped)


def _metadata(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in WORK_ONLY}
