"""Devices and precision: what `auto` means, the objective kept in fp32 under autocast, Ray actors' GPUs, and
models loaded once for every stage that names them."""

import pytest
import torch

from cultureclip import runtime
from cultureclip.config import ChatModelConfig, ExecutorConfig, ImageGeneratorConfig, LossConfig, TrainConfig


def test_auto_device_follows_the_override_then_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.delenv(runtime.DEVICE_ENV, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert runtime.resolve_device("auto") == "cpu"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert runtime.resolve_device("auto") == "mps"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert runtime.resolve_device("auto") == "cuda"
    assert runtime.resolve_device("cuda:1") == "cuda:1"  # a named device is kept
    monkeypatch.setenv(runtime.DEVICE_ENV, "cpu")
    assert runtime.resolve_device("auto") == "cpu"
    assert runtime.resolve_device("cuda") == "cuda"


def test_auto_precision_is_bf16_on_a_gpu_that_has_it_fp16_on_one_without_fp32_elsewhere(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert runtime.resolve_precision("auto", "cuda:0") == "bf16"
    assert runtime.resolve_dtype("auto", "cuda") == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert runtime.resolve_precision("auto", "cuda") == "fp16"
    assert runtime.resolve_dtype("auto", "cuda") == torch.float16
    assert runtime.resolve_precision("auto", "cpu") == runtime.resolve_precision("auto", "mps") == "fp32"
    assert runtime.resolve_dtype("auto", "cpu") == torch.float32
    assert (
        runtime.resolve_precision("fp16", "cpu") == "fp16"
        and runtime.resolve_dtype("bfloat16", "cpu") == torch.bfloat16
    )


def test_defaults_are_auto_everywhere_a_model_runs():
    from cultureclip.config import EvalConfig, ModelConfig

    assert ModelConfig().device == "auto" and ModelConfig().tf32
    assert TrainConfig().precision == EvalConfig().precision == "auto"
    assert ImageGeneratorConfig().dtype == ImageGeneratorConfig().device == ChatModelConfig().device == "auto"
    assert ExecutorConfig().ray_gpus_per_worker is None


def _paper_batch(n: int = 64, dim: int = 512) -> dict[str, torch.Tensor]:
    """Unnormalised embeddings with the norms of a real CLIP's (about 10 for images, 8 for texts)."""
    g = torch.Generator().manual_seed(0)

    def emb(norm: float) -> torch.Tensor:
        x = torch.randn(n, dim, generator=g)
        return norm * x / x.norm(dim=-1, keepdim=True)

    labels = torch.arange(n)
    return {
        "image": emb(10),
        "neg_image": emb(10),
        "caption": emb(8),
        "neg_caption": emb(8),
        "concept": emb(8),
        "neg_concept": emb(8),
        "label": labels,
        "neg_label": labels + n,
    }


def test_the_paper_objective_is_computed_in_fp32_under_a_bf16_autocast():
    from cultureclip.train.losses import objective_terms, weighted_sum

    cfg = LossConfig(caption=0.7, concept=0.3, preserve=0, normalize=False)  # the paper preset's loss
    f, scale = _paper_batch(), torch.tensor(100.0)
    exact = weighted_sum(objective_terms(f, scale, cfg), cfg)
    with torch.autocast("cpu", torch.bfloat16):
        mixed = weighted_sum(objective_terms(f, scale, cfg), cfg)
        bf16_logits = (scale * f["image"] @ f["caption"].T).dtype  # what the terms would see without the guard
    assert bf16_logits == torch.bfloat16
    assert mixed.dtype == torch.float32 and abs(mixed.item() - exact.item()) <= 1e-3 * abs(exact.item())


def test_a_bf16_training_step_gives_an_fp32_loss_close_to_the_fp32_step():
    from conftest import synthetic_train_data
    from cultureclip.backends.clip import create_clip
    from cultureclip.train.loop import Trainer

    data = synthetic_train_data(groups=3)
    losses = {}
    for precision in ("fp32", "bf16"):
        torch.manual_seed(0)
        model = create_clip("config:test-clip")
        cfg = TrainConfig(steps=1, batch_size=4, precision=precision, workers=0, loss=LossConfig(normalize=False))
        trainer = Trainer(model, data, cfg, seed=0)
        assert trainer.precision == precision and trainer.device == model.device
        model.model.train()
        losses[precision] = trainer.forward_backward(0)["loss"]
    assert losses["bf16"].dtype == torch.float32
    assert abs(losses["bf16"].item() - losses["fp32"].item()) <= 0.05 * abs(losses["fp32"].item())


def _build(**settings) -> ExecutorConfig:
    return ExecutorConfig.model_validate({"kind": "ray", **settings})


def test_ray_actors_get_a_gpu_each_by_default_and_too_many_actors_are_refused():
    from cultureclip.builder.executors import actor_gpus
    from cultureclip.errors import ConfigError

    assert actor_gpus(_build(ray_workers=2), cluster_gpus=2) == 1.0
    assert actor_gpus(_build(ray_workers=4), cluster_gpus=0) == 0.0  # a CPU cluster
    assert actor_gpus(_build(ray_workers=4, ray_gpus_per_worker=0.5), cluster_gpus=2) == 0.5
    assert actor_gpus(_build(ray_workers=3, ray_gpus_per_worker=0), cluster_gpus=2) == 0.0
    with pytest.raises(
        ConfigError, match=r"^executor.ray_workers=3 actors with 1 GPU each need 3 GPUs; the Ray cluster has 2"
    ):
        actor_gpus(_build(ray_workers=3), cluster_gpus=2)
    with pytest.raises(ConfigError, match="need 2.5 GPUs"):
        actor_gpus(_build(ray_workers=5, ray_gpus_per_worker=0.5), cluster_gpus=2)


@pytest.fixture(scope="module")
def gpu_ray_cluster():
    """A local Ray cluster that declares 2 GPUs (Ray schedules them; nothing here runs on a GPU)."""
    import os
    from pathlib import Path

    ray = pytest.importorskip("ray")
    path = os.pathsep.join(filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")]))
    env = {"PYTHONPATH": path}
    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env})
    yield ray
    ray.shutdown()


def test_on_a_gpu_cluster_each_ray_actor_sees_its_own_gpu(gpu_ray_cluster, tmp_path):
    from cultureclip.builder.executors import open_executor, progress_bar
    from cultureclip.errors import ConfigError
    from helpers.builder_backends import DeviceProbe

    rows = [{"key": str(i)} for i in range(6)]
    with progress_bar() as progress, open_executor(_build(ray_workers=2, chunk_rows=1), progress) as executor:
        seen = executor.run_stage(DeviceProbe(), rows, tmp_path / "gpus")
    by_actor = {r["pid"]: r["visible"] for r in seen}
    assert len(by_actor) == 2 and sorted(by_actor.values()) == ["0", "1"]  # one card each, not both on GPU 0
    with progress_bar() as progress, open_executor(_build(ray_workers=2, ray_gpus_per_worker=0), progress) as executor:
        seen = executor.run_stage(DeviceProbe(), rows, tmp_path / "cpus")
    assert {r["device"] for r in seen} == {"cpu"}  # actors without a GPU keep their auto models on the CPU
    with pytest.raises(ConfigError, match="lower executor.ray_workers"):
        with progress_bar() as progress, open_executor(_build(ray_workers=3, chunk_rows=1), progress):
            pass


def test_stages_naming_the_same_chat_model_share_one_load(monkeypatch):
    from cultureclip.backends import loaded
    from cultureclip.backends.chat import create_chat_model, tiny

    loads = []
    build = tiny._tiny_causal_lm
    monkeypatch.setattr(tiny, "_tiny_causal_lm", lambda: loads.append(1) or build())
    loaded.release()
    concepts = create_chat_model(ChatModelConfig(name="tiny:causal-lm", max_new_tokens=8))
    captions = create_chat_model(ChatModelConfig(name="tiny:causal-lm", max_new_tokens=40, temperature=0.7))
    assert len(loads) == 1 and concepts.model is captions.model  # one copy of the weights
    assert (concepts.cfg.max_new_tokens, captions.cfg.max_new_tokens) == (8, 40)  # each stage keeps its settings
    assert concepts.generate(["hi"]) == create_chat_model(
        ChatModelConfig(name="tiny:causal-lm", max_new_tokens=8)
    ).generate(["hi"])
    loaded.release()
    create_chat_model(ChatModelConfig(name="tiny:causal-lm"))
    assert len(loads) == 2  # released with the build, loaded again by the next one


def test_a_build_loads_its_judge_clip_once_for_every_stage_that_names_it(monkeypatch):
    from cultureclip.backends import loaded
    from cultureclip.backends.clip import base
    from cultureclip.builder.stages.caption_scores import AgreementStage
    from cultureclip.builder.stages.clip_filter import JudgeClipStage

    loads = []
    create = base.create_clip
    monkeypatch.setattr(base, "create_clip", lambda *a, **k: loads.append(a[0]) or create(*a, **k))
    loaded.release()
    stages = [
        JudgeClipStage("config:test-clip"),
        AgreementStage("config:test-clip"),
        JudgeClipStage("config:world-clip"),
    ]
    for stage in stages:
        stage.setup()
    assert loads == ["config:test-clip", "config:world-clip"] and stages[0].judge is stages[1].judge
    assert str(stages[0].judge.device) == runtime.resolve_device()
    loaded.release()
