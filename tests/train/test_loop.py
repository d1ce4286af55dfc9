import json

import pytest
import torch

from conftest import synthetic_dataset, synthetic_train_data
from cultureclip.backends.clip import create_clip
from cultureclip.config import LossConfig, TrainConfig, TuneConfig
from cultureclip.errors import DataError
from cultureclip.runtime import resolve_device
from cultureclip.train import loop
from cultureclip.train.checkpoint import latest_checkpoint
from cultureclip.train.loop import Trainer, lr_factor, train

CFG = TrainConfig(steps=6, batch_size=4, lr=0.005, warmup=2, checkpoint_every=2, tensorboard=True)


def _model(seed: int = 0):
    torch.manual_seed(seed)
    return create_clip("config:test-clip")


def _weights(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.model.state_dict().items()}


@pytest.mark.parametrize("augment", [False, True])
def test_resume_continues_bit_exactly(tmp_path, monkeypatch, augment):
    data = synthetic_train_data()
    cfg = CFG.model_copy(update={"augment": augment})
    whole = _model()
    expected = train(whole, data, cfg, seed=1, work=tmp_path / "whole")

    _crash_after_checkpoint(monkeypatch, 4)
    with pytest.raises(KeyboardInterrupt):
        train(_model(), data, cfg, seed=1, work=tmp_path / "cut")
    monkeypatch.undo()
    assert latest_checkpoint(tmp_path / "cut").name == "checkpoint-0000004.pt"
    resumed_model = _model()
    resumed = train(resumed_model, data, cfg, seed=1, work=tmp_path / "cut", resume=True)
    assert resumed == expected  # the same floats, step by step
    logged = [json.loads(line) for line in (tmp_path / "cut" / "train_log.jsonl").read_text().splitlines()]
    assert logged == expected
    after, want = _weights(resumed_model), _weights(whole)
    assert all(torch.equal(after[k], want[k]) for k in want)
    assert list((tmp_path / "whole" / "tensorboard").iterdir())  # TensorBoard event files


def _crash_after_checkpoint(monkeypatch, at: int) -> None:
    """Interrupt training right after the checkpoint of step `at` is written."""
    save = loop.save_checkpoint

    def save_then_crash(folder, step, *state):
        save(folder, step, *state)
        if step == at:
            raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_checkpoint", save_then_crash)


