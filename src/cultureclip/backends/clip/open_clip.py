"""open_clip models behind the CLIP-model protocol: any architecture and pretrained tag, or a local-dir folder.

A saved model is an ordinary open_clip checkpoint: open_clip.create_model_and_transforms('local-dir:PATH').
"""

import functools
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import save_file
from torch import nn

from cultureclip.backends.clip.base import (
    ClipModel,
    ClipSource,
    FolderFormat,
    ModelId,
    scaled_pixels,
    state_dict_mismatch,
)
from cultureclip.backends.clip.tokenizer import OpenClipTokenizer, Tokenizer
from cultureclip.errors import ConfigError, DataError

CONFIG_FILE = "open_clip_config.json"
WEIGHTS_FILE = "open_clip_model.safetensors"


class _KeepsStatistics:
    """Mixed into a BatchNorm class: the layer stays in eval mode whatever `train()` asks."""

    def train(self, mode: bool = True):
        return super().train(False)


@functools.cache
def _keeping_statistics(cls: type) -> type:
    return type(cls.__name__, (_KeepsStatistics, cls), {})


def keep_norm_statistics(model: nn.Module) -> None:
    """Make every BatchNorm of `model` normalise with, and keep, its pretrained running statistics in training
    (open_clip's freeze_bn_stats, but the state dict stays the same): small contrastive batches of one
    domain would otherwise overwrite statistics that the pretrained weights, and other domains, rely on."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, _KeepsStatistics):
            module.__class__ = _keeping_statistics(type(module))
            module.eval()


def causal_text_tower(model: nn.Module) -> nn.Module | None:
    """The module holding open_clip's own text transformer (the CLIP itself, or a CustomTextCLIP's `text`) when
    it is causal and pools at the EOT token (argmax of the token ids), so `encode_to_eot` is exact; else None.
    """
    from open_clip.model import CLIP
    from open_clip.transformer import TextTransformer

    tower = getattr(model, "text", None)
    if isinstance(tower, TextTransformer) and tower.cls_emb is None:
        pool = tower.pool_type
    elif isinstance(model, CLIP):
        tower, pool = model, model.text_pool_type
    else:
        return None
    return tower if tower.attn_mask is not None and pool == "argmax" else None  # open_clip's only mask is causal


def encode_to_eot(tower: nn.Module, token_sets: list[torch.Tensor]) -> torch.Tensor:
    """open_clip's text forward (unnormalized) of each token set on its columns up to its last EOT, concatenated.

    The same embeddings as on the full context: under the causal mask no position attends to a later one,
    and pooling reads each text's EOT position, so the trailing columns (padding) cannot change the result
    (the final norm, per token, is applied after pooling). A set of short texts (concept names) then costs its
    own length, not the context length; one embedding lookup for all sets makes one gradient of the
    vocabulary-sized table, not one a set.
    """
    from open_clip.transformer import text_global_pool

    texts = [tokens[:, : int(tokens.argmax(dim=1).max()) + 1] for tokens in token_sets]
    embedded = tower.token_embedding(torch.cat([text.flatten() for text in texts])).split([t.numel() for t in texts])
    cast = tower.transformer.get_cast_dtype()
    pooled = []
    for text, x in zip(texts, embedded, strict=True):
        n = text.shape[1]
        x = x.view(*text.shape, -1).to(cast) + tower.positional_embedding[:n].to(cast)
        x = tower.transformer(x, attn_mask=tower.attn_mask[:n, :n])
        pooled.append(text_global_pool(x, text, "argmax"))
    x = tower.ln_final(torch.cat(pooled))
    projection = tower.text_projection
    if projection is None:
        return x
    return projection(x) if isinstance(projection, nn.Linear) else x @ projection


def _rgb(image: Image.Image) -> Image.Image:
    """`image` in RGB (PIL's convert copies even an RGB image)."""
    return image if image.mode == "RGB" else image.convert("RGB")


def _split_preprocess(preprocess) -> tuple[Callable, tuple, tuple]:
    """(the PIL steps, mean, std) of an open_clip transform: [resize, crop, ..., to tensor, normalize]."""
    from open_clip.transform import MaybeToTensor
    from torchvision.transforms import Compose, Normalize, ToTensor

    steps = preprocess.transforms
    at = next((i for i, s in enumerate(steps) if isinstance(s, ToTensor | MaybeToTensor)), None)
    if at is None or at != len(steps) - 2 or not isinstance(steps[-1], Normalize):
        raise ConfigError(f"an open_clip transform ending other than to-tensor, normalize: {preprocess}")
    return Compose(steps[:at]), tuple(steps[-1].mean), tuple(steps[-1].std)


class OpenClipModel(ClipModel):
    """An open_clip CLIP / CustomTextCLIP with its tokenizer and preprocessing.

    Heads cover open_clip's tower kinds: its own transformers, timm image trunks, Hugging Face text encoders.
    """

    FORMAT = "open_clip"
    IMAGE_PREFIXES = ("visual",)
    HEADS = {
        "image": ("visual.proj", "visual.ln_post", "visual.head", "visual.attn_pool"),
        "text": ("text_projection", "ln_final", "text.text_projection", "text.ln_final", "text.proj"),
    }

    def __init__(self, model: nn.Module, tokenizer, preprocess, model_cfg: dict, name: str):
        super().__init__(model, name)
        keep_norm_statistics(model)
        self.tokenizer = tokenizer
        self.preprocess = preprocess
        self.model_cfg = model_cfg

    @property
    def image_size(self) -> int:
        size = self.model_cfg["vision_cfg"]["image_size"]
        return size if isinstance(size, int) else size[0]

    def tokenize(self, texts: list[str]) -> torch.Tensor:
        return self.tokenizer(texts)

    def images_to_uint8(self, images: list[Image.Image]) -> torch.Tensor:
        resize = self._preprocess_parts[0]
        rgb = (_rgb(resize(_rgb(im))) for im in images)
        return torch.stack([torch.from_numpy(np.array(im)).permute(2, 0, 1) for im in rgb])  # one copy each

    def normalize_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        _, mean, std = self._preprocess_parts
        return scaled_pixels(pixels, 1 / 255, mean, std)

    @functools.cached_property
    def _preprocess_parts(self) -> tuple[Callable, tuple, tuple]:
        return _split_preprocess(self.preprocess)

    def encode_images(self, pixels: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        return self.model.encode_image(pixels, normalize=normalize)

    def encode_texts(self, tokens: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        return self.encode_text_sets([tokens], normalize)

    def encode_text_sets(self, token_sets: list[torch.Tensor], normalize: bool = True) -> torch.Tensor:
        """Each set at its own length where that is exact: a causal tower pooling at EOT (`encode_to_eot`), or a
        Hugging Face tower, which masks padding (columns that are all padding dropped)."""
        tower = causal_text_tower(self.model)
        if tower is not None:
            features = encode_to_eot(tower, token_sets)
            return F.normalize(features, dim=-1) if normalize else features
        config = getattr(getattr(self.model, "text", None), "config", None)
        if config is not None:
            token_sets = [t[:, : max(1, int((t != config.pad_token_id).sum(dim=1).max()))] for t in token_sets]
        return torch.cat([self.model.encode_text(tokens, normalize=normalize) for tokens in token_sets])

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.model.set_grad_checkpointing(enable)

    def write(self, folder: Path) -> None:
        """Write an open_clip local-dir checkpoint (config + safetensors) into `folder`."""
        import open_clip

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous() for k, v in self.model.state_dict().items()}
        save_file(state, str(folder / WEIGHTS_FILE))
        preprocess_cfg = open_clip.get_model_preprocess_cfg(self.model)
        config = {"model_cfg": self.model_cfg, "preprocess_cfg": preprocess_cfg}
        (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2))
        if hasattr(self.tokenizer, "save_pretrained"):  # a Hugging Face tokenizer: open_clip reloads it from here
            self.tokenizer.save_pretrained(folder)


def load_open_clip_folder(folder: Path, name: str, random_init: bool = False) -> OpenClipModel:
    """An open_clip local-dir folder, every weight checked (open_clip loads strictly); with `random_init`
    a config-only folder (the tiny models) gets random weights, else it is an error."""
    import open_clip
    from safetensors import SafetensorError

    root = logging.getLogger()
    level = root.level
    weights = (folder / WEIGHTS_FILE).is_file()
    try:
        model_cfg = json.loads((folder / CONFIG_FILE).read_text())["model_cfg"]
        if not weights and not random_init:
            raise DataError(f"{folder}: no weights file ({WEIGHTS_FILE}); the model was not saved here")
        if not weights:
            root.setLevel(logging.ERROR)  # open_clip warns that a config-only folder has no weights: intended
        model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{folder}")
        tokenizer = open_clip.get_tokenizer(f"local-dir:{folder}")
    except (ValueError, KeyError, RuntimeError, OSError, SafetensorError) as err:
        raise DataError(f"{folder}: cannot load model ({state_dict_mismatch(err)})") from None
    finally:
        root.setLevel(level)
    return OpenClipModel(model.eval(), tokenizer, preprocess, model_cfg, name)


def _open_clip(spec: ModelId) -> OpenClipModel:
    import open_clip

    if spec.ref not in open_clip.list_models():
        raise ConfigError(f"model id open_clip:{spec.ref}: not an open_clip architecture")
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(spec.ref, pretrained=spec.tag)
    except (RuntimeError, AssertionError, ValueError) as err:
        if spec.tag is not None and str(err).startswith("Failed to download"):  # offline, or no such weights
            raise DataError(
                f"model id open_clip:{spec.ref}@{spec.tag}: its weights are neither in the local cache nor "
                "downloadable (offline?); download them once online, or choose another model"
            ) from None
        if spec.tag is None or not Path(spec.tag).is_file():
            raise
        # a checkpoint file made for another architecture
        raise DataError(f"checkpoint {spec.tag}: does not fit {spec.ref} ({state_dict_mismatch(err)})") from None
    tokenizer = open_clip.get_tokenizer(spec.ref)
    return OpenClipModel(
        model, tokenizer, preprocess, open_clip.get_model_config(spec.ref), f"open_clip:{spec.ref}@{spec.tag}"
    )


def _arch_tokenizer(spec: ModelId) -> Tokenizer:
    import open_clip

    return OpenClipTokenizer(open_clip.get_tokenizer(spec.ref))


def _folder_tokenizer(folder: Path) -> Tokenizer:
    import open_clip

    return OpenClipTokenizer(open_clip.get_tokenizer(f"local-dir:{folder}"))


SOURCE = ClipSource(create=_open_clip, tokenizer=_arch_tokenizer)
FORMAT = FolderFormat(load=load_open_clip_folder, tokenizer=_folder_tokenizer)
