"""How a model trains: steps, batches, learning rate, what trains (LoRA or partial), and the loss terms."""

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from cultureclip.config.base import Strict


class LossConfig(Strict):
    caption: float = Field(default=0.7, ge=0)
    """Weight of image-caption contrast with the twins' captions as hard negatives (L_caption; softmax or
    sigmoid, see `siglip`)."""
    concept: float = Field(default=0.3, ge=0)
    """Weight of image-concept-name InfoNCE with the twins' names as hard negatives (L_concept)."""
    clip: float = Field(default=0.0, ge=0)
    """Weight of plain image-caption contrast, without twin negatives (the ablation baseline)."""
    preserve: float = Field(default=5.0, ge=0)
    """Weight of the preservation term (see `preserve_kind`)."""
    preserve_kind: Literal["features", "weights"] = "features"
    """features: distillation to the frozen starting model's embeddings of the batch images and their
    generic captions; weights: squared L2 distance of the trainable weights to their starting values."""
    siglip: Literal["auto"] | bool = "auto"
    """The form of the contrastive terms (caption, concept, clip): true: SigLIP's pairwise sigmoid loss with
    the model's logit bias; false: the softmax (InfoNCE); auto: the starting model's own, the sigmoid loss
    for a model with a learned logit bias (SigLIP, SigLIP 2), the softmax for the others (CLIP, MetaCLIP 2).
    Fine-tuning a SigLIP with the softmax loss collapses its zero-shot ability (open_clip #1076)."""
    normalize: bool = True
    """L2-normalise embeddings before the logits, as CLIP does (the reference code does not)."""
    twin_negatives: bool = True
    """caption/concept terms: each image also sees the twins' texts as extra negatives (B x 2B logits);
    false makes them in-batch InfoNCE per side (the reference's "without twin negatives" ablation)."""

    def sigmoid_for(self, has_logit_bias: bool) -> bool:
        """Whether the terms take the sigmoid form for a model with (or without) a learned logit bias."""
        return has_logit_bias if self.siglip == "auto" else self.siglip


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


class ExtraDataConfig(Strict):
    """Training data added to the world's train split, imported into the run folder (`KIND[:PATH]` for short)."""

    kind: Literal["fashion_mnist"]
    """fashion_mnist: Fashion-MNIST train photos with generic captions (`builder/recipes/fashion_mnist.py`)."""
    path: Path | None = None
    """The dataset's folder (fashion_mnist: the MNIST file layout); None: the CULTURECLIP_FASHION_MNIST variable."""
    count: int | None = Field(default=None, ge=0)
    """Samples drawn with the run's seed; None: all of them."""
    template: str = "a photo of {a} {c}, a kind of {kind}."
    """Generic caption of a photo: {c} the class name, {a} its article, {kind} what it is a kind of."""

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            kind, _, path = value.partition(":")
            return {"kind": kind, "path": path or None}
        return value


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
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    """Autocast precision of the towers' forward pass (the objective is always computed in fp32); fp16 adds a
    gradient scaler. auto: bf16 on GPUs that support it, fp16 on other GPUs, fp32 on the CPU and MPS."""
    grad_checkpointing: bool = False
    """Recompute tower activations in the backward pass to save memory."""
    checkpoint_every: int = Field(default=0, ge=0)
    """Save a resumable checkpoint every N optimizer steps (0: never)."""
    tensorboard: bool = False
    """Also write the metrics as TensorBoard scalars (beside the JSON-lines log)."""
    workers: int | None = Field(default=None, ge=0)
    """DataLoader processes reading and preprocessing images while the model trains (0: in the training
    process); None: one per CPU core this process may use, less one, shared among torchrun's local ranks, at most 8."""
    augment: bool = False
    """Random resized crop of each image (scale 0.9-1, bicubic: open_clip's training transform), seeded by
    the step, so a resumed run sees the same crops."""
    loss: LossConfig = Field(default_factory=LossConfig)
    extra_data: list[ExtraDataConfig] = Field(default_factory=list)
    """Datasets trained on together with the world's train split (e.g. photos to align pretrained towers)."""

    @model_validator(mode="after")
    def _twin_terms_need_twin_batches(self) -> "TrainConfig":
        terms = [name for name in ("caption", "concept") if getattr(self.loss, name)]
        if terms and self.sampler == "random":
            raise ValueError(
                f"loss.{terms[0]} needs twin batches: set sampler to twins or twin_epochs, or loss.{terms[0]} to 0"
            )
        return self

    def resolved(self, images: int) -> "TrainConfig":
        """This config with `steps` computed from `epochs` over `images` training images (if set)."""
        if self.epochs is None:
            return self
        per_step = self.batch_size * self.accumulate * (1 if self.sampler == "random" else 2)
        return self.model_copy(update={"steps": max(1, math.ceil(self.epochs * images / per_step))})


def pretrain_default() -> TrainConfig:
    """The base model's training in the offline world: plain CLIP loss on generic captions."""
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
