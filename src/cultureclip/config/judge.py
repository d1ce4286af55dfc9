"""The vision-language judge (section `judge`): a chat model that reads images scores each one 1-5 on
authenticity, consistency and cultural fidelity, and the reference's pass rule on those scores. Every job
that judges images reads it: the paper and bottom-up recipes and `cultureclip import cultwin --judge`."""

from pydantic import Field

from cultureclip.config.base import Strict
from cultureclip.config.models import ChatModelConfig, reference_vlm


class JudgeConfig(Strict):
    model: ChatModelConfig = Field(default_factory=lambda: reference_vlm(0.0, 300))
    """The judge: a chat model that reads images (transformers image-text-to-text, openai, tiny:vlm)."""
    prompts: str = "paper-v1"
    """Prompt file holding the `judge` prompt: a shipped name (cultureclip/builder/prompts/NAME.yaml) or a path."""
    reasks: int = Field(default=2, ge=0)
    """Times a reply that cannot be parsed is asked again before the image fails with the reason."""
    fail_score: int = Field(default=1, ge=1, le=5)
    """An image with any judge score at or below this fails."""
    pass_mean: float = Field(default=3.0, ge=1, le=5)
    """An image passes only if the mean of its three judge scores is above this."""
