import json

import pytest
import torch
from PIL import Image

from cultureclip.backends.clip import ModelId, create_clip, parse_model_id
from cultureclip.errors import ConfigError, DataError


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        ("tiny:test-clip", ModelId("tiny", "test-clip")),
        ("open_clip:ViT-B-32@openai", ModelId("open_clip", "ViT-B-32", "openai")),
        ("open_clip:RN50", ModelId("open_clip", "RN50", None)),
        ("local:/ckpt/with@sign", ModelId("local", "/ckpt/with@sign")),
    ],
)
def test_parse_model_id(model_id, expected):
    assert parse_model_id(model_id) == expected


@pytest.mark.parametrize("model_id", ["ViT-B-32", "hub:x", "tiny:", "local"])
def test_bad_model_ids(model_id):
    with pytest.raises(ConfigError, match="expected one of"):
        parse_model_id(model_id)


def test_unknown_tiny_and_missing_local():
    with pytest.raises(ConfigError, match="no such tiny model; known: hf-clip, hf-siglip, test-clip, world-clip"):
        create_clip("tiny:huge")
    with pytest.raises(DataError, match="no such folder"):
        create_clip("local:/nonexistent/model")
    with pytest.raises(ConfigError, match="not an open_clip architecture"):
        create_clip("open_clip:NoSuchArch@x")


def test_save_and_reload_give_the_same_embeddings(tmp_path):
    torch.manual_seed(0)
    model = create_clip("tiny:test-clip")
    images = [Image.new("RGB", (40, 40), (i * 60, 20, 200 - i * 50)) for i in range(3)]
    pixels = model.images_to_tensor(images)
    assert pixels.shape == (3, 3, 32, 32)
    tokens = model.tokenize(["a photo of gyoza.", "a photo of a gate."])
    with torch.no_grad():
        before = model.encode_images(pixels), model.encode_texts(tokens)
    model.save(tmp_path / "m")
    reloaded = create_clip(f"local:{tmp_path / 'm'}")
    with torch.no_grad():
        after = reloaded.encode_images(reloaded.images_to_tensor(images)), reloaded.encode_texts(tokens)
    assert torch.equal(before[0], after[0]) and torch.equal(before[1], after[1])
    assert json.loads((tmp_path / "m" / "open_clip_config.json").read_text())["model_cfg"]["embed_dim"] == 32
    import open_clip  # the checkpoint is an ordinary open_clip local-dir model

    plain, _, _ = open_clip.create_model_and_transforms(f"local-dir:{tmp_path / 'm'}")
    assert torch.equal(plain.logit_scale, model.model.logit_scale)


def test_a_folder_without_config_is_not_a_model(tmp_path):
    with pytest.raises(DataError, match="not a model folder"):
        create_clip(f"local:{tmp_path}")


@pytest.mark.parametrize("name", ["tiny:test-clip", "tiny:hf-clip", "tiny:hf-siglip"])
def test_every_model_kind_saves_in_its_own_format_and_reloads_exactly(name, tmp_path):
    torch.manual_seed(0)
    model = create_clip(name)
    images = [Image.new("RGB", (40, 36), (i * 60, 20, 200 - i * 50)) for i in range(2)]
    pixels = model.images_to_tensor(images)
    assert pixels.shape == (2, 3, 32, 32) and model.image_size == 32
    tokens = model.tokenize(["a photo of gyoza.", "a gate"])
    model.model.eval()
    with torch.no_grad():
        before = model.encode_images(pixels), model.encode_texts(tokens)
    assert before[0].shape == before[1].shape and torch.allclose(before[0].norm(dim=-1), torch.ones(2))
    model.save(tmp_path / "m")
    reloaded = create_clip(f"local:{tmp_path / 'm'}")
    assert type(reloaded) is type(model)
    reloaded.model.eval()
    with torch.no_grad():
        after = reloaded.encode_images(reloaded.images_to_tensor(images)), reloaded.encode_texts(tokens)
    assert torch.equal(before[0], after[0]) and torch.equal(before[1], after[1])
    assert (model.logit_bias is not None) == (name == "tiny:hf-siglip")


def test_a_transformers_export_loads_with_transformers(tmp_path):
    from transformers import AutoModel, CLIPModel

    torch.manual_seed(0)
    model = create_clip("tiny:hf-clip")
    model.save(tmp_path / "m")
    plain = AutoModel.from_pretrained(tmp_path / "m")
    assert isinstance(plain, CLIPModel)
    assert torch.equal(plain.text_projection.weight, model.model.text_projection.weight)


def test_an_open_clip_checkpoint_of_another_architecture_is_a_one_line_error(tmp_path):
    torch.manual_seed(0)
    wrong = tmp_path / "wrong.pt"
    torch.save(create_clip("tiny:test-clip").model.state_dict(), wrong)
    with pytest.raises(DataError) as err:
        create_clip(f"open_clip:ViT-B-32@{wrong}")
    assert str(err.value).startswith(f"checkpoint {wrong}: does not fit ViT-B-32 (")
    assert "\n" not in str(err.value)
