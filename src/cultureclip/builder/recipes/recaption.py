"""Re-captioning a finished dataset folder, built or imported (`cultureclip recaption DATA --out NEW`):
every kept row's caption is scored (as `score-captions` does, or read from the scores beside DATA when it was
scored with the same settings); each one whose `caption_quality` is below `recaption.below` is rewritten
by the chat model with the reason it scored low (`stages/recaption.py`); the rewrite is scored the same
way and replaces the caption only if its caption_quality is higher.

NEW is a dataset of the same images (its shards carry the captions in use), whose manifest keeps, per
row, `original_caption` and its scores (`original_*`), the rewrite `recaption` with `recaption_reason`
(what the model was told) and its scores (`recaption_*`; `recaption_note`: why a rewrite failed),
`recaption_kept`, and the caption in use with its scores under the usual names. The card shows the
caption quality before and after and the rewrite counts.

A recipe of the one driver (`pipeline.build`, publish mode `derived`): every stage saves its chunks under
`NEW.work/`, so a killed run resumes without asking the chat model again for the rows it finished; NEW
appears atomically with its settings (`recaption.yaml`). DATA's scores are read from the table beside it
(`scores.parquet`) when it was scored with the same settings.
"""

import logging
from pathlib import Path

from cultureclip.builder.card import quality_facts, read_card
from cultureclip.builder.executors import Executor
from cultureclip.builder.pipeline import BuildJob, Built, Publish, build
from cultureclip.builder.recipes import BUILD_RECIPES
from cultureclip.builder.recipes.caption_scores import SCORES, score_models, score_rows, scores_of
from cultureclip.builder.sources import stage_row
from cultureclip.builder.stages.recaption import RecaptionStage, low_score_reason
from cultureclip.config import ExecutorConfig, RecaptionConfig, ScoreConfig, dump_config
from cultureclip.data.finished import read_rows
from cultureclip.data.shards import MANIFEST
from cultureclip.errors import ConfigError
from cultureclip.io import input_record

log = logging.getLogger(__name__)
RECORD = "recaption.yaml"
RECAPTION_FIELDS = ("recaption", "recaption_reason", "recaption_note", *(f"recaption_{k}" for k in SCORES))
ADDED = ("original_caption", *(f"original_{k}" for k in SCORES), *RECAPTION_FIELDS, "recaption_kept", *SCORES)
"""The manifest columns re-captioning adds or sets (None in the rows it does not score: the dropped ones)."""


class RecaptionRecipe:
    """Re-captions the finished dataset `data` (see the module docstring)."""

    publish = Publish("derived", "recaption", RECORD)

    def __init__(self, data: Path, cfg: RecaptionConfig, score: ScoreConfig):
        self.data, self.cfg, self.score = Path(data), cfg, score

    def record(self, job: BuildJob) -> str:
        """DATA, the target CLIP, the score and re-caption settings and the content of DATA's manifest."""
        read_rows(self.data)  # first: it checks DATA is a finished dataset
        head = f"source: {self.data.resolve()}\ntarget_model: {job.target_model}\n"
        return (
            head
            + dump_config(self.score)
            + dump_config(self.cfg)
            + input_record({"source manifest": self.data / MANIFEST})
        )

    def check(self, job: BuildJob) -> None:
        """Nothing to check before the work starts (the stages check their settings as they set up)."""

    def generate(self, job: BuildJob, executor: Executor, work: Path) -> Built:
        """Scores (DATA's, or scored now), rewrites of the low ones, and the rows with the caption in use."""
        rows = read_rows(self.data)
        kept = [r for r in rows if r.get("shard")]
        todo = [stage_row(self.data, r) for r in kept]
        saved = scores_of(self.data, self.score)
        if saved is not None:  # DATA was scored with these settings
            before = [{k: saved.get(r["key"], {}).get(k) for k in SCORES} for r in kept]
        else:
            before = score_rows(executor, todo, self.score, work)
        rewrites = _rewrite(executor, todo, before, self.cfg, self.score, job.target_model, work)
        final = iter(_final(r, b, w) for r, b, w in zip(kept, before, rewrites, strict=True))
        rows = [next(final) if r.get("shard") else r | dict.fromkeys(ADDED) for r in rows]
        facts, sections = _card(self.data, rows, self.score, self.cfg)
        replaced = sum(bool(r["recaption_kept"]) for r in rows)
        summary = f"re-captioned {self.data}: {replaced} captions replaced"
        return Built(rows, facts=facts, sections=sections, source=self.data, summary=summary)


def recaption_dataset(
    data: Path, out: Path, cfg: RecaptionConfig, score: ScoreConfig, executor: ExecutorConfig, target_model: str
) -> Path:
    """Write DATA re-captioned into `out` (see the module docstring); captions must fit `target_model`."""
    data, out = Path(data), Path(out)
    if out.resolve() == data.resolve():
        raise ConfigError(f"recaption {data}: --out must be a new folder (the dataset is read, not rewritten)")
    return build(
        BUILD_RECIPES.create("recaption", data, cfg, score), BuildJob(target_model=target_model, executor=executor), out
    )


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
