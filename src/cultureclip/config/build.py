"""How a dataset is built: one recipe (`catalog`, `paper` or `bottom_up`) with its own section, and the
shared machinery (renderer, shards; where the stages run is section `executor`). A section of a recipe
other than the chosen one is an error, so no setting is silently ignored."""

from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, ValidationError, create_model, model_validator

from cultureclip.config.base import Strict
from cultureclip.config.models import ChatModelConfig, ImageGeneratorConfig, reference_vlm


class ShardImageConfig(Strict):
    """How a dataset stores its images in the shards (written once, read every epoch)."""

    format: Literal["jpeg", "png", "webp"] = "jpeg"
    """jpeg (the ecosystem's training format, decoded 3-5x faster than PNG), png (lossless), webp."""
    quality: int = Field(default=95, ge=1, le=100)
    """JPEG / WebP quality (95 as img2dataset writes); PNG ignores it."""
    max_side: int | None = Field(default=None, ge=16)
    """Longest side stored (a 512-px render cut to 256 for 224-px training); None keeps the image's size."""


class CaptionConfig(Strict):
    generator: ChatModelConfig | None = None
    """The chat model that writes captions; None: the fallback writer writes every caption (the offline default)."""
    fallback: str = "template"
    """Writer of a caption the generator could not write (and, without a generator, of every caption)."""
    prompts: str = "captions-v1"
    """Prompt file: a shipped name (cultureclip/builder/prompts/NAME.yaml) or a path."""
    styles: list[str] = Field(default_factory=lambda: ["short", "detailed", "contextual"], min_length=1)
    """Caption k of a concept uses style k mod len(styles); each must be a style of the prompt file."""
    reasks: int = Field(default=1, ge=0)
    """Times an output that breaks the caption rules is asked again before the fallback caption replaces it."""


class ClipFilterConfig(Strict):
    """A CLIP scores each rendered image; low scores, small twin margins and near-duplicates are rejected."""

    clip: str = "open_clip:ViT-B-32@openai"
    """CLIP model id of the filter (see model.name)."""
    min_score: float = 0.2
    """Minimum cosine similarity between an image and its caption."""
    twin_margin: float = 0.0
    """The image must be closer to its own concept text than to every twin's by more than this (cosine)."""
    dedup_threshold: float = Field(default=0.95, le=1)
    """Images of one concept more similar than this to an earlier kept one are near-duplicates."""
    concept_template: str = "a photo of {name}, {a} {generic} from {culture}."
    batch_size: int = Field(default=32, ge=1)


RECIPE_SECTIONS: dict[str, type[Strict]] = {}
"""Each recipe's config section by recipe name, filled by the `RecipeSection` subclasses as they are declared:
`BuildConfig`'s recipe choice and its sections are derived from it (a new recipe declares its section once)."""


class RecipeSection(Strict):
    """The settings of one build recipe, section `build.<recipe>`: a subclass names its recipe (`recipe`) and
    where its class is (`builds`, "module:Class"). That is the recipe's one registration: `BUILD_RECIPES`
    takes the recipes chosen by `build.recipe` from these declarations (config/ cannot import builder/)."""

    recipe: ClassVar[str]
    builds: ClassVar[str]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "recipe" in cls.__dict__:
            if cls.recipe in RECIPE_SECTIONS:
                raise ValueError(f"recipe section {cls.recipe!r} is declared twice")
            RECIPE_SECTIONS[cls.recipe] = cls


class CatalogRecipeConfig(RecipeSection):
    """The catalogue recipe: twin groups of the catalogue -> captions -> images -> optional CLIP filter."""

    recipe = "catalog"
    builds = "cultureclip.builder.recipes.catalog:CatalogRecipe"

    groups: Literal["all"] | list[str] | None = None
    """Twin groups the dataset is built from, in this order. None: the offline world's original 27 groups
    when the shipped catalogue is in use (so the default run's figures stay true), else every group."""
    max_groups: int | None = Field(default=None, ge=1)
    """Keep only the first N of those twin groups (small presets)."""
    captions_per_concept: int = Field(default=6, ge=1)
    """Captions per concept; image k of a concept illustrates caption k mod this, each image with its own seed."""
    train_images: int = Field(default=24, ge=1)
    """Images rendered per concept for training."""
    test_images: int = Field(default=8, ge=1)
    """Held-out images per concept, rendered with seeds no training image uses."""
    captions: CaptionConfig = Field(default_factory=CaptionConfig)
    filter: ClipFilterConfig | None = None
    """CLIP filtering; None keeps every rendered image (the offline default)."""


