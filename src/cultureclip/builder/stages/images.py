"""The image stage: render each row's caption with its own seed; the PNG bytes are the stage's output,
kept on disk (a blob: the rows read back say where each image lies)."""

import io

from cultureclip.backends.image.base import RenderRequest, create_image_generator
from cultureclip.builder.stage import Stage
from cultureclip.config import ImageGeneratorConfig
from cultureclip.errors import GenerationError


class ImageStage(Stage):
    """Renders `caption` with `seed` (and, for the procedural renderer, the concept's `attributes`)."""

    name = "images"
    inputs = ("caption", "seed", "attributes")
    outputs = ("png",)
    blobs = ("png",)

    def __init__(self, renderer: str, image_size: int, options: ImageGeneratorConfig):
        self.renderer_name, self.image_size, self.options = renderer, image_size, options

    def setup(self) -> None:
        self.renderer = create_image_generator(self.renderer_name, self.image_size, self.options)

    def process(self, rows: list[dict]) -> list[dict]:
        requests = [RenderRequest(r["caption"], r["seed"], r["attributes"]) for r in rows]
        images = self.renderer.render(requests)
        if len(images) != len(rows):
            raise GenerationError(f"renderer returned {len(images)} images for {len(rows)} prompts")
        return [{"png": _png(im)} for im in images]


def _png(image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()
