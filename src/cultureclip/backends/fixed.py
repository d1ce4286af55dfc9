"""Backends with a fixed, known cost per item, to measure the builder's own overhead (benchmarks).

`fixed:SECONDS` as a chat model echoes each prompt back after SECONDS per prompt; as an image
generator it returns a flat image coloured by the seed after SECONDS per image. Both wait rather
than compute, so their cost is the same however busy the CPU is.
"""

import time
from collections.abc import Sequence

from PIL import Image

from cultureclip.backends.chat.base import ChatImage, refuse_images
from cultureclip.backends.image.base import RenderRequest
from cultureclip.config import ChatModelConfig, ImageGeneratorConfig


class FixedCostTextGenerator:
    """Echoes each prompt after `seconds` per prompt (text only)."""

    def __init__(self, seconds: float, name: str):
        self.seconds, self.name = seconds, name

    def generate(
        self, prompts: Sequence[str], images: Sequence[ChatImage] | None = None, schema: dict | None = None
    ) -> list[str]:
        """The prompts themselves (`schema` ignored: an echo follows none)."""
        refuse_images(self.name, images)
        time.sleep(self.seconds * len(prompts))
        return list(prompts)


class FixedCostImageGenerator:
    """A flat image coloured by the seed after `seconds` per image."""

    def __init__(self, seconds: float, image_size: int):
        self.seconds, self.image_size = seconds, image_size

    def render(self, requests: list[RenderRequest]) -> list[Image.Image]:
        time.sleep(self.seconds * len(requests))
        return [Image.new("RGB", (self.image_size,) * 2, tuple(r.seed.to_bytes(4, "little")[:3])) for r in requests]


def create_chat_model(ref: str, cfg: ChatModelConfig) -> FixedCostTextGenerator:
    """fixed:SECONDS in the chat seam."""
    return FixedCostTextGenerator(float(ref), cfg.name)


def create_image_generator(ref: str, image_size: int, options: ImageGeneratorConfig) -> FixedCostImageGenerator:
    """fixed:SECONDS in the image seam."""
    return FixedCostImageGenerator(float(ref), image_size)