class TwinPairConfig(RecipeSection):
    """What the reference's twin-pair stages read (`paper.twin_pairs`): a concept -> its twin -> captions of both
    -> every caption pair rendered -> a vision-language judge keeps pairs whose two images pass. The `paper` and
    `bottom_up` sections each add their own source of concepts."""

    categories: Annotated[list[str], Field(min_length=1)] | None = None
    """Concept categories; None: the reference's 8 (builder/recipes/paper.py: CATEGORIES)."""
    generator: ChatModelConfig = Field(default_factory=lambda: reference_vlm(0.7, 400))
    """Writes concepts, twins and captions (text only; the reference uses its judge model at temperature 0.7)."""
    prompts: str = "paper-v1"
    """Prompt file: a shipped name (cultureclip/builder/prompts/NAME.yaml) or a path."""
    captions_per_concept: int = Field(default=10, ge=1)
    """Captions written for each concept and for its twin; every (concept, twin) caption pair is rendered."""
    max_caption_words: int = Field(default=14, ge=1)
    """Longest caption in words (the reference asks for captions under 15 words)."""
    images_per_caption: int = Field(default=1, ge=1)
    """Renders per caption, each with its own seed; render k of a concept caption pairs with render k of a twin's."""
    reasks: int = Field(default=2, ge=0)
    """Times a reply that cannot be parsed or breaks the rules is asked again before the row fails with the reason."""
    test_every: int = Field(default=10, ge=0)
    """Every Nth twin pair (in prompt order) goes to the test split; 0: none. (The judge and its pass rule are
    section `judge`.)"""


class PaperRecipeConfig(TwinPairConfig):
    """The reference (CultureCLIP paper) recipe: country x category prompts -> concept -> the twin-pair stages."""

    recipe = "paper"
    builds = "cultureclip.builder.recipes.paper:PaperRecipe"

    countries: list[str] | None = None
    """Countries asked about; None: every ISO 3166-1 country (pycountry, 249; the reference used 229)."""
    max_prompts: int | None = Field(default=None, ge=1)
    """Use only the first N country x category prompts (small runs)."""


class CorpusConfig(Strict):
    """An image-text corpus, read by its kind's reader (`cultureclip.data.corpora`); each kind reads
    `path` and only the options named for it below (another option set is an error)."""

    kind: str = "wit"
    """wit: rows in the WIT layout (.json list, .jsonl or .parquet) with local images; img2dataset: the
    output folder of img2dataset (webdataset or parquet format; finished shards, successful rows);
    webdataset: a folder of uncompressed .tar shards, or one .tar; folder: images with captions
    (NAME.jpg beside NAME.txt, or a captions.csv / captions.jsonl with `file` and `caption`)."""
    path: Path
    """The rows file (wit), the output folder (img2dataset), the shards (webdataset), the images (folder)."""
    images: Path | None = None
    """wit: folder of the images of rows that carry no image_path: <key or index>.<jpg|png|...>."""
    image_members: list[str] = Field(default_factory=lambda: ["jpg", "jpeg", "png", "webp"], min_length=1)
    """webdataset: extensions of a sample's image member, the first present taken."""
    text_members: list[str] = Field(default_factory=lambda: ["txt", "caption"], min_length=1)
    """webdataset: extensions of a sample's caption member, the first present taken."""


