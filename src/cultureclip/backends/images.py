"""The image-generator seam: `render(requests) -> images`, chosen by an id that names its source.

Ids: `procedural` (the offline world's renderer), `diffusers:HUB_NAME_OR_PATH` (backends/diffusion.py),
`tiny:sd` (a toy Stable Diffusion pipeline built from configs, for tests), `fixed:SECONDS` (a flat image
after a fixed wait, for benchmarks).
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


IMAGE_GENERATORS: Registry[ImageGenerator] = Registry("image generator")


def create_image_generator(name: str, image_size: int, options: ImageGeneratorConfig | None = None) -> ImageGenerator:
    """Build the generator `name` ('source' or 'source:ref') names, rendering `image_size` pixels square."""
    import cultureclip.backends.diffusion  # noqa: F401  (registers diffusers and tiny)
    import cultureclip.backends.fixed_cost  # noqa: F401  (registers fixed)
    import cultureclip.backends.procedural  # noqa: F401  (registers the offline renderer)

    source, _, ref = name.partition(":")
    return IMAGE_GENERATORS.create(source, ref=ref, image_size=image_size, options=options or ImageGeneratorConfig())
