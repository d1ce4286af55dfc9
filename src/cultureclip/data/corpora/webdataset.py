"""WebDataset shards: uncompressed .tar files whose consecutive members sharing a key (the member name
up to the first '.' of its file name) are one sample, e.g. `0001.jpg`, `0001.txt`, `0001.json`.

A sample's image is its first member with one of the image extensions, read later where it lies in the
shard (so shards must be uncompressed); its caption the first member with one of the text extensions;
its `json` member, when present, is its metadata (page_title, page_url, url, language as img2dataset
writes them). Headers are read one at a time, so a shard of any size streams in constant memory.
"""

import json
import logging
import tarfile
from collections.abc import Iterator
from pathlib import Path

from cultureclip.config import CorpusConfig
from cultureclip.data.corpora.record import MAX_TEXT_BYTES, CorpusKind, CorpusRecord, FileImage, described, sample_key
from cultureclip.errors import DataError

log = logging.getLogger(__name__)


def read_webdataset(cfg: CorpusConfig) -> Iterator[CorpusRecord]:
    """The samples of `cfg.path` (one .tar, or a folder's .tar files in name order) as records."""
    path = Path(cfg.path)
    if path.is_file():
        shards = [path]
    elif path.is_dir():
        shards = sorted(path.glob("*.tar"))
        if not shards:
            raise DataError(f"{path}: no .tar shards (compressed shards must be decompressed first)")
    else:
        raise DataError(f"{path}: no such file or folder of WebDataset shards")
    for shard in shards:
        yield from shard_records(shard, cfg.image_members, cfg.text_members)


def shard_records(shard: Path, image_members: list[str], text_members: list[str]) -> Iterator[CorpusRecord]:
    """The samples of one uncompressed tar shard as records (see the module docstring)."""
    try:
        tar = tarfile.open(shard, "r:")
    except (tarfile.TarError, OSError) as err:
        raise DataError(f"{shard}: not an uncompressed tar file ({err}); decompress it") from None
    with tar:
        for key, members in _samples(tar, shard):
            yield _record(tar, shard, key, members, image_members, text_members)


def _samples(tar: tarfile.TarFile, shard: Path) -> Iterator[tuple[str, dict[str, tarfile.TarInfo]]]:
    """(key, {extension: member}) of each sample, reading one header at a time (the tar's member list is
    emptied as it goes, so it never holds a shard's headers)."""
    key, members = None, {}
    while (info := _next(tar, shard, key)) is not None:
        tar.members = []
        if not info.isfile():
            continue
        folder, _, base = info.name.rpartition("/")
        stem, _, ext = base.partition(".")
        this = f"{folder}/{stem}" if folder else stem
        if members and this != key:
            yield key, members
            members = {}
        key, members[ext] = this, info
    if members:
        yield key, members


def _next(tar: tarfile.TarFile, shard: Path, key: str | None) -> tarfile.TarInfo | None:
    try:
        return tar.next()
    except tarfile.TarError as err:
        raise DataError(f"{shard}: a damaged tar header after sample {key!r} ({err})") from None


def _record(tar, shard: Path, key: str, members: dict, image_members: list[str], text_members: list[str]):
    where = f"{shard}: sample {key!r}"
    image = next((members[e] for e in image_members if e in members), None)
    if image is None:
        raise DataError(f"{where}: no image member ({', '.join(image_members)})")
    text = next((members[e] for e in text_members if e in members), None)
    if text is None:
        raise DataError(f"{where}: no caption member ({', '.join(text_members)})")
    meta = {}
    if "json" in members:
        meta = _json(_text(tar, members["json"], where), where)
    return described(
        sample_key(key), FileImage(str(shard), image.offset_data, image.size), _text(tar, text, where).strip(), meta
    )


def _text(tar: tarfile.TarFile, member: tarfile.TarInfo, where: str) -> str:
    if member.size > MAX_TEXT_BYTES:
        raise DataError(f"{where}: member {member.name!r} is {member.size:,} bytes, over {MAX_TEXT_BYTES:,}")
    try:
        return tar.extractfile(member).read().decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"{where}: member {member.name!r} is not UTF-8 text (byte {err.start})") from None


def _json(text: str, where: str) -> dict:
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise DataError(f"{where}: member json is not valid JSON") from None
    if not isinstance(value, dict):
        raise DataError(f"{where}: member json is not a JSON object")
    return value


WEBDATASET = CorpusKind(read_webdataset, options=("image_members", "text_members"))
