"""The caption rubric: a chat model grades each caption 1-5 on four criteria, each with its reason, from
the concept's facts (name, culture, category, distinguishing details, context); `rubric_score` is their
mean. A reply that does not parse is asked again with the reason; a row that never gets one fails."""

from cultureclip.builder.prompts import load_prompt_file
from cultureclip.builder.stages.chat import ChatStage
from cultureclip.builder.stages.replies import parse_scores, scores_schema
from cultureclip.config import ScoreConfig

RUBRIC = ("accuracy", "visual_detail", "cultural_context", "no_invented_facts")
PROMPT_KEYS = ("version", "rubric", "recaption", "reask")
FACTS = ("name", "culture", "category", "details", "context")
"""The concept's facts a row carries for the rubric and re-caption prompts."""


def load_quality_prompts(name: str) -> dict[str, str]:
    """The caption-quality prompt file (a shipped name or a path), checked for every prompt it needs."""
    return load_prompt_file(name, "score.prompts", dict.fromkeys(PROMPT_KEYS, str))


class RubricStage(ChatStage):
    """Rows with the caption field `text` and the concept's facts -> `rubric_<criterion>` (1-5),
    `rubric_score` (their mean) and `rubric_reason` (each criterion's reason), under `prefix`."""

    name = "rubric"
    schema = scores_schema(RUBRIC)

    def __init__(self, cfg: ScoreConfig, text: str = "caption", prefix: str = ""):
        super().__init__(cfg.rubric, load_quality_prompts(cfg.prompts), cfg.reasks)
        self.text, self.prefix = text, prefix
        self.inputs = (text, *FACTS)
        self.outputs = tuple(f"{prefix}rubric_{c}" for c in (*RUBRIC, "score", "reason"))

    def process(self, rows: list[dict]) -> list[dict]:
        prompts = [self.prompts["rubric"].format(**(r | {"caption": r[self.text]})) for r in rows]
        return [
            self._fields(v) if v else {"status": "failed", "reason": f"rubric: {why}"}
            for v, why in self.ask(prompts, lambda i, text: parse_scores(text, RUBRIC), schema=self.schema)
        ]

    def _fields(self, scores: dict) -> dict:
        out = {f"{self.prefix}rubric_{c}": scores[c] for c in RUBRIC}
        out[f"{self.prefix}rubric_score"] = sum(scores[c] for c in RUBRIC) / len(RUBRIC)
        out[f"{self.prefix}rubric_reason"] = "; ".join(f"{c}: {scores[f'{c}_reason']}" for c in RUBRIC)
        return out
