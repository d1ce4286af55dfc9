"""The re-caption stage: a caption that scored low, rewritten by a chat model told why it scored low
(`recaption_reason`, from `low_score_reason`) and given the concept's facts. A rewrite must follow the
caption rules (`caption_rules.py`, with the target CLIP's tokenizer) and differ from the caption, else it
is asked again with the reason; a row that never gets one fails with that reason."""

from cultureclip.builder.stages.caption_rubric import FACTS, load_quality_prompts
from cultureclip.builder.stages.caption_rules import caption_problem, clean_caption
from cultureclip.builder.stages.caption_scores import unit_scores
from cultureclip.builder.stages.chat import ChatStage
from cultureclip.builder.stages.replies import ReplyError, fields_schema, parse_fields
from cultureclip.config import RecaptionConfig
from cultureclip.data.text import fold


class RecaptionStage(ChatStage):
    """Rows with `caption`, the concept's facts and `recaption_reason` -> `recaption`, the rewrite."""

    name = "recaption"
    inputs = ("caption", *FACTS, "recaption_reason")
    outputs = ("recaption",)
    schema = fields_schema(("caption",))
    ask_once = True  # a concept's caption on many images, low for the same reason, is one prompt

    def __init__(self, cfg: RecaptionConfig, prompts: str, target_model: str):
        super().__init__(cfg.generator, load_quality_prompts(prompts), cfg.reasks)
        self.target_model = target_model

    def setup(self) -> None:
        from cultureclip.backends.clip import tokenizer_for

        super().setup()
        self.tokenizer = tokenizer_for(self.target_model)

    def process(self, rows: list[dict]) -> list[dict]:
        prompts = [self.prompts["recaption"].format(**r) for r in rows]

        def parse(i: int, text: str) -> str:
            caption = clean_caption(parse_fields(text, ("caption",))["caption"])
            why = caption_problem(caption, rows[i]["name"], self.tokenizer)
            if why is None and fold(caption) == fold(rows[i]["caption"]):
                why = "the same caption again"
            if why:
                raise ReplyError(f"the caption breaks a rule: {why}")
            return caption

        return [
            {"recaption": v} if v else {"status": "failed", "reason": f"recaption: {why}"}
            for v, why in self.ask(prompts, parse, schema=self.schema)
        ]


def low_score_reason(scores: dict, below: float) -> str:
    """Why a caption scored below `below`, from its scores: the details it does not state, a judge CLIP's
    low agreement, a low rubric with the grader's reasons (or, failing those, its caption_quality)."""
    units, parts = unit_scores(scores), []
    if scores.get("details_missing"):
        parts.append("it does not state " + "; ".join(scores["details_missing"]))
    if units.get("caption_clip", 1.0) < below:
        parts.append(f"a judge CLIP finds it a poor match for the image (cosine {scores['caption_clip']:.2f})")
    if units.get("rubric_score", 1.0) < below:
        parts.append(f"a grader gave it {scores['rubric_score']:.1f} of 5 ({scores['rubric_reason']})")
    return "; ".join(parts) or f"its caption quality is {scores['caption_quality']:.2f}, below {below}"
