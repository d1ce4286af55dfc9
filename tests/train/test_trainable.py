import json

import pytest
import torch

from conftest import synthetic_train_data
from cultureclip.backends.clip import create_clip
from cultureclip.config import TrainConfig, TuneConfig
from cultureclip.errors import ConfigError
from cultureclip.train.loop import train
from cultureclip.train.trainable import lora_modules, merge_lora, select_trainable, tower_blocks


@pytest.fixture
def model():
    torch.manual_seed(0)
    return create_clip("config:world-clip")  # 3 blocks per tower


def _trainable(model) -> set[str]:
    return {n for n, p in model.model.named_parameters() if p.requires_grad}


def test_full_trains_everything_but_a_frozen_temperature(model):
    counts = select_trainable(model, TuneConfig(), train_logit_scale=False)
    names = {n for n, _ in model.model.named_parameters()}
    assert _trainable(model) == names - {"logit_scale"}
    assert counts["trainable"] == counts["total"] - 1 == counts["image"] + counts["text"]
    assert counts["logit"] == 0


def test_blocks_are_found_in_each_tower(model):
    assert tower_blocks(model, "image") == "visual.transformer.resblocks"
    assert tower_blocks(model, "text") == "transformer.resblocks"


def test_last_blocks_trains_the_last_blocks_and_heads_only(model):
    select_trainable(model, TuneConfig(mode="last_blocks", blocks=1), train_logit_scale=True)
    names = _trainable(model)
    assert {"visual.proj", "visual.ln_post.weight", "text_projection", "ln_final.bias", "logit_scale"} <= names
    assert any(n.startswith("visual.transformer.resblocks.2.") for n in names)
    assert any(n.startswith("transformer.resblocks.2.") for n in names)
    assert not any(".resblocks.1." in n or ".resblocks.0." in n for n in names)
    assert not {"visual.conv1.weight", "token_embedding.weight", "positional_embedding"} & names


def test_zero_blocks_on_the_text_tower_trains_its_projection_only(model):
    counts = select_trainable(model, TuneConfig(mode="last_blocks", blocks=0, towers=["text"]), False)
    assert _trainable(model) == {"text_projection", "ln_final.weight", "ln_final.bias"}
    assert counts["image"] == 0 and counts["trainable"] == 128 * 128 + 2 * 128


def test_lora_counts_and_frozen_base(model):
    cfg = TuneConfig(mode="lora", lora_r=4, lora_targets=["attn", "fc1"], heads=False)
    counts = select_trainable(model, cfg, train_logit_scale=False)
    assert all("lora_" in n for n in _trainable(model))
    # per block: MHA in_proj (A 4x128, B 384x4) + out_proj (4x128, 128x4) + c_fc (4x128, 256x4)
    per_block = (4 * 128 + 384 * 4) + (4 * 128 + 128 * 4) + (4 * 128 + 256 * 4)
    assert counts["trainable"] == 6 * per_block and counts["image"] == counts["text"] == 3 * per_block


