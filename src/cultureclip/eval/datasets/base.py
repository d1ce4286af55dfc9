"""What every evaluation dataset is: items (an image, its label, captions, the labels it can be
confused with, metadata) over a label set, whatever the files on disk looked like."""

import hashlib
import io
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from PIL import Image

from cultureclip.config import ProbeSpec
from cultureclip.errors import DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
UNREADABLE = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)
"""What decoding a broken or missing image raises; such an image is skipped and counted, not fatal."""


class ImageRef(Protocol):
    """An image not yet decoded: a name for reports, a key for the embedding cache (a content hash,
    or for a file its place, size and mtime), a way to open it."""

    name: str

    def digest(self) -> str: ...

    def open(self) -> Image.Image: ...


@dataclass(frozen=True)
class FileImage:
    """An image file, keyed by where it is, its size and its modification time: a warm evaluation
    reads no image file (a file rewritten in place has a new mtime, so a new key)."""

    path: Path

    @property
    def name(self) -> str:
        return str(self.path)

    def digest(self) -> str:
        stat = os.stat(self.path)
        where = f"{os.path.abspath(self.path)}\0{stat.st_size}\0{stat.st_mtime_ns}"
        return "f:" + hashlib.sha256(where.encode()).hexdigest()

    def open(self) -> Image.Image:
        return Image.open(self.path)


@dataclass(frozen=True)
class BytesImage:
    """An encoded image held in memory (a tar member, a Parquet cell)."""

    data: bytes
    name: str

    def digest(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def open(self) -> Image.Image:
        return Image.open(io.BytesIO(self.data))


@dataclass(frozen=True, eq=False)
class DecodedImage:
    """An image already decoded in memory, keyed by its pixels."""

    image: Image.Image
    name: str

    def digest(self) -> str:
        return pixel_digest(self.image)

    def open(self) -> Image.Image:
        return self.image.copy()


def pixel_digest(image: Image.Image) -> str:
    """A content hash of decoded pixels (mode, size and bytes), for images that have no file."""
    head = f"{image.mode}/{image.size[0]}x{image.size[1]}/".encode()
    return hashlib.sha256(head + image.tobytes()).hexdigest()


@dataclass
class EvalItem:
    id: str
    image: ImageRef
    label: int | None = None
    """Index into the dataset's classes."""
    captions: tuple[str, ...] = ()
    candidates: tuple[int, ...] = ()
    """Labels to choose among for this image (its own and its twins'); empty: no choice task."""
    group: str | None = None
    """The twin group (or question) the candidates come from, for confusion matrices."""
    category: str | None = None
    culture: str | None = None
    generic: str | None = None
    """The generic kind ("dumpling"), for the general zero-shot check."""


@dataclass(frozen=True)
class NativeNames:
    """Each class's name in another language than its label's (None where it has none), for task native_names."""

    language: str
    """native (each concept's own language) or an ISO 639-1 code."""
    names: list[str | None]


@dataclass
class EvalDataset:
    name: str
    items: list[EvalItem]
    classes: list[str] = field(default_factory=list)
    templates: list[str] = field(default_factory=lambda: ["a photo of {c}."])
    """Prompt templates ({c}: class name, {a}: its article), averaged as an ensemble."""
    generic_templates: list[str] = field(default_factory=lambda: ["a photo of {a} {c}."])
    tasks: tuple[str, ...] | None = None
    """The tasks this data is meant for; None: every task its fields support."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(image, reason) for entries dropped while loading."""
    split: str | None = None
    """The split these items are, for kinds that have splits (None: the kind has none)."""
    train: "EvalDataset | None" = None
    """What the linear probe fits on: the kind's `probe.train_split` (None: it splits `items` itself)."""
    probe: ProbeSpec = field(default_factory=ProbeSpec)
    """Settings of the linear probe on this data (its spec's `probe`)."""
    class_ids: list[str] | None = None
    """The catalogue concept id of each class, where the classes are concepts (kind shards)."""
    native_names: NativeNames | None = None
    """The classes' names in another language (its spec's `names`), for task native_names."""

    def default_tasks(self) -> tuple[str, ...]:
        """The tasks run when none are asked for: the dataset's own, else all its fields support
        (general only where items carry a generic kind: otherwise it would repeat classification; never
        linear_probe, which fits a classifier and runs only when asked for)."""
        if self.tasks is not None:
            return self.tasks
        has_generic = any(it.generic for it in self.items)
        return tuple(t for t in self.supported_tasks() if t != "linear_probe" and (t != "general" or has_generic))

    def supported_tasks(self) -> tuple[str, ...]:
        labelled = bool(self.items) and all(it.label is not None for it in self.items)
        found = {
            "classification": labelled and len(self.classes) >= 2,
            "choice": any(len(it.candidates) >= 2 for it in self.items),
            "retrieval": any(it.captions for it in self.items),
            "general": any(it.generic for it in self.items) or (labelled and len(self.classes) >= 2),
            "linear_probe": labelled and len(self.classes) >= 2,
            "native_names": labelled and self.native_names is not None,
        }
        return tuple(task for task, ok in found.items() if ok)

    def subset(self, keep: list[int]) -> "EvalDataset":
        return replace(self, items=[self.items[i] for i in keep])


def check_label_set(classes: list[str], counts: list[int], source: object) -> None:
    """A label set with a duplicate name or a class without images is an error naming both."""
    seen: set[str] = set()
    for name, count in zip(classes, counts, strict=True):
        if name in seen:
            raise DataError(f"{source}: label set has the class {name!r} twice")
        seen.add(name)
        if count == 0:
            raise DataError(f"{source}: class {name!r} has no images")


def read_classnames(path: Path | None, expected: int | None, source: object) -> list[str] | None:
    """Display names from a text file, one per line; None when no file is given."""
    if path is None:
        return None
    if not Path(path).is_file():
        raise DataError(f"{path}: no such classnames file")
    names = [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
    if expected is not None and len(names) != expected:
        raise DataError(f"{path}: {len(names)} class names for {expected} classes in {source}")
    return names


def require_fields(present: list[str], needed: tuple[str, ...], source: object) -> None:
    """A benchmark file without a field the importer reads is an error naming the file and the field."""
    missing = [f for f in needed if f not in present]
    if missing:
        raise DataError(f"{source}: missing field {missing[0]!r} (has: {', '.join(present)})")
