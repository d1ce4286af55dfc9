"""WiSE-FT (Wortsman et al., 2022): mix a fine-tuned CLIP with its base in weight space.

θ(α) = (1-α)·θ_base + α·θ_tuned.
Fine-tuning CLIP tends to cost general zero-shot accuracy; interpolating the weights with the
starting model buys most of it back while keeping most of the gain, and α traces the trade-off.
A LoRA-tuned model is merged first (peft's `merge_and_unload`, on a copy), so both sides have the
same plain weights. α = 0 gives the base model's weights bit for bit and α = 1 the tuned model's
(both ends are copies, never arithmetic), so the end points reproduce those models' metrics exactly.
Works on any CLIP adapter with a `.model` torch module (backends/clip/); the result keeps the
base adapter's format, so `save` writes an ordinary checkpoint of that kind. `score_sweep` scores each
mix on a comparison's datasets as the runner scores a model (the run's WiSE-FT curve).
"""

import copy
import json
from collections.abc import Iterator
from pathlib import Path

import torch

from cultureclip.config import EvalConfig
from cultureclip.errors import ConfigError, DataError
from cultureclip.eval.runner import Comparison, score_model
from cultureclip.io import atomic_path, claim_output, mark_done

RECORD = "wise.json"


def merged(model):
    """The adapter with LoRA folded into its weights: a merged copy, or `model` itself if it has none.

    LoRA is found either as a peft wrapper kept beside the module (`model.lora`, the trainer's way:
    adapters injected in place) or as `model.model` being the peft model itself.
    """
    wrapper = getattr(model, "lora", None)
    if wrapper is None and hasattr(model.model, "merge_and_unload"):
        wrapper = model.model
    if wrapper is None:
        return model
    out = copy.copy(model)
    out.model = copy.deepcopy(wrapper).merge_and_unload()
    if hasattr(out, "lora"):
        out.lora = None
    return out


def interpolate(base: dict[str, torch.Tensor], tuned: dict[str, torch.Tensor], alpha: float) -> dict:
    """The state dict at `alpha`; floating tensors are mixed, all others must agree (and are copied)."""
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError(f"WiSE-FT alpha {alpha}: must lie in [0, 1]")
    if base.keys() != tuned.keys():
        key = sorted(base.keys() ^ tuned.keys())[0]
        side = "tuned" if key in base else "base"
        raise DataError(f"WiSE-FT: the {side} model has no weight {key!r} (not the same architecture?)")
    out = {}
    for key, b in base.items():
        t = tuned[key]
        if b.shape != t.shape:
            raise DataError(f"WiSE-FT: weight {key!r} has shape {tuple(b.shape)} in base, {tuple(t.shape)} in tuned")
        if not b.is_floating_point():
            if not torch.equal(b, t):
                raise DataError(f"WiSE-FT: non-float buffer {key!r} differs between base and tuned")
            out[key] = b.clone()
        elif alpha == 0.0:
            out[key] = b.clone()
        elif alpha == 1.0:
            out[key] = t.clone()
        else:
            out[key] = torch.lerp(b, t.to(b.dtype), alpha)
    return out


@torch.no_grad()
def wise(base, tuned, alpha: float):
    """A new adapter (in the base's format) whose weights are the WiSE-FT mix at `alpha`."""
    base, tuned = merged(base), merged(tuned)
    state = interpolate(_state(base, "base"), _state(tuned, "tuned"), alpha)
    out = copy.deepcopy(base)
    out.model.load_state_dict(state)
    out.name = f"wise({alpha:g}):{getattr(tuned, 'name', 'tuned')}"
    return out


def wise_sweep(base, tuned, alphas: list[float]) -> Iterator[tuple[float, object]]:
    """(α, model) for each α in order, merging LoRA once."""
    base, tuned = merged(base), merged(tuned)
    for alpha in alphas:
        yield alpha, wise(base, tuned, alpha)


def score_sweep(
    comparison: Comparison, base, tuned, alphas: list[float], cfg: EvalConfig
) -> Iterator[tuple[float, dict]]:
    """(α, {dataset: {task: TaskResult}}) for each α: the mix scored on `comparison`'s datasets."""
    for alpha, mixed in wise_sweep(base, tuned, alphas):
        results, _, _ = score_model(comparison, mixed, cfg)
        yield alpha, results


def export_wise(base, tuned, alpha: float, out: Path, source: dict | None = None, overwrite: bool = False) -> Path:
    """Write the checkpoint at `alpha` into `out` (the adapter's own format) with a record of its inputs;
    `out` may hold only an earlier WiSE-FT export unless `overwrite`."""
    claim_output(Path(out), "wise", overwrite)
    model = wise(base, tuned, alpha)
    with atomic_path(Path(out)) as tmp:
        model.save(tmp)
        (tmp / RECORD).write_text(json.dumps({"alpha": alpha, **(source or {})}, indent=2) + "\n")
        mark_done(tmp, "wise")
    return Path(out)


def _state(model, side: str) -> dict[str, torch.Tensor]:
    state = model.model.state_dict()
    lora = next((k for k in state if "lora_" in k), None)
    if lora is not None:
        raise DataError(f"WiSE-FT: the {side} model holds unmerged LoRA weights ({lora!r}) outside a peft wrapper")
    return {k: v.detach() for k, v in state.items()}