def test_lora_merge_gives_the_same_outputs_as_adapter_plus_base(model):
    select_trainable(model, TuneConfig(mode="lora", lora_targets=["attn", "fc1", "fc2"], lora_dropout=0.0), False)
    with torch.no_grad():
        for name, p in model.model.named_parameters():
            if "lora_B" in name:
                p.normal_(std=0.05)  # peft starts B at zero; make the adapters change the outputs
    model.model.eval()
    pixels, tokens = torch.randn(3, 3, 48, 48), model.tokenize(["a red gate.", "a photo of gyoza.", "x"])
    base_cfg = TuneConfig(mode="lora", lora_targets=["attn", "fc1", "fc2"])
    with torch.no_grad():
        adapted = model.encode_images(pixels), model.encode_texts(tokens)
        with model.lora.disable_adapter():
            plain = model.encode_images(pixels)
    merge_lora(model)
    assert model.lora is None and not any("lora_" in n for n, _ in model.model.named_parameters())
    with torch.no_grad():
        merged = model.encode_images(pixels), model.encode_texts(tokens)
    assert (adapted[0] - plain).abs().max() > 1e-3  # the adapters did change the model
    torch.testing.assert_close(merged[0], adapted[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(merged[1], adapted[1], atol=1e-5, rtol=1e-4)
    assert lora_modules(model, base_cfg)  # the merged model is a plain open_clip model again


def test_lora_target_matching_nothing_is_a_one_line_error(model):
    with pytest.raises(ConfigError) as err:
        lora_modules(model, TuneConfig(mode="lora", lora_targets=["q"]))
    message = str(err.value)
    assert "tune.lora_targets: 'q' matches no module in the image/text tower(s) of config:world-clip" in message
    assert "attn" in message and "c_fc" in message and "\n" not in message


def test_lora_training_exports_a_plain_model(tmp_path):
    torch.manual_seed(0)
    model = create_clip("config:test-clip")
    keys = set(model.model.state_dict())
    start = {k: v.clone() for k, v in model.model.state_dict().items()}
    tune = TuneConfig(mode="lora", lora_targets=["attn"], heads=False)
    cfg = TrainConfig(steps=3, batch_size=4, lr=0.01, warmup=1, tune=tune)
    train(model, synthetic_train_data(), cfg, seed=0, work=tmp_path)
    assert set(model.model.state_dict()) == keys  # merged: the plain open_clip layout
    changed = {k for k, v in model.model.state_dict().items() if not torch.equal(v, start[k])}
    assert changed and all(".attn.in_proj_weight" in k or ".attn.out_proj.weight" in k for k in changed)
    counts = json.loads((tmp_path / "parameters.json").read_text())
    assert 0 < counts["trainable"] < counts["total"] / 10


HF_CONFIGS = [
    "config:hf-clip",
    "config:hf-siglip",
    "config:hf-metaclip2",
    "config:hf-siglip2",
    "config:hf-siglip2-naflex",
]


@pytest.mark.parametrize("name", HF_CONFIGS)
def test_transformers_models_select_blocks_heads_and_q_v_adapters(name):
    model = create_clip(name)
    assert tower_blocks(model, "image") == "vision_model.encoder.layers"
    assert tower_blocks(model, "text") == "text_model.encoder.layers"
    select_trainable(model, TuneConfig(mode="last_blocks", blocks=1, heads=True), train_logit_scale=False)
    names = _trainable(model)
    assert any(n.startswith("vision_model.encoder.layers.1.") for n in names)
    assert not any(".layers.0." in n for n in names) and "logit_scale" not in names
    assert "text_model.final_layer_norm.weight" in names
    model = create_clip(name)
    targets = lora_modules(model, TuneConfig(mode="lora", lora_targets=["q", "v"], towers=["text"]))
    assert targets == [f"text_model.encoder.layers.{i}.self_attn.{p}_proj" for p in "qv" for i in range(2)]


@pytest.mark.parametrize(
    ("name", "loss"),
    [(name, {}) for name in HF_CONFIGS]
    + [("config:hf-siglip", {"siglip": False}), ("config:hf-clip", {"siglip": True})],
)
def test_transformers_lora_training_exports_a_plain_transformers_model(name, loss, tmp_path):
    from cultureclip.config import LossConfig

    torch.manual_seed(0)
    model = create_clip(name)
    start = _weights(model)
    tune = TuneConfig(mode="lora", lora_targets=["q", "v"], heads=False)
    cfg = TrainConfig(steps=2, batch_size=4, lr=0.01, warmup=1, tune=tune, loss=LossConfig(**loss))
    history = train(model, synthetic_train_data(), cfg, seed=0, work=tmp_path / "work")
    assert set(history[0]) >= {"caption", "concept", "preserve"}
    changed = {k for k, v in model.model.state_dict().items() if not torch.equal(v, start[k])}
    assert changed and all(k.endswith(("q_proj.weight", "v_proj.weight")) for k in changed)
    model.save(tmp_path / "m")
    assert (tmp_path / "m" / "model.safetensors").is_file()
    reloaded = create_clip(f"local:{tmp_path / 'm'}")
    assert all(torch.equal(v, reloaded.model.state_dict()[k]) for k, v in model.model.state_dict().items())


def _weights(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.model.state_dict().items()}
