"""The image stage: render each row's caption with its own seed; the image, encoded once in the dataset's
stored format (`build.shard_images`), is the stage's output, kept on disk (a blob: the rows read back say
where each image lies) and later written to the shards as it is."""

from concurrent.futures import ThreadPoolExecutor

from cultureclip.backends.image.base import RenderRequest, create_image_generator
from cultureclip.builder.stage import Stage
from cultureclip.config import BuildConfig, ImageGeneratorConfig, ShardImageConfig
from cultureclip.data.shards import encode_image
from cultureclip.errors import GenerationError


class ImageStage(Stage):
    """Renders `caption` with `seed` (and, for the procedural renderer, the concept's `attributes`).

    The output field keeps its name `png` whatever the stored format (a work folder's saved chunks name it).
    """

    name = "images"
    inputs = ("caption", "seed", "attributes")
    outputs = ("png",)
    blobs = ("png",)

    def __init__(
        self, renderer: str, image_size: int, options: ImageGeneratorConfig, stored: ShardImageConfig | None = None
    ):
        self.renderer_name, self.image_size, self.options = renderer, image_size, options
        self.stored = stored or ShardImageConfig()

    def setup(self) -> None:
        self.renderer = create_image_generator(self.renderer_name, self.image_size, self.options)

    def process(self, rows: list[dict]) -> list[dict]:
        requests = [RenderRequest(r["caption"], r["seed"], r["attributes"]) for r in rows]
        images = self.renderer.render(requests)
        if len(images) != len(rows):
            raise GenerationError(f"renderer returned {len(images)} images for {len(rows)} prompts")
        with ThreadPoolExecutor(min(8, len(images)) or 1) as pool:  # PIL encodes without the GIL
            encoded = pool.map(lambda im: encode_image(im.convert("RGB"), self.stored)[1], images)
            return [{"png": data} for data in encoded]


def render_stage(cfg: BuildConfig) -> ImageStage:
    """The build's image stage: its renderer, size and options, encoding in the dataset's stored format."""
    return ImageStage(cfg.renderer, cfg.image_size, cfg.images, cfg.shard_images)
