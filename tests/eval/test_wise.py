import copy
import json

import pytest
import torch
from peft import LoraConfig, get_peft_model
from PIL import Image

from cultureclip.backends.clip import create_clip
from cultureclip.cli import main
from cultureclip.errors import ConfigError, DataError
from cultureclip.eval.wise import export_wise, interpolate, wise, wise_sweep

IMAGES = [Image.new("RGB", (32, 32), (i * 70, 30, 220 - i * 60)) for i in range(3)]
TEXTS = ["a photo of gyoza.", "a photo of a gate.", "There is hanbok in the image."]


@pytest.fixture(scope="module")
def pair():
    torch.manual_seed(0)
    base = create_clip("config:test-clip")
    tuned = copy.deepcopy(base)
    with torch.no_grad():
        for p in tuned.model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return base, tuned


@torch.no_grad()
def embeddings(model):
    model.model.eval()
    return model.encode_images(model.images_to_tensor(IMAGES)), model.encode_texts(model.tokenize(TEXTS))


def same_state(a, b):
    sa, sb = a.model.state_dict(), b.model.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_ends_are_the_base_and_the_tuned_model_bit_for_bit(pair):
    base, tuned = pair
    at0, at1 = wise(base, tuned, 0.0), wise(base, tuned, 1.0)
    assert same_state(at0, base) and same_state(at1, tuned)
    assert not same_state(at0, at1)
    for ours, theirs in ((at0, base), (at1, tuned)):  # identical embeddings: identical metrics
        assert all(torch.equal(x, y) for x, y in zip(embeddings(ours), embeddings(theirs), strict=True))


def test_middle_is_the_weight_average_and_sweeps_in_order(pair):
    base, tuned = pair
    b, t = base.model.state_dict(), tuned.model.state_dict()
    mid = wise(base, tuned, 0.25).model.state_dict()
    key = "visual.conv1.weight"
    assert torch.allclose(mid[key], 0.75 * b[key] + 0.25 * t[key], atol=1e-7)
    assert not torch.equal(mid[key], b[key])
    before = {k: v.clone() for k, v in b.items()}
    alphas = [a for a, _ in wise_sweep(base, tuned, [0.0, 0.5, 1.0])]
    assert alphas == [0.0, 0.5, 1.0]
    assert all(torch.equal(before[k], v) for k, v in base.model.state_dict().items())  # inputs untouched


@pytest.mark.parametrize("style", ["wrapped", "beside"])
def test_lora_is_merged_first(pair, style):
    """LoRA as `model.model` = the peft model, or injected in place with the wrapper kept as `model.lora`."""
    base, _ = pair
    lora = copy.deepcopy(base)
    torch.manual_seed(1)
    config = LoraConfig(r=2, lora_alpha=4, target_modules=["c_fc", "c_proj"], init_lora_weights=False)
    wrapper = get_peft_model(lora.model, config)
    if style == "wrapped":
        lora.model = wrapper
    else:
        lora.lora = wrapper
    at1 = wise(base, lora, 1.0)
    assert "lora" not in " ".join(at1.model.state_dict())
    for x, y in zip(embeddings(at1), embeddings(lora), strict=True):  # merged = the adapter's function
        assert torch.allclose(x, y, atol=1e-5)
    assert not torch.allclose(embeddings(at1)[1], embeddings(base)[1], atol=1e-3)
    assert same_state(wise(base, lora, 0.0), base)
    assert "lora_A" in " ".join(lora.model.state_dict())  # the tuned adapter itself keeps its LoRA


def test_export_reloads_as_an_ordinary_checkpoint(pair, tmp_path):
    base, tuned = pair
    folder = export_wise(base, tuned, 0.0, tmp_path / "a0", {"base": "config:test-clip"})
    reloaded = create_clip(f"local:{folder}")
    assert same_state(reloaded, base)
    assert json.loads((folder / "wise.json").read_text()) == {"alpha": 0.0, "base": "config:test-clip"}
    half = export_wise(base, tuned, 0.5, tmp_path / "a5")
    assert same_state(create_clip(f"local:{half}"), wise(base, tuned, 0.5))


def test_cli_exports_from_model_ids(pair, tmp_path):
    base, tuned = pair
    base.save(tmp_path / "base")
    tuned.save(tmp_path / "tuned")
    argv = ["wise", "--base", f"local:{tmp_path / 'base'}", "--tuned", f"local:{tmp_path / 'tuned'}"]
    assert main([*argv, "--alpha", "1", "--out", str(tmp_path / "w")]) == 0
    assert same_state(create_clip(f"local:{tmp_path / 'w'}"), tuned)
    assert main([*argv, "--alpha", "1.5", "--out", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()


def test_mismatches_are_errors(pair):
    base, tuned = pair
    with pytest.raises(ConfigError, match=r"alpha 1.5: must lie in \[0, 1\]"):
        interpolate(base.model.state_dict(), tuned.model.state_dict(), 1.5)
    other = create_clip("config:world-clip")
    with pytest.raises(DataError, match=r"the base model has no weight '.*' \(not the same architecture\?\)"):
        wise(base, other, 0.5)
    state = dict(tuned.model.state_dict())
    state["logit_scale"] = torch.zeros(2)
    with pytest.raises(DataError, match=r"weight 'logit_scale' has shape \(\) in base, \(2,\) in tuned"):
        interpolate(base.model.state_dict(), state, 0.5)
    state.pop("logit_scale")
    with pytest.raises(DataError, match="the tuned model has no weight 'logit_scale'"):
        interpolate(base.model.state_dict(), state, 0.5)


def test_alphas_are_a_validated_config_field():
    from cultureclip.config import load_config

    assert load_config(None, ["wise.alphas=[0, 0.3, 1]"]).wise.alphas == [0.0, 0.3, 1.0]
    with pytest.raises(ConfigError, match=r"wise.alphas: each alpha must lie in \[0, 1\]"):
        load_config(None, ["wise.alphas=[0, 2]"])


@pytest.mark.parametrize(("model_id", "targets"), [("config:test-clip", ["c_fc"]), ("config:hf-clip", ["q", "v"])])
def test_the_trainers_lora_merges_like_its_own_export(model_id, targets):
    """LoRA added by train.trainable (adapters in place, peft wrapper in `model.lora`), on both libraries."""
    from cultureclip.config import TuneConfig
    from cultureclip.train.trainable import add_lora, merge_lora

    torch.manual_seed(0)
    base = create_clip(model_id)
    tuned = copy.deepcopy(base)
    add_lora(tuned, TuneConfig(mode="lora", lora_dropout=0.0, lora_targets=targets))
    with torch.no_grad():
        for name, p in tuned.model.named_parameters():
            if "lora_B" in name:
                p.copy_(0.1 * torch.randn_like(p))
    exported = copy.deepcopy(tuned)
    merge_lora(exported)  # what the trainer saves
    assert same_state(wise(base, tuned, 1.0), exported) and same_state(wise(base, tuned, 0.0), base)
    assert not same_state(exported, base)
