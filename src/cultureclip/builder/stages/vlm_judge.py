"""The reference recipe's judge: a vision-language model scores each image against its caption, and the
reference's pass rule on those scores (the paper recipe and the CulTwin import use both)."""

from cultureclip.builder.stages.chat import ChatStage
from cultureclip.builder.stages.paper_text import load_paper_prompts
from cultureclip.builder.stages.replies import CRITERIA, parse_scores, scores_schema
from cultureclip.config import JudgeConfig


class VlmJudgeStage(ChatStage):
    """An image and its caption -> scores 1-5 with reasons on authenticity, consistency, cultural fidelity."""

    name = "judge"
    inputs = ("png", "caption", "name", "country", "category")
    outputs = tuple(f for c in CRITERIA for f in (c, f"{c}_reason"))
    schema = scores_schema()

    def __init__(self, cfg: JudgeConfig):
        super().__init__(cfg.model, load_paper_prompts(cfg.prompts), cfg.reasks)
        self.cfg = cfg

    def process(self, rows: list[dict]) -> list[dict]:
        images = [r["png"] for r in rows]  # the stored bytes, sent as they are (unreadable: the row fails)
        prompts = [self.prompts["judge"].format(**r) for r in rows]
        return [
            v if v else {"status": "failed", "reason": f"judge: {why}"}
            for v, why in self.ask(prompts, lambda i, text: parse_scores(text), images, self.schema)
        ]


def image_passes(scores: dict, cfg: JudgeConfig) -> bool:
    """The reference rule: no score at or below `fail_score`, and the mean above `pass_mean`."""
    values = [scores[c] for c in CRITERIA]
    return min(values) > cfg.fail_score and sum(values) / len(values) > cfg.pass_mean


def judge_rejection(scores: dict, cfg: JudgeConfig) -> str | None:
    """Why the judge's `scores` reject an image (the scores and their mean), or None when it passes."""
    if image_passes(scores, cfg):
        return None
    mean = sum(scores[c] for c in CRITERIA) / len(CRITERIA)
    return f"judge: {', '.join(f'{c} {scores[c]}' for c in CRITERIA)} (mean {mean:.2f})"