def test_resume_from_a_checkpoint_of_another_model_is_a_one_line_error(tmp_path, monkeypatch):
    data = synthetic_train_data()
    cfg = CFG.model_copy(update={"steps": 3})
    _crash_after_checkpoint(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        train(_model(), data, cfg, seed=1, work=tmp_path)
    monkeypatch.undo()
    lora = cfg.model_copy(update={"tune": TuneConfig(mode="lora", lora_targets=["attn"])})
    with pytest.raises(DataError) as err:
        train(_model(), data, lora, seed=1, work=tmp_path, resume=True)
    message = str(err.value)
    assert message.startswith(f"checkpoint {tmp_path / 'checkpoint-0000002.pt'}: made for another model or tuning (")
    assert "\n" not in message


def test_schedules():
    assert [lr_factor(s, 2, 6) for s in (0, 1)] == [0.5, 1.0]
    assert lr_factor(2, 2, 6) == 1.0 and lr_factor(4, 2, 6) == pytest.approx(0.5) and lr_factor(6, 2, 6) == 0.0
    assert [lr_factor(s, 2, 6, "linear") for s in (2, 3, 4, 5, 6)] == [1.0, 0.75, 0.5, 0.25, 0.0]
    assert lr_factor(5, 2, 6, "constant") == 1.0


def _grads(cfg: TrainConfig, checkpointing: bool = False) -> dict[str, torch.Tensor]:
    trainer = Trainer(_model(), synthetic_train_data(), cfg.model_copy(update={"grad_checkpointing": checkpointing}), 1)
    trainer.model.model.train()
    trainer.forward_backward(0)
    return {n: p.grad for n, p in trainer.model.model.named_parameters() if p.grad is not None}


def test_gradient_checkpointing_gives_the_same_gradients():
    plain, checkpointed = _grads(CFG), _grads(CFG, checkpointing=True)
    assert set(plain) == set(checkpointed)
    for name in plain:
        torch.testing.assert_close(checkpointed[name], plain[name], rtol=1e-5, atol=1e-7)


def test_accumulation_averages_its_batches():
    cfg = CFG.model_copy(update={"accumulate": 2})
    trainer = Trainer(_model(), synthetic_train_data(), cfg, seed=1)
    separate = [trainer.forward_backward(i)["loss"].item() for i in (0, 1)]
    trainer = Trainer(_model(), synthetic_train_data(), cfg, seed=1)
    record = trainer.optimizer_step(0)
    assert record["loss"] == pytest.approx(sum(separate) / 2, rel=1e-6)


def test_bf16_autocast_runs_and_stays_close_to_fp32():
    cfg = CFG.model_copy(update={"loss": LossConfig(preserve=0)})
    fp32 = Trainer(_model(), synthetic_train_data(), cfg, seed=1).forward_backward(0)["loss"].item()
    bf16_cfg = cfg.model_copy(update={"precision": "bf16"})
    bf16 = Trainer(_model(), synthetic_train_data(), bf16_cfg, seed=1).forward_backward(0)["loss"].item()
    assert bf16 == pytest.approx(fp32, rel=0.05) and bf16 != fp32


def test_weight_space_preservation_is_zero_at_the_start_and_grows():
    cfg = CFG.model_copy(update={"loss": LossConfig(preserve=1.0, preserve_kind="weights")})
    trainer = Trainer(_model(), synthetic_train_data(), cfg, seed=1)
    assert trainer.base is None  # no frozen copy: the weights themselves are the reference
    first = trainer.optimizer_step(0)
    second = trainer.optimizer_step(1)
    assert first["preserve"] == 0.0 and second["preserve"] > 0.0


def test_text_tokens_give_each_kind_of_text_its_own_set_of_distinct_texts():
    model = _model()
    groups = {"caption": ["a b.", "c d."], "neg_caption": ["f.", "a b."], "concept": ["x", "y"]}
    groups["neg_concept"] = ["y", "x"]
    sets, rows = loop.TextTokens(model)(groups)
    assert [len(s) for s in sets] == [3, 2]  # distinct captions, distinct names
    every = torch.cat(sets)
    for key, texts in groups.items():
        assert torch.equal(every[rows[key]], model.tokenize(texts))


def _dataset(folder, groups: int = 3):
    return synthetic_dataset(folder, groups, images=1)


def test_fit_to_folder_publishes_the_model_with_its_records_and_skips_it_after(tmp_path, monkeypatch):
    from cultureclip.config import ModelConfig
    from cultureclip.io import is_done
    from cultureclip.train import fit

    data = _dataset(tmp_path / "data")
    cfg = TrainConfig(epochs=1, batch_size=2, warmup=0, seed=3)
    folder = fit.fit_to_folder("config:test-clip", [data], cfg, tmp_path / "models" / "m", False, ModelConfig())
    assert folder == tmp_path / "models" / "m" and is_done(folder) and not (tmp_path / "models" / "m.work").exists()
    record = (folder / fit.TRAIN_RECORD).read_text()
    assert record.startswith("start: config:test-clip\n") and "\nseed: 3\n" in record and "\nepochs: 1.0\n" in record
    resolved = (folder / fit.RESOLVED_RECORD).read_text()
    assert "\nsteps: 2\n" in resolved  # 6 images, 2 twin pairs a step
    assert "\nprecision: auto\n" in record and "\nprecision: fp32\n" in resolved  # auto is fp32 on a CPU
    assert "\n  siglip: auto\n" in record and "\n  siglip: false\n" in resolved  # a CLIP's own: softmax
    runtime = json.loads((folder / fit.RUNTIME_RECORD).read_text())
    assert runtime["device"] == resolve_device() and runtime["precision"] == "fp32" and runtime["ranks"] == 1
    assert len((folder / loop.LOG_FILE).read_text().splitlines()) == 2
    monkeypatch.setattr(fit, "train", lambda *a, **k: pytest.fail("a finished model is trained again"))
    assert fit.fit_to_folder("config:test-clip", [data], cfg, folder, False, ModelConfig()) == folder
    with pytest.raises(ValueError, match="needs cfg.seed"):
        fit.fit_to_folder(
            "config:test-clip", [data], cfg.model_copy(update={"seed": None}), folder, False, ModelConfig()
        )


def test_fit_to_folder_refuses_to_resume_work_made_with_other_settings(tmp_path):
    from cultureclip.config import ModelConfig
    from cultureclip.train.fit import TRAIN_RECORD, fit_to_folder

    (tmp_path / "m.work").mkdir()
    (tmp_path / "m.work" / TRAIN_RECORD).write_text("start: other\n")
    cfg = TrainConfig(steps=1, batch_size=2, seed=0)
    with pytest.raises(
        DataError,
        match=r"m\.work: cannot resume, made with other settings or inputs than now \(start: other -> config:test-",
    ):
        fit_to_folder("config:test-clip", [_dataset(tmp_path / "data")], cfg, tmp_path / "m", True, ModelConfig())


def test_extra_folders_are_trained_on_after_the_first(tmp_path):
    from cultureclip.train.data import load_train_data

    first, extra = _dataset(tmp_path / "a", 2), synthetic_dataset(tmp_path / "b", 1, images=1, prefix="x")
    data = load_train_data(first, extra=[extra])
    assert data.shards == [first / "train-00000.tar", extra / "train-00000.tar"]
    assert data.shard.tolist() == [0, 0, 0, 0, 1, 1] and data.offset.tolist()[4] == 0
    assert data.concepts == ["c0-0", "c0-1", "c1-0", "c1-1", "xc0-0", "xc0-1"]
    assert data.groups == [["c0-0", "c0-1"], ["c1-0", "c1-1"], ["xc0-0", "xc0-1"]]
    assert data.generic.tolist() == [0, 0, 1, 1, 0, 0]  # the noun 'thing0' in both folders
    assert data.source == f"{first} + {extra}"


def test_the_distillation_targets_are_the_frozen_start_on_the_rows_loaded():
    trainer = Trainer(_model(), synthetic_train_data(), CFG, seed=1)
    loaded = trainer.load(0)
    f = trainer.features(loaded, twins=True)
    assert len(f["base_image"]) == len(loaded.rows) == 2 * len(f["image"])  # pos and neg
    torch.testing.assert_close(f["base_image"], f["image_all"], rtol=0, atol=1e-6)  # before a step: start = model
    torch.testing.assert_close(f["base_generic"], f["generic"], rtol=0, atol=1e-6)
    trainer.optimizer_step(0)
    after = trainer.features(trainer.load(0), twins=True)
    assert torch.equal(after["base_image"], f["base_image"])  # the start stays frozen while the model moves
    assert not torch.allclose(after["image_all"], f["image_all"])
