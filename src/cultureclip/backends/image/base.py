"""The image-generator seam: `render(requests) -> images`, chosen by an id that names its source.

Ids: `procedural` (the offline world's renderer, procedural.py), `diffusers:HUB_NAME_OR_PATH`
(diffusers.py), `tiny:sd` (a toy Stable Diffusion pipeline built from configs, for tests), `fixed:SECONDS`
(a flat image after a fixed wait, for benchmarks; backends/fixed.py). Sources are registered lazily.
"""

from dataclasses import dataclass, field
from typing import Protocol

from PIL import Image

from cultureclip.config import ImageGeneratorConfig
from cultureclip.registry import Registry


@dataclass(frozen=True)
class RenderRequest:
    """One image to render: the caption it illustrates, its seed, and the concept's visual attributes."""

    prompt: str
    seed: int
    attributes: dict[str, str] = field(default_factory=dict)


class ImageGenerator(Protocol):
    def render(self, requests: list[RenderRequest]) -> list[Image.Image]: ...


IMAGE_GENERATORS: Registry[ImageGenerator] = Registry(
    "image generator",
    lazy={
        "procedural": "cultureclip.backends.image.procedural:create",
        "diffusers": "cultureclip.backends.image.diffusers:create",
        "tiny": "cultureclip.backends.image.diffusers:create_tiny",
        "fixed": "cultureclip.backends.fixed:create_image_generator",
    },
)


def create_image_generator(name: str, image_size: int, options: ImageGeneratorConfig | None = None) -> ImageGenerator:
    """Build the generator `name` ('source' or 'source:ref') names, rendering `image_size` pixels square."""
    source, _, ref = name.partition(":")
    return IMAGE_GENERATORS.create(source, ref=ref, image_size=image_size, options=options or ImageGeneratorConfig())
