"""Thumbnails of a dataset's images, made while streaming its shards: one sample in memory at a time, read
in shard order (one `pread` per sample, see `ShardReader`), whatever image member the sample has."""

import io
from collections.abc import Iterable
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from cultureclip.data.shards import ShardReader
from cultureclip.errors import DataError

IMAGE_MEMBERS = ("png", "jpg", "jpeg", "webp")
"""Tar member extensions that hold a sample's image, in the order they are looked for."""
PER_FOLDER = 1000


def thumb_path(index: int) -> str:
    """The thumbnail of manifest row `index`, relative to the site (a folder per 1,000 rows)."""
    return f"t/{index // PER_FOLDER:03d}/{index:06d}.jpg"


def image_bytes(members: dict[str, bytes], where: str) -> bytes:
    """The encoded image among a sample's tar members (PNG, JPEG or WebP)."""
    for ext in IMAGE_MEMBERS:
        if ext in members:
            return members[ext]
    raise DataError(f"{where}: sample has no image member ({', '.join(sorted(members)) or 'none'})")


def write_thumbnails(folder: Path, rows: Iterable[tuple[int, dict]], site: Path, size: int, quality: int) -> int:
    """A JPEG thumbnail (longest side `size`) under `site` for each (index, manifest row) with a shard;
    returns how many were written."""
    reader = ShardReader()
    located = sorted(((r["shard"], r["offset"], r["length"], i) for i, r in rows if r.get("shard")))
    for shard, offset, length, index in located:
        where = f"{folder / shard} at byte {offset}"
        data = image_bytes(reader.read(folder / shard, offset, length), where)
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.thumbnail((size, size))
                thumb = image.convert("RGB")
        except (UnidentifiedImageError, OSError) as err:
            raise DataError(f"{where}: not a readable image ({type(err).__name__})") from None
        target = site / thumb_path(index)
        target.parent.mkdir(parents=True, exist_ok=True)
        thumb.save(target, format="JPEG", quality=quality)
    return len(located)
