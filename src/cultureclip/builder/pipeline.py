"""The one driver of every job that writes a dataset: record, claim, work folder, executor, atomic publish,
completion marker. A recipe (recipes/) supplies its record, checks and steps; how its product is published
is the recipe's `publish` mode:

  new      a dataset folder built from scratch: shards, manifest, extra tables and card (build, import)
  derived  a new dataset folder holding a finished dataset's images, as stored, with changed rows (recaption,
           caption variants)
  beside   tables and card facts written into a finished dataset folder beside its manifest, which is left
           as it is (caption scores: `scores.parquet`), so what was trained on the dataset stays valid

Each stage saves its finished chunks under the work folder (`<out>.work/`, see executors.py), so a killed job
resumes where it stopped and yields exactly what an uninterrupted one would. A new or derived folder appears
atomically, with a completion marker; the work folder is removed once it is there. A stage that fails with
a bug (not a backend error, see stage.py) stops the job, and nothing is published.
"""

import logging
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from cultureclip.builder.blobs import ShardImageBlob
from cultureclip.builder.card import card_facts, read_card, write_card
from cultureclip.builder.executors import Executor, open_executor, progress_bar
from cultureclip.builder.rows import SPLITS
from cultureclip.builder.stage import Stage
from cultureclip.config import BuildConfig, CatalogConfig, ExecutorConfig, JudgeConfig
from cultureclip.data.shards import LOCATION, Sample, write_manifest, write_split
from cultureclip.data.tables import write_table
from cultureclip.errors import DataError, GenerationError
from cultureclip.io import (
    atomic_path,
    claim_output,
    is_done,
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
class Publish:
    """How the driver publishes a recipe's product (see the module docstring): the mode, the command that
    owns the output (its completion marker), the settings record's file name and the work folder's suffix."""

    mode: Literal["new", "derived", "beside"] = "new"
    maker: str = "build"
    record: str = RECORD
    work: str = "work"


NEW = Publish()


@dataclass(frozen=True)
class BuildJob:
    """What a recipe builds from: the build settings (renderer, shards), the seed, the CLIP the data is for
    (generated captions must fit its tokenizer's context), the concept catalogue's settings, where the
    stages run and the vision-language judge (for the recipes that judge images)."""

    cfg: BuildConfig = field(default_factory=BuildConfig)
    seed: int = 0
    target_model: str = ""
    catalog: CatalogConfig = field(default_factory=CatalogConfig)
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    judge: JudgeConfig = field(default_factory=JudgeConfig)


@dataclass
class Built:
    """A recipe's product: one row per image (status kept, rejected or failed; a kept row's `png` is a
    `Blob`, where the image lies in the work folder; a derived dataset's rows keep their `shard` location in
    `source`), the models for the card, extra Parquet tables by file name, extra card sections (title ->
    counts), card facts (None: counted from the rows), the finished dataset a derived one is made from and a
    one-line summary."""

    rows: list[dict]
    models: dict[str, str] = field(default_factory=dict)
    tables: dict[str, list[dict]] = field(default_factory=dict)
    sections: dict[str, dict] = field(default_factory=dict)
    summary: str = ""
    facts: dict | None = None
    source: Path | None = None


class Recipe(Protocol):
    """A way to make a dataset: its record (what a finished output must match), early checks, and its
    plan and steps (`generate`, which runs its stages with `run_step`); `publish` (optional, default NEW)."""

    def record(self, job: BuildJob) -> str: ...

    def check(self, job: BuildJob) -> None: ...

    def generate(self, job: BuildJob, executor: Executor, work: Path) -> Built: ...


def build(recipe: Recipe, job: BuildJob, out: Path, overwrite: bool = False) -> Path:
    """Make `recipe`'s output for `job` in `out` (skipped when a finished one with the same record is there)."""
    out, publish = Path(out), getattr(recipe, "publish", NEW)
    if publish.mode != "beside":
        claim_output(out, publish.maker, overwrite)  # first: a folder of someone else's is refused before any work
    elif not is_done(out):
        raise DataError(f"{out}: not a finished dataset folder (no completion marker)")
    record = recipe.record(job)
    if not overwrite and _finished(out, publish, record):
        log.info("%s already made with these settings, skipping", out)
        return out
    recipe.check(job)
    work = out.with_name(f"{out.name}.{publish.work}")
    claim_work(work, record, publish.record)
    with progress_bar() as progress, open_executor(job.executor, progress) as executor:
        built = recipe.generate(job, executor, work)
    failures = check_failures(built.rows, job.cfg.max_failed_share, work) if publish.mode == "new" else ""
    if publish.mode == "beside":
        _publish_beside(out, built, publish, record)
    else:
        with atomic_path(out) as tmp:
            tmp.mkdir(parents=True)
            (tmp / publish.record).write_text(record)
            _write_rows(tmp, built, job.cfg, publish)
            mark_done(tmp, publish.maker)
    shutil.rmtree(work)
    log.info("%s into %s%s", built.summary, out, f"; {failures}" if failures else "")
    return out


def _finished(out: Path, publish: Publish, record: str) -> bool:
    """Whether `out` holds this record's finished output; tables beside a dataset are remade when their
    settings changed, a folder of its own made with other settings is an error (`is_finished`)."""
    if publish.mode != "beside":
        return is_finished(out, publish.record, record)
    saved = out / publish.record
    return is_done(out) and saved.is_file() and saved.read_text() == record


def _write_rows(folder: Path, built: Built, cfg: BuildConfig, publish: Publish) -> None:
    """A new or derived dataset's shards, manifest, tables and card into `folder`."""
    if publish.mode == "derived":
        write_derived(folder, built.source, built.rows, cfg.shard_size)
    else:
        write_dataset(folder, built.rows, cfg)
    for name, rows in built.tables.items():
        write_table(rows, folder / name)
    facts = built.facts
    if facts is None:
        facts = card_facts(built.rows, built.models) | {"stored_images": cfg.shard_images.model_dump()}
    write_card(folder, facts, built.sections)


def _publish_beside(folder: Path, built: Built, publish: Publish, record: str) -> None:
    """`built`'s tables (each replaced atomically) and card facts and sections into the finished dataset
    `folder`; its manifest and shards stay as they are; the record last, as the mark that it is done."""
    for name, rows in built.tables.items():
        with atomic_path(folder / name) as tmp:
            write_table(rows, tmp)
    facts, sections = read_card(folder)
    write_card(folder, facts | (built.facts or {}), sections | built.sections)
    write_text(folder / publish.record, record)


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


def claim_work(work: Path, record: str, name: str = RECORD) -> None:
    """Use `work` for this job (its record saved as `name`); a work folder left with other settings is an error,
    unless it holds nothing else (a job that stopped before any stage saved a chunk)."""
    refuse_link(work)
    saved = work / name
    if saved.is_file() and saved.read_text() != record and any(p.name != name for p in work.iterdir()):
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
    write_manifest(folder, manifest + dropped, complete=True)


def write_derived(folder: Path, source: Path, rows: list[dict], shard_size: int) -> None:
    """The rows of a dataset derived from the finished one in `source`: each kept row (with a shard there)
    written per split in row order with its image copied byte for byte, the others into the manifest only."""
    manifest = []
    for split in dict.fromkeys(r["split"] for r in rows if r.get("shard")):
        samples = (_copied(source, r) for r in rows if r.get("shard") and r["split"] == split)
        manifest += write_split(folder, split, samples, shard_size, images=None)
    write_manifest(folder, manifest + [r for r in rows if not r.get("shard")], complete=True)


def _copied(source: Path, row: dict) -> Sample:
    image = ShardImageBlob(str((source / row["shard"]).resolve()), row["offset"], row["length"]).read()
    return Sample({k: v for k, v in row.items() if k not in LOCATION}, image)


def _metadata(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in WORK_ONLY}
