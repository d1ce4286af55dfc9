"""The embedding cache: vectors on disk by (model fingerprint, image or text key), so evaluating the same
model on the same images or prompts again encodes nothing.

A key is a content hash where one comes free (a text; a shard image, by its manifest's SHA-256; image
bytes in memory), and for an image file its place, size and mtime (`FileImage.digest`): computing it
reads no file, so a warm run opens no image it has a vector for.

Layout: `<root>/<fingerprint>/<chunk>.npz`, each chunk holding `keys` (image or text keys) and
`vectors` (float32 rows); a run appends one chunk, written atomically, and never rewrites old ones.
"""

import hashlib
import os
import threading
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cultureclip.backends.clip import ClipModel
from cultureclip.io import atomic_path

PROBE_TEXT = "A probe: Ünïcode, 123 & punctuation!"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cultureclip" / "embeddings"


def model_fingerprint(model: ClipModel) -> str:
    """A hash of everything that decides an embedding: the adapter, its weights, and what its
    preprocessing and tokenizer make of a fixed probe image and text (through the adapter's own methods)."""
    digest = hashlib.sha256(type(model).__name__.encode())
    for name, tensor in model.model.state_dict().items():
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}/{flat.dtype}/{tuple(tensor.shape)}".encode())
        digest.update(flat.view(torch.uint8).numpy().data)
    probe = Image.linear_gradient("L").resize((97, 61)).convert("RGB")
    for tensor in (model.images_to_tensor([probe]), model.tokenize([PROBE_TEXT])):
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:32]


def text_key(text: str) -> str:
    return "t:" + hashlib.sha256(text.encode()).hexdigest()


class EmbeddingCache:
    """Vectors of one model by key; `root=None` keeps them in memory only."""

    def __init__(self, root: Path | None, fingerprint: str):
        self.folder = Path(root) / fingerprint if root is not None else None
        self._rows: dict[str, np.ndarray] = {}
        if self.folder is not None and self.folder.is_dir():
            for chunk in sorted(self.folder.glob("*.npz")):
                with np.load(chunk) as data:
                    vectors = data["vectors"]
                    self._rows.update(zip((k.decode() for k in data["keys"]), vectors, strict=True))

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, keys: list[str]) -> dict[int, np.ndarray]:
        """The cached vector of each key found, by its position in `keys`."""
        return {i: self._rows[k] for i, k in enumerate(keys) if k in self._rows}

    def put(self, keys: list[str], vectors: torch.Tensor) -> None:
        if not keys:
            return
        array = vectors.detach().float().cpu().numpy()
        self._rows.update(zip(keys, array, strict=True))
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        chunk = self.folder / f"{time.time_ns()}-{os.getpid()}-{threading.get_ident()}.npz"
        with atomic_path(chunk) as tmp, tmp.open("wb") as f:
            np.savez(f, keys=np.array([k.encode() for k in keys]), vectors=array)
