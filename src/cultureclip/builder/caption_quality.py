"""Caption quality of a finished dataset folder, built or imported (`cultureclip score-captions DATA`):
each kept row's caption scored by the stages of `stages/caption_scores.py` and `stages/caption_rubric.py`,
the scores added to the manifest, and their summary to the dataset card (`card.py`).

Scores (manifest columns; None where not given): `detail_coverage` and `details_missing` (always, where
the row has details), `caption_clip` (with `score.judge`), `rubric_accuracy`, `rubric_visual_detail`,
`rubric_cultural_context`, `rubric_no_invented_facts`, `rubric_score`, `rubric_reason` (with
`score.rubric`), and `caption_quality`: the mean of those given, each on 0-1 (`detail_coverage` as it is;
`caption_clip` as CLIPScore, min(1, 2.5 max(cos, 0)), Hessel et al. 2021; `rubric_score` as (s - 1) / 4).
A row whose scoring failed keeps the reason in `caption_score_note`.

Resumable like every stage: each stage saves its chunks under `DATA.scores.work/`, so a killed run
continues where it stopped; the settings are saved as `DATA/caption_scores.yaml`, and running again with
the same settings does nothing, with other settings scores again.
"""

import logging
import os
import shutil
from pathlib import Path

from cultureclip.builder.blobs import ShardImageBlob
from cultureclip.builder.card import quality_facts, read_card, write_card
from cultureclip.builder.executors import Executor, open_executor, progress_bar
from cultureclip.builder.pipeline import claim_work
from cultureclip.builder.stage import Stage
from cultureclip.builder.stages.caption_rubric import RubricStage, load_quality_prompts
from cultureclip.builder.stages.caption_scores import AgreementStage, CoverageStage, caption_quality
from cultureclip.config import BuildConfig, ScoreConfig, dump_config
from cultureclip.data.shards import check_unique_keys, read_manifest, write_manifest
from cultureclip.errors import DataError
from cultureclip.io import is_done, remove, write_text

log = logging.getLogger(__name__)
SCORES_RECORD = "caption_scores.yaml"
SCORES = (
    "caption_clip",
    "detail_coverage",
    "details_missing",
    *(f"rubric_{c}" for c in ("accuracy", "visual_detail", "cultural_context", "no_invented_facts", "score")),
    "rubric_reason",
    "caption_quality",
    "caption_score_note",
)
"""The manifest columns of the scores (each also with a prefix, `recaption_`, for a rewritten caption)."""


def score_dataset(folder: Path, cfg: ScoreConfig, build: BuildConfig) -> Path:
    """Score the captions of the dataset in `folder` in place (see the module docstring)."""
    folder = Path(folder)
    rows = read_rows(folder)
    record = dump_config(cfg)
    if (folder / SCORES_RECORD).is_file() and (folder / SCORES_RECORD).read_text() == record:
        log.info("captions of %s already scored with these settings", folder)
        return folder
    work = folder.with_name(f"{folder.name}.scores.work")
    claim_work(work, record)
    kept = [i for i, r in enumerate(rows) if r.get("shard")]  # scores go back by position, not by a name
    todo = [stage_row(folder, rows[i]) for i in kept]
    with progress_bar() as progress, open_executor(build, progress) as executor:
        scores = dict(zip(kept, score_rows(executor, todo, cfg, work), strict=True))
    rows = [r | scores.get(i, dict.fromkeys(SCORES)) for i, r in enumerate(rows)]
    publish(folder, rows, quality_facts(rows, score_models(cfg)))
    write_text(folder / SCORES_RECORD, record)
    shutil.rmtree(work)
    log.info("scored %d captions of %s", len(todo), folder)
    return folder


def read_rows(folder: Path) -> list[dict]:
    """Every manifest row of a finished dataset folder."""
    if not is_done(folder):
        raise DataError(f"{folder}: not a finished dataset folder (no completion marker)")
    rows = read_manifest(folder)
    check_unique_keys(folder, rows)  # a manifest written before keys were checked
    return rows


def stage_row(folder: Path, row: dict) -> dict:
    """What the score stages read of a kept row: its image (read from its shard when needed), caption, and
    the concept's facts (`details`: the catalogue's `distinguishing`, else the twin prompt's `features`)."""
    return {
        "key": row["key"],
        "png": ShardImageBlob(str((folder / row["shard"]).resolve()), row["offset"], row["length"]),
        "caption": row["caption"],
        "name": row["name"],
        "culture": row.get("culture") or "culture not given",
        "category": row.get("category") or "category not given",
        "details": row.get("distinguishing") or row.get("features") or "",
        "context": row.get("context") or "",
    }


def score_rows(executor: Executor, rows: list[dict], cfg: ScoreConfig, work: Path, text: str = "caption") -> list[dict]:
    """The scores of each row's caption field `text` (prefixed `recaption_` when it is `recaption`), each
    stage's chunks saved under `work`."""
    prefix = "" if text == "caption" else f"{text}_"
    stages: list[Stage] = [CoverageStage(cfg.detail_share, text, prefix)]
    if cfg.judge:
        stages.append(AgreementStage(cfg.judge, text, f"{prefix}caption_clip"))
    if cfg.rubric:
        stages.append(RubricStage(cfg, text, prefix))
    scores = [{f"{prefix}{k}": None for k in SCORES} for _ in rows]
    for stage in stages:
        results = executor.run_stage(stage, rows, work / f"{prefix}{stage.name}")
        for out, result in zip(scores, results, strict=True):
            if result["status"] == "ok":
                out.update({k: result[k] for k in stage.outputs})
            else:
                note = out[f"{prefix}caption_score_note"]
                out[f"{prefix}caption_score_note"] = f"{note}; {result['reason']}" if note else result["reason"]
    for out in scores:
        out[f"{prefix}caption_quality"] = caption_quality(out, prefix)
    return scores


def score_models(cfg: ScoreConfig) -> dict[str, str]:
    """Who gave each score, for the card."""
    share = f"no model: a detail counts when {cfg.detail_share:g} of its content words are in the caption"
    models = {"detail_coverage": share}
    if cfg.judge:
        models["caption_clip"] = cfg.judge
    if cfg.rubric:
        models["rubric"] = f"{cfg.rubric.name} (prompts {load_quality_prompts(cfg.prompts)['version']})"
    return models


def publish(folder: Path, rows: list[dict], quality: dict) -> None:
    """The manifest (with its Hugging Face card) and the dataset card with `quality`, each file replaced
    atomically."""
    staging = folder.with_name(f".{folder.name}.scores-tmp")
    remove(staging)  # left by a killed run (a link there is removed, not followed)
    staging.mkdir()
    write_manifest(staging, rows, shards=folder)
    facts, sections = read_card(folder)
    write_card(staging, facts | {"caption_quality": quality}, sections)
    for name in os.listdir(staging):
        os.replace(staging / name, folder / name)
    staging.rmdir()