class BottomUpRecipeConfig(TwinPairConfig):
    """The reference's bottom-up route: real image-text rows (WIT) -> a vision-language model keeps the
    rows that clearly show a concept of one of the categories and labels each (country, category, context,
    key visual features) -> the labels become catalogue rows (the catalogue's checks) -> then the
    reference recipe's twin, caption, image and judge stages (`TwinPairConfig`, shared with `paper`). The
    real photos stay in the dataset beside the renders (`source: photo`)."""

    recipe = "bottom_up"
    builds = "cultureclip.builder.recipes.bottom_up:BottomUpRecipe"

    corpus: CorpusConfig | None = None
    """The image-text corpus the photos come from: `{kind, path}` and the kind's options (see CorpusConfig)."""
    rows: Path | None = None
    """Image-text rows in the WIT layout (.json list, .jsonl or .parquet): page_title, page_url,
    image_url, caption_attribution_description, context_page_description, and image_path (a local
    file, relative to the rows' folder) or, with `images`, a file named by the row's `key` or index.
    The same as `corpus: {kind: wit, path: ROWS, images: IMAGES}`."""
    images: Path | None = None
    """Folder of the rows' images when they carry no image_path: <key or index>.<jpg|png|...>."""
    labeller: ChatModelConfig = Field(default_factory=lambda: reference_vlm(0.7, 400))
    """The vision-language model that filters and labels the photos (the reference's VLM and settings)."""
    photo_prompts: str | None = None
    """Prompt file of the filter and label stages: a shipped name or a path. None: bottom-up-v1 (the
    reference's, which present each photo as a Wikipedia page's) for WIT rows, bottom-up-corpus-v1 (a photo
    with its caption, and its page where the corpus names one) for the other corpus kinds."""
    keep_photos: bool = True
    """Keep each labelled photo as a sample of its concept (source: photo, with its URL and attribution)."""

    @model_validator(mode="after")
    def _one_corpus(self) -> "BottomUpRecipeConfig":
        if self.corpus is not None and (self.rows is not None or self.images is not None):
            raise ValueError("set corpus, or rows (and images), not both")
        return self

    def corpus_config(self) -> CorpusConfig | None:
        """The corpus to read: `corpus`, or the WIT rows of `rows` (with `images`); None when neither is set."""
        if self.corpus is None and self.rows is not None:
            return CorpusConfig(kind="wit", path=self.rows, images=self.images)
        return self.corpus

    def photo_prompt_file(self) -> str:
        """The prompt file the filter and label stages use: `photo_prompts`, else the one for the corpus kind."""
        if self.photo_prompts is not None:
            return self.photo_prompts
        corpus = self.corpus_config()
        return "bottom-up-v1" if corpus is None or corpus.kind == "wit" else "bottom-up-corpus-v1"


class BuildSettings(Strict):
    """The settings every recipe shares; `BuildConfig` adds the recipe choice and one section per recipe."""

    renderer: str = "procedural"
    """Image generator id: procedural (offline world), diffusers:HUB_NAME_OR_PATH (any text-to-image
    pipeline: SD-Turbo, SDXL, SD3, FLUX), tiny:sd (tests), fixed:SECONDS (benchmarks)."""
    image_size: int = Field(default=48, ge=16)
    shard_size: int = Field(default=1000, ge=1)
    shard_images: ShardImageConfig = Field(default_factory=ShardImageConfig)
    """Format, quality and stored size of the shards' images (the renders are encoded once, in this format)."""
    images: ImageGeneratorConfig = Field(default_factory=ImageGeneratorConfig)
    max_failed_share: float = Field(default=0.3, ge=0, le=1)
    """A build in which a larger share of rows failed or fell back to the template caption is not
    published: it stops with the count and the most common reason (1: publish whatever happened)."""

    @model_validator(mode="before")
    @classmethod
    def _one_recipe_section(cls, data: Any) -> Any:
        """Fill the chosen recipe's section; drop another recipe's untouched defaults, refuse its settings."""
        if not isinstance(data, dict) or data.get("recipe", "catalog") not in RECIPE_SECTIONS:
            return data
        data, recipe = dict(data), data.get("recipe", "catalog")
        for name, section in RECIPE_SECTIONS.items():
            value = data.get(name)
            if name == recipe:
                data[name] = {} if value is None else value
            elif value is not None and not _is_default(section, value):
                raise ValueError(f"section {name!r} applies only to recipe {name!r} (the recipe is {recipe!r})")
            else:
                data[name] = None
        return data


BuildConfig = create_model(
    "BuildConfig",
    __base__=BuildSettings,
    __doc__="How a dataset is built: the recipe (`recipe`), its section (`build.<recipe>`) and the shared settings.",
    recipe=(
        Literal[tuple(RECIPE_SECTIONS)],
        Field(
            "catalog",
            description="catalog: the concept catalogue's twin groups; paper: the reference recipe (the paper-build "
            "preset); bottom_up: concepts mined from real image-text rows (the paper-bottom-up preset). Only the "
            "chosen recipe's section may be set.",
        ),
    ),
    **{
        name: (
            section | None,
            Field(None, description=f"Settings of recipe {name!r} (its defaults when it is the recipe)."),
        )
        for name, section in RECIPE_SECTIONS.items()
    },
)


def _is_default(section: type[Strict], value: Any) -> bool:
    try:
        return section.model_validate(value) == section()
    except ValidationError:
        return False
