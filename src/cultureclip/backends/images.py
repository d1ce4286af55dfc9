"""The image-generator seam: `render(requests) -> images`, chosen by name from a registry."""

from dataclasses import dataclass, field
from typing import Protocol

from PIL import Image

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


def create_image_generator(name: str, image_size: int) -> ImageGenerator:
    import cultureclip.backends.procedural  # noqa: F401  (registers the offline renderer)

    return IMAGE_GENERATORS.create(name, image_size=image_size)
