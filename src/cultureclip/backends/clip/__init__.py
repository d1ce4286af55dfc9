"""CLIP models behind one protocol, loaded from an id that names their source (see `base`).

The names below resolve on first use, so `cultureclip.backends.clip.tokenizer` imports without torch.
"""

import importlib

_EXPORTS = {
    "ClipModel": "base",
    "ModelId": "base",
    "create_clip": "base",
    "parse_model_id": "base",
    "tokenizer_for": "base",
    "Tokenizer": "tokenizer",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
