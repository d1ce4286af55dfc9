"""transformers CLIP-family models behind the CLIP-model protocol, by hub name or local directory.

Families (`family_of`, from the config's and the tokenizer's types) and their text rules:
  clip       CLIPModel                               the tokenizer as it is, padded to the text context
  metaclip2  MetaClip2Model (XLM-V tokenizer)        likewise (a causal tower pooling at the end token)
  siglip     SiglipModel                             padded to the text context (the tower pools the last position)
  siglip2    SiglipModel + a Gemma tokenizer (fixed  lowercased and padded to 64 tokens (big_vision #186: its
             resolution) or Siglip2Model (NaFlex)    retrieval breaks otherwise); NaFlex keeps each image's aspect
The lowercasing is the tokenizer's own (`family_tokenizer`), so an export tokenizes as the fine-tune did.

A saved model is an ordinary transformers folder: the model, and its processor (image processor and
tokenizer, `save_pretrained`), so AutoModel / AutoProcessor / AutoTokenizer.from_pretrained(PATH) load
what it was trained with. A folder without tokenizer files (the tiny test models) tokenizes with
transformers' CLIPTokenizer over open_clip's CLIP BPE vocabulary (`clip_bpe_tokenizer`), which its
exports then carry.
"""

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from cultureclip.backends.clip.base import ClipModel, ClipSource, FolderFormat, ModelId, scaled_pixels
from cultureclip.backends.clip.tokenizer import OpenClipTokenizer, Tokenizer
from cultureclip.errors import ConfigError, DataError

if TYPE_CHECKING:
    from transformers import CLIPTokenizer

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json")


@dataclass(frozen=True)
class TextRules:
    """How a family's texts become tokens."""

    lowercase: bool = False
    length: int | None = None
    """Every text padded (and truncated) to this many tokens; None: the text tower's context."""
    ids_only: bool = False
    """The tokenizer gives the model input_ids alone, no attention mask: the tower was trained attending to
    its padding, and pools the last position (SigLIP's own tokenizer does so; Gemma's would hand a mask on)."""


TEXT_RULES = {
    "clip": TextRules(),
    "metaclip2": TextRules(),
    "siglip": TextRules(ids_only=True),
    "siglip2": TextRules(lowercase=True, length=64, ids_only=True),
}


def family_of(config, tokenizer) -> str:
    """The model family of a transformers config and its tokenizer (see the module docstring)."""
    from transformers import GemmaTokenizer, MetaClip2Config, Siglip2Config, Siglip2Tokenizer, SiglipConfig

    if isinstance(config, Siglip2Config):
        return "siglip2"
    if isinstance(config, SiglipConfig):  # SigLIP 2 at a fixed resolution is a SiglipModel with Gemma's tokenizer
        return "siglip2" if isinstance(tokenizer, GemmaTokenizer | Siglip2Tokenizer) else "siglip"
    return "metaclip2" if isinstance(config, MetaClip2Config) else "clip"


def family_tokenizer(ref: str, config) -> tuple[object, str]:
    """The tokenizer of the model at `ref` (tokenizer files there or on the hub) and the model's family; a
    SigLIP 2 whose tokenizer does not lowercase (Gemma's, as its fixed-resolution checkpoints name it) gets
    transformers' Siglip2Tokenizer over the same files: Gemma's, lowercasing, which its export then carries."""
    from transformers import AutoTokenizer, Siglip2Tokenizer

    tokenizer = AutoTokenizer.from_pretrained(ref)
    family = family_of(config, tokenizer)
    if TEXT_RULES[family].lowercase and not isinstance(tokenizer, Siglip2Tokenizer):
        tokenizer = Siglip2Tokenizer.from_pretrained(ref)
    return tokenizer, family


