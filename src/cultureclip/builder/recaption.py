"""Re-captioning a finished dataset folder, built or imported (`cultureclip recaption DATA --out NEW`):
every kept row's caption is scored (as `score-captions` does, or read from DATA's manifest when DATA was
scored with the same settings); each one whose `caption_quality` is below `recaption.below` is rewritten
by the chat model with the reason it scored low (`stages/recaption.py`); the rewrite is scored the same
way and replaces the caption only if its caption_quality is higher.

NEW is a dataset of the same images (its shards carry the captions in use), whose manifest keeps, per
row, `original_caption` and its scores (`original_*`), the rewrite `recaption` with `recaption_reason`
(what the model was told) and its scores (`recaption_*`; `recaption_note`: why a rewrite failed),
`recaption_kept`, and the caption in use with its scores under the usual names. The card shows the
caption quality before and after and the rewrite counts.

Resumable: every stage saves its chunks under `NEW.work/`, so a killed run resumes without asking the chat
model again for the rows it finished; NEW appears atomically with its settings (`recaption.yaml`).
"""

import logging
import shutil
from pathlib import Path

from cultureclip.builder.caption_quality import (
    SCORES,
    SCORES_RECORD,
    read_rows,
    score_models,
    score_rows,
    stage_row,
)
from cultureclip.builder.card import quality_facts, read_card
from cultureclip.builder.derived import publish_derived
from cultureclip.builder.executors import Executor, open_executor, progress_bar
from cultureclip.builder.pipeline import claim_work
from cultureclip.builder.stages.recaption import RecaptionStage, low_score_reason
from cultureclip.config import BuildConfig, RecaptionConfig, ScoreConfig, dump_config
from cultureclip.data.shards import MANIFEST
from cultureclip.errors import ConfigError
from cultureclip.io import claim_output, input_record, is_finished

log = logging.getLogger(__name__)
RECORD = "recaption.yaml"
RECAPTION_FIELDS = ("recaption", "recaption_reason", "recaption_note", *(f"recaption_{k}" for k in SCORES))
ADDED = ("original_caption", *(f"original_{k}" for k in SCORES), *RECAPTION_FIELDS, "recaption_kept", *SCORES)
"""The manifest columns re-captioning adds or sets (None in the rows it does not score: the dropped ones)."""


def recaption_dataset(
    data: Path, out: Path, cfg: RecaptionConfig, score: ScoreConfig, build: BuildConfig, target_model: str
) -> Path:
    """Write DATA re-captioned into `out` (see the module docstring); captions must fit `target_model`."""
    data, out = Path(data), Path(out)
    if out.resolve() == data.resolve():
        raise ConfigError(f"recaption {data}: --out must be a new folder (the dataset is read, not rewritten)")
    rows = read_rows(data)  # first: it checks DATA is a finished dataset
    head = f"source: {data.resolve()}\ntarget_model: {target_model}\n"
    record = head + dump_config(score) + dump_config(cfg) + input_record({"source manifest": data / MANIFEST})
    if is_finished(out, RECORD, record):
        log.info("%s already re-captioned into %s", data, out)
        return out
    claim_output(out, "recaption")
    work = out.with_name(f"{out.name}.work")
    claim_work(work, record)
    kept = [r for r in rows if r.get("shard")]
    with progress_bar() as progress, open_executor(build, progress) as executor:
        todo = [stage_row(data, r) for r in kept]
        if (data / SCORES_RECORD).is_file() and (data / SCORES_RECORD).read_text() == dump_config(score):
            before = [{k: r[k] for k in SCORES} for r in kept]  # DATA was scored with these settings
        else:
            before = score_rows(executor, todo, score, work)
        rewrites = _rewrite(executor, todo, before, cfg, score, target_model, work)
    final = iter(_final(r, b, w) for r, b, w in zip(kept, before, rewrites, strict=True))
    rows = [next(final) if r.get("shard") else r | dict.fromkeys(ADDED) for r in rows]
    publish_derived(out, data, rows, build.shard_size, (RECORD, record), _card(data, rows, score, cfg), "recaption")
    shutil.rmtree(work)
    log.info("re-captioned %s into %s: %d captions replaced", data, out, sum(bool(r["recaption_kept"]) for r in rows))
    return out


def _rewrite(
    executor: Executor,
    todo: list[dict],
    before: list[dict],
    cfg: RecaptionConfig,
    score: ScoreConfig,
    target_model: str,
    work: Path,
) -> list[dict]:
    """Per row, the re-caption fields: {} when its caption is not below the threshold, else the reason it
    was given, the rewrite (or why there is none) and the rewrite's scores."""
    low = [n for n, s in enumerate(before) if s["caption_quality"] is not None and s["caption_quality"] < cfg.below]
    asks = [todo[n] | {"recaption_reason": low_score_reason(before[n], cfg.below)} for n in low]
    stage = RecaptionStage(cfg, score.prompts, target_model)
    results = executor.run_stage(stage, asks, work / stage.name)
    done = [
        (n, a | {"recaption": r["recaption"]})
        for n, a, r in zip(low, asks, results, strict=True)
        if r["status"] == "ok"
    ]
    scores = score_rows(executor, [a for _, a in done], score, work, "recaption")
    out: list[dict] = [{} for _ in todo]
    for n, a, r in zip(low, asks, results, strict=True):
        out[n] = {
            "recaption_reason": a["recaption_reason"],
            "recaption_note": r["reason"] if r["status"] != "ok" else None,
        }
    for (n, a), s in zip(done, scores, strict=True):
        out[n] |= {"recaption": a["recaption"], **s}
    return out


def _final(row: dict, before: dict, rewrite: dict) -> dict:
    """A kept row with its original caption and scores, the rewrite's, and the caption in use with its scores."""
    fields = {"original_caption": row["caption"], **{f"original_{k}": v for k, v in before.items()}}
    fields |= dict.fromkeys(RECAPTION_FIELDS) | rewrite
    better = rewrite.get("recaption_caption_quality") is not None
    better = better and rewrite["recaption_caption_quality"] > before["caption_quality"]
    in_use = {"caption": rewrite["recaption"], **{k: rewrite[f"recaption_{k}"] for k in SCORES}} if better else before
    return row | fields | {"recaption_kept": bool(better)} | in_use


def _card(data: Path, rows: list[dict], score: ScoreConfig, cfg: RecaptionConfig) -> tuple[dict, dict]:
    """DATA's card facts and sections, with the caption quality after and before, and the rewrite counts."""
    facts, sections = read_card(data)
    models = score_models(score)
    facts |= {
        "caption_quality": quality_facts(rows, models),
        "caption_quality_before": quality_facts(rows, models, "original_"),
    }
    kept = [r for r in rows if r.get("shard")]
    asked = [r for r in kept if r["recaption_reason"] is not None]
    sections = sections | {
        "Re-captioning": {
            "generator": cfg.generator.name,
            f"captions below {cfg.below}": len(asked),
            "rewritten": sum(r["recaption"] is not None for r in asked),
            "rewrite failed": sum(r["recaption_note"] is not None for r in asked),
            "kept (scored higher)": sum(r["recaption_kept"] for r in kept),
        }
    }
    return facts, sections
