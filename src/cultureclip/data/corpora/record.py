"""A corpus record, where its image lies, and what a kind of corpus declares."""

import functools
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from cultureclip.data.images import ImageTooLarge
from cultureclip.errors import DataError

MAX_IMAGE_BYTES = 64 << 20
"""The most bytes an image file in a corpus may have (a photo is a few MB); a larger one fails its row."""
MAX_TEXT_BYTES = 1 << 20
"""The most bytes a caption or metadata file or member may have; a larger one is a DataError."""
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


@dataclass(frozen=True)
class FileImage:
    """An image file (`length` None), or the `length` bytes at `offset` in a file (a member of an
    uncompressed tar shard): read with one `pread`, from any process (Ray workers included)."""

    path: str
    offset: int = 0
    length: int | None = None

    def read(self) -> bytes:
        """The image's bytes; ImageTooLarge over MAX_IMAGE_BYTES, OSError when the file cannot be read."""
        fd = os.open(self.path, os.O_RDONLY)
        try:
            length = os.fstat(fd).st_size - self.offset if self.length is None else self.length
            if length > MAX_IMAGE_BYTES:
                raise ImageTooLarge(f"{length:,} bytes, over the {MAX_IMAGE_BYTES:,} an image file may have")
            data = os.pread(fd, length, self.offset)
        finally:
            os.close(fd)
        if len(data) != length:
            raise DataError(
                f"{self}: truncated at byte {self.offset + len(data)} (the corpus changed since it was read)"
            )
        return data

    def __str__(self) -> str:
        return self.path if self.length is None else f"{self.path} (bytes {self.offset}-{self.offset + self.length})"


@dataclass(frozen=True)
class ParquetImage:
    """The image bytes in `column` of row `row` of row group `row_group` of a Parquet file; a process
    keeps the last row group's column it read, so reading a group's rows in order reads the group once."""

    path: str
    row_group: int
    row: int
    column: str

    def read(self) -> bytes:
        stat = os.stat(self.path)  # a file rewritten since it was cached is read again
        column = _row_group_column(self.path, self.row_group, self.column, (stat.st_size, stat.st_mtime_ns))
        value = column[self.row].as_py()
        if value is None:
            raise DataError(f"{self}: no image (null)")
        if len(value) > MAX_IMAGE_BYTES:
            raise ImageTooLarge(f"{len(value):,} bytes, over the {MAX_IMAGE_BYTES:,} an image file may have")
        return value

    def __str__(self) -> str:
        return f"{self.path} (row group {self.row_group}, row {self.row}, column {self.column!r})"


@functools.lru_cache(maxsize=1)
def _row_group_column(path: str, row_group: int, column: str, version: tuple[int, int]):
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).read_row_group(row_group, columns=[column]).column(0)


@dataclass(frozen=True)
class CorpusRecord:
    """One image-text pair of a corpus: its key (letters, digits, '_' and '-'), where its image lies, its
    caption, the page it comes from (title and URL, empty where the corpus has none), the image's URL,
    the language, and the source's own metadata as it stands there (`meta`)."""

    key: str
    image: FileImage | ParquetImage
    text: str
    title: str = ""
    url: str = ""
    image_url: str = ""
    language: str = ""
    meta: dict = field(default_factory=dict)


def described(key: str, image, text: str, meta: dict) -> CorpusRecord:
    """A record whose page title, page URL, image URL and language come from the source's metadata under
    the names WIT and img2dataset give them (page_title or title, page_url, image_url or url, language)."""

    def first(*names: str) -> str:
        return next((str(meta[n]) for n in names if meta.get(n) not in (None, "")), "")

    return CorpusRecord(
        key=key,
        image=image,
        text=text,
        title=first("page_title", "title"),
        url=first("page_url"),
        image_url=first("image_url", "url"),
        language=first("language"),
        meta=meta,
    )


@dataclass(frozen=True)
class CorpusKind:
    """A kind of corpus: its reader (a generator of records) and the CorpusConfig options it reads
    besides `path`."""

    read: Callable[..., Iterator[CorpusRecord]]
    options: tuple[str, ...] = ()


def sample_key(name: str) -> str:
    """`name` as a record key: each character other than a letter, digit, '_' or '-' becomes '_'."""
    return re.sub(r"[^\w-]", "_", name)