class HFClipModel(ClipModel):
    """A transformers CLIP-family model (see the module docstring) with its tokenizer and image processor."""

    FORMAT = "transformers"
    IMAGE_PREFIXES = ("vision_model", "visual_projection")
    HEADS = {
        "image": ("visual_projection", "vision_model.post_layernorm", "vision_model.head"),
        "text": ("text_projection", "text_model.final_layer_norm", "text_model.head"),
    }

    def __init__(self, model: nn.Module, tokenizer, processor, name: str):
        super().__init__(model, name)
        self.family = family_of(model.config, tokenizer)
        self.rules = TEXT_RULES[self.family]
        self.tokenizer = tokenizer
        # padding after the text, as every family trained (Gemma's tokenizer class pads before it by default,
        # where SigLIP's tower, pooling the last position, would read the text's end, not padding)
        _set(tokenizer, "padding_side", "right")
        if self.rules.length:
            _set(tokenizer, "model_max_length", self.rules.length)  # what a processor pads its export's texts to
        if self.rules.ids_only:
            _set(tokenizer, "model_input_names", ["input_ids"])
        self.processor = processor

    @property
    def image_size(self) -> int:
        return self.model.config.vision_config.image_size

    @property
    def context_length(self) -> int:
        return self.model.config.text_config.max_position_embeddings

    def tokenize(self, texts: list[str]) -> torch.Tensor:
        length = self.rules.length or self.context_length
        return self.tokenizer(texts, padding="max_length", truncation=True, max_length=length, return_tensors="pt")[
            "input_ids"
        ]

    def images_to_uint8(self, images: list[Image.Image]) -> torch.Tensor:
        rgb = [im.convert("RGB") for im in images]  # resized and cropped on uint8 values, as the processor does
        pixels = self.processor(images=rgb, do_rescale=False, do_normalize=False, return_tensors="pt")["pixel_values"]
        return pixels.round().clamp_(0, 255).to(torch.uint8)

    def normalize_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        p = self.processor
        return scaled_pixels(pixels, p.rescale_factor, p.image_mean, p.image_std)

    def encode_images(self, pixels: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        return _features(self.model.get_image_features(pixel_values=pixels), normalize)

    def encode_texts(self, tokens: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        return _features(self.model.get_text_features(input_ids=tokens), normalize)

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        verb = "enable" if enable else "disable"  # transformers 5 names it activation checkpointing
        switch = getattr(self.model, f"activation_checkpointing_{verb}", None)
        (switch or getattr(self.model, f"gradient_checkpointing_{verb}"))()

    def write(self, folder: Path) -> None:
        """Write a transformers folder: the model (safetensors) and its processor, the model type's own
        (CLIPProcessor, SiglipProcessor) holding the image processor and the tokenizer."""
        from transformers.models.auto.processing_auto import PROCESSOR_MAPPING

        folder = Path(folder)
        self.model.save_pretrained(folder)
        processor = PROCESSOR_MAPPING[type(self.model.config)](image_processor=self.processor, tokenizer=self.tokenizer)
        processor.save_pretrained(folder)


def _features(output, normalize: bool) -> torch.Tensor:
    features = output if isinstance(output, torch.Tensor) else output.pooler_output  # transformers 4 / 5
    return F.normalize(features, dim=-1) if normalize else features


def _set(tokenizer, name: str, value) -> None:
    """A tokenizer setting, also in the config it saves (which an export's tokenizer reads)."""
    setattr(tokenizer, name, value)
    tokenizer.init_kwargs[name] = value


class NaFlexModel(HFClipModel):
    """SigLIP 2 NaFlex: each image, its aspect ratio kept, as up to `max_num_patches` patches of the model's size.

    Its uint8 pixels are the image processor's patches (N, P + 1, patch x patch x 3): row P holds each image's
    patch grid (height, width) in its first four bytes (big-endian 16-bit), so what the processor returns
    beside the patches (`spatial_shapes`, and `pixel_attention_mask`: the first height x width patches) travels
    with them through the loaders and caches, which handle one tensor of one shape a model.
    """

    @property
    def image_size(self) -> int:
        """The side of a square image of `max_num_patches` patches (what to decode stored images at)."""
        return math.isqrt(self.processor.max_num_patches) * self.processor.patch_size

    def images_to_uint8(self, images: list[Image.Image]) -> torch.Tensor:
        rgb = [im.convert("RGB") for im in images]
        out = self.processor(images=rgb, do_rescale=False, do_normalize=False, return_tensors="pt")
        patches = out["pixel_values"].round().clamp_(0, 255).to(torch.uint8)
        grid = torch.zeros(len(rgb), 1, patches.shape[2], dtype=torch.uint8)
        shapes = out["spatial_shapes"].long()
        grid[:, 0, :4] = torch.stack(
            [shapes[:, 0] // 256, shapes[:, 0] % 256, shapes[:, 1] // 256, shapes[:, 1] % 256], 1
        ).to(torch.uint8)
        return torch.cat([patches, grid], dim=1)

    def normalize_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        p = self.processor
        mean = torch.as_tensor(p.image_mean, dtype=torch.float32, device=pixels.device)
        std = torch.as_tensor(p.image_std, dtype=torch.float32, device=pixels.device)
        patches = pixels[:, :-1].float().unflatten(-1, (-1, 3)).mul_(p.rescale_factor).sub_(mean).div_(std)
        return torch.cat([patches.flatten(-2), pixels[:, -1:].float()], dim=1)

    def encode_images(self, pixels: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        patches, grid = pixels[:, :-1], pixels[:, -1, :4].round().long()
        shapes = torch.stack([grid[:, 0] * 256 + grid[:, 1], grid[:, 2] * 256 + grid[:, 3]], dim=1)
        positions = torch.arange(patches.shape[1], device=pixels.device)
        mask = (positions[None, :] < shapes.prod(dim=1)[:, None]).to(torch.int32)
        output = self.model.get_image_features(pixel_values=patches, pixel_attention_mask=mask, spatial_shapes=shapes)
        return _features(output, normalize)


def _load(ref: str, name: str, random_init: bool = False) -> HFClipModel:
    """A transformers CLIP/SigLIP by hub name or folder, every weight checked; with `random_init` a
    config-only folder (the tiny models) gets random weights, else it is an error."""
    from safetensors import SafetensorError
    from transformers import AutoConfig, AutoImageProcessor, AutoModel, Siglip2Model

    folder = Path(ref)
    try:
        if folder.is_dir() and not any((folder / f).is_file() for f in WEIGHT_FILES):
            if not random_init:
                raise DataError(f"{name}: no weights file in {folder} ({' or '.join(WEIGHT_FILES[:2])})")
            model = AutoModel.from_config(AutoConfig.from_pretrained(folder))  # config only: random weights
        else:
            model, info = AutoModel.from_pretrained(ref, output_loading_info=True)
            _check_loaded(info, name)
        processor = AutoImageProcessor.from_pretrained(ref)
        if has_tokenizer_files(ref):
            tokenizer, _ = family_tokenizer(ref, model.config)
        else:
            tokenizer = clip_bpe_tokenizer(model.config.text_config.max_position_embeddings)
    except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as err:
        raise DataError(f"{name}: cannot load model ({str(err).strip().splitlines()[0][:200]})") from None
    if not isinstance(model, model_classes()):
        raise ConfigError(
            f"{name}: a {type(model).__name__}, not one of {', '.join(c.__name__ for c in model_classes())}"
        )
    return (NaFlexModel if isinstance(model, Siglip2Model) else HFClipModel)(model, tokenizer, processor, name)


def model_classes() -> tuple[type, ...]:
    """The transformers model classes this adapter serves."""
    from transformers import CLIPModel, MetaClip2Model, Siglip2Model, SiglipModel

    return CLIPModel, MetaClip2Model, SiglipModel, Siglip2Model


def _check_loaded(info: dict, name: str) -> None:
    """A weights file that lacks weights the architecture expects (transformers would initialise them at
    random) or holds others is an error naming the first such key."""
    for kind in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        keys = sorted(info.get(kind) or [])
        if keys:
            more = f" and {len(keys) - 1} more" if len(keys) > 1 else ""
            raise DataError(
                f"{name}: the weights file does not fit the model ({kind.replace('_', ' ')}: {keys[0]}{more})"
            )


def clip_bpe_tokenizer(context: int) -> "CLIPTokenizer":
    """transformers' CLIPTokenizer over open_clip's CLIP BPE (the vocabulary, ids and merges of OpenAI's CLIP
    tokenizer), padding to `context` with its end token; it gives the model input_ids alone, as the adapter does."""
    from open_clip.tokenizer import SimpleTokenizer
    from transformers import CLIPTokenizer

    bpe = SimpleTokenizer()
    names = {"<start_of_text>": "<|startoftext|>", "<end_of_text>": "<|endoftext|>"}  # transformers' names
    vocab = {names.get(token, token): i for token, i in bpe.encoder.items()}
    merges = sorted(bpe.bpe_ranks, key=bpe.bpe_ranks.get)
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=context, model_input_names=["input_ids"])


def has_tokenizer_files(ref: str) -> bool:
    """False for a folder without tokenizer files (it tokenizes with `clip_bpe_tokenizer`); hub names have them."""
    folder = Path(ref)
    return not folder.is_dir() or (folder / "tokenizer_config.json").is_file()


def text_tokenizer(ref: str) -> Tokenizer:
    """The model's tokenizer (an open_clip one inside) with its family's text rules, without loading weights.

    The caption rules count tokens with it; the context is the family's text length, else the text tower's
    `max_position_embeddings`.
    """
    from open_clip.tokenizer import HFTokenizer, SimpleTokenizer
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(ref)
        context = config.text_config.max_position_embeddings
    except (OSError, ValueError, KeyError, AttributeError) as err:
        raise DataError(f"{ref}: cannot read the CLIP text config ({str(err).strip().splitlines()[0][:200]})") from None
    if not has_tokenizer_files(ref):
        return OpenClipTokenizer(SimpleTokenizer(context_length=context))
    tokenizer = HFTokenizer(ref, context_length=context)
    tokenizer.tokenizer, family = family_tokenizer(ref, config)
    tokenizer.context_length = TEXT_RULES[family].length or context
    return OpenClipTokenizer(tokenizer)


def load_transformers_folder(folder: Path, name: str, random_init: bool = False) -> HFClipModel:
    return _load(str(folder), name, random_init)


def _hf(spec: ModelId) -> HFClipModel:
    return _load(spec.ref, f"hf:{spec.ref}")


SOURCE = ClipSource(create=_hf, tokenizer=lambda spec: text_tokenizer(spec.ref))
FORMAT = FolderFormat(load=load_transformers_folder, tokenizer=lambda folder: text_tokenizer(str(folder)))
