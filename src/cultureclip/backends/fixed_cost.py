"""Backends with a fixed, known cost per item, to measure the builder's own overhead (benchmarks).

`fixed:SECONDS` as a text generator echoes each prompt back after SECONDS per prompt; as an image
generator it returns a flat image coloured by the seed after SECONDS per image. Both wait rather
than compute, so their cost is the same however busy the CPU is.
"""

import time
from collections.abc import Sequence

from PIL import Image

from cultureclip.backends.images import IMAGE_GENERATORS, RenderRequest
from cultureclip.backends.textgen import TEXT_GENERATORS
from cultureclip.config import ChatModelConfig, ImageGeneratorConfig


class FixedCostTextGenerator:
    def __init__(self, seconds: float):
        self.seconds = seconds

    def generate(self, prompts: Sequence[str]) -> list[str]:
        time.sleep(self.seconds * len(prompts))
        return list(prompts)


class FixedCostImageGenerator:
    def __init__(self, seconds: float, image_size: int):
        self.seconds, self.image_size = seconds, image_size

    def render(self, requests: list[RenderRequest]) -> list[Image.Image]:
        time.sleep(self.seconds * len(requests))
        return [Image.new("RGB", (self.image_size,) * 2, tuple(r.seed.to_bytes(4, "little")[:3])) for r in requests]


@TEXT_GENERATORS.register("fixed")
def _text(ref: str, cfg: ChatModelConfig) -> FixedCostTextGenerator:
    return FixedCostTextGenerator(float(ref))


@IMAGE_GENERATORS.register("fixed")
def _images(ref: str, image_size: int, options: ImageGeneratorConfig) -> FixedCostImageGenerator:
    return FixedCostImageGenerator(float(ref), image_size)
