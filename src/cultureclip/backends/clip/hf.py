"""transformers CLIPModel / SiglipModel behind the CLIP-model protocol, by hub name or local directory.

A saved model is an ordinary transformers folder: the model, and its processor (image processor and
tokenizer, `save_pretrained`), so AutoModel / AutoProcessor / AutoTokenizer.from_pretrained(PATH) load
what it was trained with. A folder without tokenizer files (the tiny test models) tokenizes with
transformers' CLIPTokenizer over open_clip's CLIP BPE vocabulary (`clip_bpe_tokenizer`), which its
exports then carry.
"""

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


class HFClipModel(ClipModel):
    """A transformers CLIPModel or SiglipModel with its tokenizer and image processor."""

    FORMAT = "transformers"
    IMAGE_PREFIXES = ("vision_model", "visual_projection")
    HEADS = {
        "image": ("visual_projection", "vision_model.post_layernorm", "vision_model.head"),
        "text": ("text_projection", "text_model.final_layer_norm", "text_model.head"),
    }

    def __init__(self, model: nn.Module, tokenizer, processor, name: str):
        super().__init__(model, name)
        self.tokenizer = tokenizer
        self.processor = processor

    @property
    def image_size(self) -> int:
        return self.model.config.vision_config.image_size

    @property
    def context_length(self) -> int:
        return self.model.config.text_config.max_position_embeddings

    def tokenize(self, texts: list[str]) -> torch.Tensor:
        return self.tokenizer(
            texts, padding="max_length", truncation=True, max_length=self.context_length, return_tensors="pt"
        )["input_ids"]

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


def _load(ref: str, name: str, random_init: bool = False) -> HFClipModel:
    """A transformers CLIP/SigLIP by hub name or folder, every weight checked; with `random_init` a
    config-only folder (the tiny models) gets random weights, else it is an error."""
    from safetensors import SafetensorError
    from transformers import AutoConfig, AutoImageProcessor, AutoModel, AutoTokenizer, CLIPModel, SiglipModel

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
            tokenizer = AutoTokenizer.from_pretrained(ref)
        else:
            tokenizer = clip_bpe_tokenizer(model.config.text_config.max_position_embeddings)
    except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as err:
        raise DataError(f"{name}: cannot load model ({str(err).strip().splitlines()[0][:200]})") from None
    if not isinstance(model, CLIPModel | SiglipModel):
        raise ConfigError(f"{name}: a {type(model).__name__}, not a CLIPModel or SiglipModel")
    return HFClipModel(model, tokenizer, processor, name)


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
    """The model's tokenizer (an open_clip one inside), without loading weights.

    The caption rules count tokens with it; the context is the text tower's `max_position_embeddings`.
    """
    from open_clip.tokenizer import HFTokenizer, SimpleTokenizer
    from transformers import AutoConfig

    try:
        context = AutoConfig.from_pretrained(ref).text_config.max_position_embeddings
    except (OSError, ValueError, KeyError, AttributeError) as err:
        raise DataError(f"{ref}: cannot read the CLIP text config ({str(err).strip().splitlines()[0][:200]})") from None
    if has_tokenizer_files(ref):
        return OpenClipTokenizer(HFTokenizer(ref, context_length=context))
    return OpenClipTokenizer(SimpleTokenizer(context_length=context))


def load_transformers_folder(folder: Path, name: str, random_init: bool = False) -> HFClipModel:
    return _load(str(folder), name, random_init)


def _hf(spec: ModelId) -> HFClipModel:
    return _load(spec.ref, f"hf:{spec.ref}")


SOURCE = ClipSource(create=_hf, tokenizer=lambda spec: text_tokenizer(spec.ref))
FORMAT = FolderFormat(load=load_transformers_folder, tokenizer=lambda folder: text_tokenizer(str(folder)))
