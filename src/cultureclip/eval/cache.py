"""The embedding cache: vectors on disk by (model fingerprint, image or text key), so evaluating the same
model on the same images or prompts again encodes nothing.

A key is a content hash where one comes free (a text; a shard image, by its manifest's SHA-256; image
bytes in memory), and for an image file its place, size and mtime (`FileImage.digest`): computing it
reads no file, so a warm run opens no image it has a vector for.

Layout: `<root>/<fingerprint>/<chunk>.vectors.npy` (float32 rows) and `<chunk>.keys.npy` (each row's key
as a 16-byte digest, sorted), both memory-mapped: opening a cache reads nothing, a lookup reads the pages
of the keys it bisects and the rows it finds, so memory stays flat however many vectors the cache holds.
New vectors are held until `FLUSH_ROWS` of them (or the end of a pass) and then written as one chunk,
atomically (the keys file last: a chunk without one is ignored); old chunks are never rewritten.
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

    FLUSH_ROWS = 65536

    def __init__(self, root: Path | None, fingerprint: str):
        self.folder = Path(root) / fingerprint if root is not None else None
        self._chunks: list[tuple[np.ndarray, np.ndarray]] = []
        self._pending: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()  # images and prompts are encoded in two threads
        if self.folder is not None and self.folder.is_dir():
            for keys in sorted(self.folder.glob("*.keys.npy")):
                vectors = keys.with_name(keys.name.removesuffix(".keys.npy") + ".vectors.npy")
                self._chunks.append((np.load(keys, mmap_mode="r"), np.load(vectors, mmap_mode="r")))

    def __len__(self) -> int:
        return sum(len(keys) for keys, _ in self._chunks) + len(self._pending)

    def get(self, keys: list[str]) -> dict[int, np.ndarray]:
        """The cached vector of each key found, by its position in `keys`."""
        query = np.array([_digest(k) for k in keys], dtype="S16")
        found = {}
        for stored, vectors in self._chunks:
            at = np.searchsorted(stored, query).clip(max=len(stored) - 1) if len(query) else np.zeros(0, int)
            for i in np.flatnonzero(stored[at] == query):
                found[int(i)] = np.array(vectors[at[i]])
        with self._lock:
            found |= {i: self._pending[k] for i, k in enumerate(keys) if k in self._pending}
        return found

    def put(self, keys: list[str], vectors: torch.Tensor) -> None:
        array = vectors.detach().float().cpu().numpy()
        with self._lock:
            self._pending.update(zip(keys, array, strict=True))
        if len(self._pending) >= self.FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        """Write the vectors put since the last flush as one chunk (in memory only: nothing to do)."""
        with self._lock:
            if self.folder is None or not self._pending:
                return
            digests = np.array([_digest(k) for k in self._pending], dtype="S16")
            order = np.argsort(digests)
            keys, vectors = digests[order], np.stack(list(self._pending.values()))[order]
            self.folder.mkdir(parents=True, exist_ok=True)
            chunk = self.folder / f"{time.time_ns()}-{os.getpid()}-{threading.get_ident()}"
            files = [chunk.with_name(chunk.name + suffix) for suffix in (".keys.npy", ".vectors.npy")]
            for file, array in ((files[1], vectors), (files[0], keys)):
                with atomic_path(file) as tmp, tmp.open("wb") as f:
                    np.save(f, array)
            self._chunks.append(tuple(np.load(file, mmap_mode="r") for file in files))  # read back as needed
            self._pending.clear()


def _digest(key: str) -> bytes:
    """A key's fixed-width form on disk (128 bits: no collision among any plausible number of keys)."""
    return hashlib.blake2b(key.encode(), digest_size=16).digest()
