"""Caption quality of a finished dataset folder, built or imported (`cultureclip score-captions DATA`): each
kept row's caption scored by the stages of `stages/caption_scores.py` and `stages/caption_rubric.py`, written
beside the dataset as `scores.parquet` (one row per kept sample, by `key`), and their summary to the dataset
card (`card.py`). The manifest is left as it is, so a run's models trained on DATA stay valid.

Scores (columns; None where not given): `detail_coverage` and `details_missing` (always, where the row has
details), `caption_clip` (with `score.judge`), `rubric_accuracy`, `rubric_visual_detail`,
`rubric_cultural_context`, `rubric_no_invented_facts`, `rubric_score`, `rubric_reason` (with `score.rubric`),
and `caption_quality`: the mean of those given, each on 0-1 (`detail_coverage` as it is; `caption_clip` as
CLIPScore, min(1, 2.5 max(cos, 0)), Hessel et al. 2021; `rubric_score` as (s - 1) / 4). A row whose scoring
failed keeps the reason in `caption_score_note`.

A recipe of the one driver (`pipeline.build`, publish mode `beside`): each stage saves its chunks under
`DATA.scores.work/`, so a killed run continues where it stopped; the settings and the manifest's hash are
saved as `DATA/caption_scores.yaml`, and running again with the same settings does nothing, with other
settings scores again.
"""

import logging
from pathlib import Path

from cultureclip.builder.card import quality_facts
from cultureclip.builder.executors import Executor
from cultureclip.builder.pipeline import BuildJob, Built, Publish, build
from cultureclip.builder.recipes import BUILD_RECIPES
from cultureclip.builder.sources import stage_row
from cultureclip.builder.stage import Stage
from cultureclip.builder.stages.caption_rubric import RubricStage, load_quality_prompts
from cultureclip.builder.stages.caption_scores import AgreementStage, CoverageStage, caption_quality
from cultureclip.config import ExecutorConfig, ScoreConfig, dump_config
from cultureclip.data.finished import SCORES_TABLE, read_rows, read_scores
from cultureclip.data.shards import MANIFEST
from cultureclip.io import input_record

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
"""The columns of the scores (each also with a prefix, `recaption_`, for a rewritten caption)."""


class CaptionScoresRecipe:
    """Scores the captions of the finished dataset `data` with `cfg` (see the module docstring)."""

    publish = Publish("beside", "score-captions", SCORES_RECORD, "scores.work")

    def __init__(self, data: Path, cfg: ScoreConfig):
        self.data, self.cfg = Path(data), cfg

    def record(self, job: BuildJob) -> str:
        """The score settings and the content of the dataset's manifest (a rebuilt dataset is scored again)."""
        read_rows(self.data)  # first: it checks DATA is a finished dataset
        return dump_config(self.cfg) + input_record({"manifest": self.data / MANIFEST})

    def check(self, job: BuildJob) -> None:
        """Nothing to check before the work starts (the stages check their settings as they set up)."""

    def generate(self, job: BuildJob, executor: Executor, work: Path) -> Built:
        """Every kept row's scores, as the table beside the dataset, and their summary for the card."""
        rows = read_rows(self.data)
        kept = [r for r in rows if r.get("shard")]
        scores = score_rows(executor, [stage_row(self.data, r) for r in kept], self.cfg, work)
        scored = [r | s for r, s in zip(kept, scores, strict=True)]
        return Built(
            [],
            tables={SCORES_TABLE: [{"key": r["key"], **s} for r, s in zip(kept, scores, strict=True)]},
            facts={"caption_quality": quality_facts(scored, score_models(self.cfg))},
            summary=f"scored {len(kept)} captions",
        )


def score_dataset(folder: Path, cfg: ScoreConfig, executor: ExecutorConfig) -> Path:
    """Score the captions of the dataset in `folder` (see the module docstring), the stages run by `executor`."""
    return build(BUILD_RECIPES.create("caption_scores", folder, cfg), BuildJob(executor=executor), folder)


def scores_of(folder: Path, cfg: ScoreConfig) -> dict[str, dict] | None:
    """The scores beside the dataset in `folder` by key when they were given with `cfg` to its present
    manifest, else None."""
    saved = Path(folder) / SCORES_RECORD
    record = dump_config(cfg) + input_record({"manifest": Path(folder) / MANIFEST})
    return read_scores(folder) if saved.is_file() and saved.read_text() == record else None


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
