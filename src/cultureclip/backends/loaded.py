"""Weights loaded once per process: every stage of a build (in this process, or in one Ray actor) that names the
same model on the same device and dtype shares one copy, so `paper-build` loads its VLM once, not once a stage.

A backend asks for its weights with `shared(key, load)`, the key holding what decides the weights (source, name,
device, dtype), not the settings a stage may vary (tokens, temperature, batch size): those stay in the stage's own
wrapper around the shared weights. Shared weights must not be trained; `release()` frees them all when the build ends.
"""

import gc
import logging
import sys
from collections.abc import Callable, Hashable
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
_WEIGHTS: dict[Hashable, object] = {}


def shared(key: Hashable, load: Callable[[], T]) -> T:
    """The weights `key` names, loaded by `load` the first time they are asked for in this process."""
    if key not in _WEIGHTS:
        _WEIGHTS[key] = load()
    else:
        log.debug("reusing the loaded %s", key)
    return _WEIGHTS[key]


def release() -> None:
    """Drop every shared model (and the GPU memory PyTorch caches for them)."""
    if not _WEIGHTS:
        return
    _WEIGHTS.clear()
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
