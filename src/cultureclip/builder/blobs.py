"""Large stage outputs (image bytes) kept on disk beside their saved chunk, not in the rows.

A stage names such outputs in `blobs`; the executor writes their bytes one after the other into
`<folder>/<i>.blobs` and the chunk's Parquet file keeps each one's `{offset, length}`. Rows read back
carry a `Blob` (where the bytes lie) in that field, so a build holds its images' places, never the
images: a stage that reads the field gets the bytes of its own chunk's rows (`read_blobs`), and the
final write reads one image at a time. A finished dataset's image is a `ShardImageBlob`: the same, read from
its shard (the caption-quality stages run on finished datasets).
"""

import os
from dataclasses import dataclass
from pathlib import Path

from cultureclip.data.shards import ShardReader, image_member
from cultureclip.errors import DataError
from cultureclip.io import create_new

_SHARDS = ShardReader()


@dataclass(frozen=True)
class Blob:
    """`length` bytes at `offset` in the file `path` (absolute: Ray workers may run elsewhere)."""

    path: str
    offset: int
    length: int

    def read(self) -> bytes:
        """The bytes, with one read."""
        fd = os.open(self.path, os.O_RDONLY)
        try:
            data = os.pread(fd, self.length, self.offset)
        finally:
            os.close(fd)
        if len(data) != self.length:
            raise DataError(f"{self.path}: truncated at byte {self.offset + len(data)}; delete the work folder")
        return data


@dataclass(frozen=True)
class ShardImageBlob(Blob):
    """The image bytes (as stored: JPEG, PNG or WebP) of the sample whose tar members span `length` bytes
    at `offset` in the shard `path`."""

    def read(self) -> bytes:
        return image_member(_SHARDS.read(self.path, self.offset, self.length), self.path)


def write_blobs(path: Path, outputs: list[dict], fields: tuple[str, ...]) -> list[dict]:
    """Write the bytes of each output's `fields` into the file `path`; the outputs with those fields
    replaced by their `{offset, length}` there (a failed output lacks them and stays as it is)."""
    placed, offset = [], 0
    with create_new(path) as f:
        for out in outputs:
            spans = {}
            for name in (n for n in fields if n in out):
                f.write(out[name])
                spans[name] = {"offset": offset, "length": len(out[name])}
                offset += len(out[name])
            placed.append({**out, **spans})
    return placed


def blob_refs(path: Path, outputs: list[dict], fields: tuple[str, ...]) -> list[dict]:
    """Saved outputs with each `{offset, length}` of `fields` (see `write_blobs`) as a `Blob` in `path`."""
    where = str(Path(path).resolve())
    return [{**out, **{n: Blob(where, **out[n]) for n in fields if out.get(n) is not None}} for out in outputs]


def read_blobs(row: dict, fields: tuple[str, ...]) -> dict:
    """`row` with the `Blob` of each of `fields` replaced by its bytes."""
    return {**row, **{n: row[n].read() for n in fields if isinstance(row.get(n), Blob)}}
