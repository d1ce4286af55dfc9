"""CLIP models behind one protocol, loaded from an id that names their source (see `base`)."""

from cultureclip.backends.clip.base import ClipModel, ModelId, Tokenizer, create_clip, parse_model_id, tokenizer_for

__all__ = ["ClipModel", "ModelId", "Tokenizer", "create_clip", "parse_model_id", "tokenizer_for"]
