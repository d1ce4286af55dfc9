"""The reference recipe as the `paper` preset, on a tiny transformers CLIP (only the model and sizes overridden)."""

import json
import math

import pytest
import torch
import yaml

from cultureclip.backends.clip import create_clip
from cultureclip.cli import main
from cultureclip.config import load_config
from cultureclip.data.shards import read_split
from cultureclip.runtime import resolve_device, resolve_precision

SIZES = [
    "model.name=config:hf-clip",
    "build.catalog.max_groups=3",
    "build.image_size=32",
    "build.catalog.captions_per_concept=2",
    "build.catalog.train_images=4",
    "build.catalog.test_images=1",
    "finetune.batch_size=4",
    "finetune.accumulate=2",
    "finetune.epochs=2",
]


def test_the_preset_holds_the_reference_values():
    cfg = load_config("paper")
    ft = cfg.finetune
    assert (cfg.model.name, cfg.pretrain, cfg.ablations, cfg.seed) == ("hf:openai/clip-vit-base-patch32", None, {}, 42)
    assert (ft.seed, ft.epochs, ft.batch_size, ft.accumulate, ft.lr, ft.warmup) == (42, 10, 128, 16, 3e-6, 100)
    assert (ft.weight_decay, ft.schedule, ft.freeze_logit_scale, ft.concept_template) == (0.1, "linear", True, "{name}")
    t = ft.tune
    assert (t.mode, t.towers, t.heads, t.lora_r, t.lora_alpha, t.lora_dropout, t.lora_targets) == (
        "lora",
        ["image", "text"],
        False,
        4,
        16,
        0.1,
        ["q", "v"],
    )
    loss = ft.loss
    assert (loss.caption, loss.concept, loss.clip, loss.siglip, loss.preserve) == (0.7, 0.3, 0, 0, 0)
    assert loss.twin_negatives and not loss.normalize


def test_epochs_resolve_to_steps_from_the_data_size():
    ft = load_config("paper").finetune
    assert ft.resolved(100_000).steps == math.ceil(10 * 100_000 / (128 * 2 * 16))  # 245
    plain = ft.model_copy(update={"sampler": "random"})
    assert plain.resolved(100_000).steps == math.ceil(10 * 100_000 / (128 * 16))
    assert ft.model_copy(update={"epochs": None}).resolved(100_000) == ft.model_copy(update={"epochs": None})


def test_train_with_the_preset_saves_every_value_beside_the_checkpoint(tmp_path):
    for command in ("build", "train"):
        assert main([command, "--preset", "paper", "--out", str(tmp_path), *SIZES]) == 0
    folder = tmp_path / "models" / "tuned"
    resolved = yaml.safe_load((folder / "train_config.resolved.yaml").read_text())
    images = len(read_split(tmp_path / "data", "train"))
    assert resolved["start"] == "config:hf-clip" and resolved["seed"] == 42
    assert resolved["steps"] == math.ceil(2 * images / (4 * 2 * 2)) and resolved["epochs"] == 2
    expected = load_config("paper", SIZES).finetune.model_dump(mode="json") | {"steps": resolved["steps"]}
    expected["precision"] = resolve_precision(expected["precision"], resolve_device())  # auto, as it ran
    assert {k: resolved[k] for k in expected} == expected  # every value of the recipe, as trained
    log = [json.loads(line) for line in (folder / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(resolved["steps"]))
    assert all(math.isfinite(r["caption"]) and math.isfinite(r["concept"]) for r in log)
    counts = json.loads((folder / "parameters.json").read_text())
    assert counts["logit"] == 0 and 0 < counts["trainable"] < counts["total"] / 10  # LoRA only, scale frozen
    torch.manual_seed(42)
    start, tuned = create_clip("config:hf-clip"), create_clip(f"local:{folder}")
    assert tuned.logit_scale.item() == pytest.approx(start.logit_scale.item())
    changed = [k for k, v in tuned.model.state_dict().items() if not torch.equal(v, start.model.state_dict()[k])]
    assert changed and all(k.endswith(("q_proj.weight", "v_proj.weight")) for k in changed)
