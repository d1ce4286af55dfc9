"""Training checkpoints: everything a resumed run needs to continue bit-exactly (on CPU).

Weights (with any LoRA adapters), optimizer and schedule state, the gradient scaler, the step and the
random generators, written atomically as `checkpoint-<step>.pt` in the training's work folder; only the
latest is kept. A checkpoint is read with `weights_only=True`: tensors and plain values only, so a file
planted in the work folder cannot run code on `--resume` (it is refused).
"""

import pickle
import re
from pathlib import Path

import torch

from cultureclip.backends.clip.base import state_dict_mismatch
from cultureclip.errors import DataError
from cultureclip.io import atomic_path

PATTERN = re.compile(r"checkpoint-(\d+)\.pt")


def save_checkpoint(folder: Path, step: int, model, optimizer, schedule, scaler) -> Path:
    """Write the state after `step` optimizer steps; remove older checkpoints once it is in place."""
    state = {
        "step": step,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "schedule": schedule.state_dict(),
        "scaler": scaler.state_dict(),
        "rng": torch.get_rng_state(),
    }
    device = _device(model)
    if device.type == "cuda":  # this rank's own GPU only: reading every GPU's state opens a context on each
        state["cuda_rng"] = torch.cuda.get_rng_state(device)
    path = Path(folder) / f"checkpoint-{step:07d}.pt"
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    for old in Path(folder).glob("checkpoint-*.pt"):
        if old != path and PATTERN.fullmatch(old.name):
            old.unlink()
    return path


def latest_checkpoint(folder: Path) -> Path | None:
    found = [p for p in Path(folder).glob("checkpoint-*.pt") if PATTERN.fullmatch(p.name)]
    return max(found, key=lambda p: int(PATTERN.fullmatch(p.name).group(1)), default=None)


def load_checkpoint(path: Path, model, optimizer, schedule, scaler) -> int:
    """Restore the state saved at `path` into the given objects; return the step to continue from.

    A checkpoint of another architecture (or another tuning mode) is a one-line DataError.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)  # tensors and plain containers: no code runs
    except pickle.UnpicklingError:
        raise DataError(
            f"checkpoint {path}: refused, it holds objects other than tensors and plain values (a pickle that "
            "could run code); delete it and train again without --resume"
        ) from None
    except (RuntimeError, EOFError, OSError) as err:
        detail = str(err).strip().splitlines()[0].split(". ")[0][:120] if str(err).strip() else type(err).__name__
        raise DataError(
            f"checkpoint {path}: unreadable ({detail}); delete it and train again without --resume"
        ) from None
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError) as err:
        detail = state_dict_mismatch(err)
        raise DataError(f"checkpoint {path}: made for another model or tuning ({detail})") from None
    schedule.load_state_dict(state["schedule"])
    scaler.load_state_dict(state["scaler"])
    torch.set_rng_state(state["rng"])
    device = _device(model)
    if device.type == "cuda" and isinstance(state.get("cuda_rng"), torch.Tensor):
        torch.cuda.set_rng_state(state["cuda_rng"], device)
    return state["step"]


def _device(model) -> torch.device:
    return next(model.parameters()).device
