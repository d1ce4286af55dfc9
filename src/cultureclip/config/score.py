"""Caption quality of a built or imported dataset: the scores per row (`cultureclip score-captions`)."""

from pydantic import Field

from cultureclip.config.base import Strict
from cultureclip.config.models import ChatModelConfig


class ScoreConfig(Strict):
    """Each kept row's caption scored: by a judge CLIP, for the concept's distinguishing details it states,
    and by a chat model's rubric; `caption_quality` is the mean of the scores given, each on 0-1."""

    judge: str | None = "open_clip:ViT-B-32@openai"
    """CLIP model id scoring image-caption agreement (`caption_clip`: the cosine); None: no agreement score."""
    rubric: ChatModelConfig | None = None
    """Chat model grading each caption 1-5 on accuracy to the concept, visual detail, cultural context and no
    invented facts, each with its reason (`rubric_*`); None: no rubric."""
    prompts: str = "caption-quality-v1"
    """Prompt file of the rubric (and of the re-caption stage): a shipped name or a path."""
    reasks: int = Field(default=1, ge=0)
    """Times a rubric reply that does not parse is asked again before the row's rubric is recorded as failed."""
    detail_share: float = Field(default=0.5, gt=0.0, le=1.0)
    """A distinguishing detail counts as stated when this share of its content words is in the caption."""


class RecaptionConfig(Strict):
    """Captions whose `caption_quality` is below `below` are rewritten by `generator`, told why they scored
    low, then scored again with the `score` settings; a rewrite is kept only if it scores higher
    (`cultureclip recaption DATA --out NEW`)."""

    generator: ChatModelConfig = Field(default_factory=lambda: ChatModelConfig(max_new_tokens=120))
    """Chat model that rewrites the captions (prompt `recaption` of `score.prompts`)."""
    below: float = Field(default=0.5, ge=0.0, le=1.0)
    """Rewrite the captions whose caption_quality (0-1) is below this."""
    reasks: int = Field(default=1, ge=0)
    """Times a rewrite that does not parse or breaks a caption rule is asked again with the reason."""
