"""Image-text corpora read as one stream of uniform records, whatever their layout.

A kind of corpus is a reader registered in `CORPORA` by name; `read_corpus` picks it by the config's
`kind` and streams its records. Kinds shipped: `wit` (rows in the WIT layout with local images),
`img2dataset` (its output folder, webdataset or parquet format), `webdataset` (any uncompressed .tar
shards), `folder` (images with captions). A record carries where its image lies (`record.image`), not
its bytes: a stream of a million rows holds no image, and a stage reads each one when it needs it.
"""

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from cultureclip.config import CorpusConfig
from cultureclip.data.corpora.record import CorpusKind, CorpusRecord, FileImage, ParquetImage
from cultureclip.errors import ConfigError
from cultureclip.io import file_digest
from cultureclip.registry import Registry

CORPORA: Registry[CorpusKind] = Registry(
    "corpus kind",
    {
        "wit": "cultureclip.data.corpora.wit:WIT",
        "img2dataset": "cultureclip.data.corpora.img2dataset:IMG2DATASET",
        "webdataset": "cultureclip.data.corpora.webdataset:WEBDATASET",
        "folder": "cultureclip.data.corpora.folder:FOLDER",
    },
)
"""Kinds of corpus by name (`build.bottom_up.corpus.kind`); register a CorpusKind to read another layout."""

__all__ = ["CORPORA", "CorpusKind", "CorpusRecord", "FileImage", "ParquetImage", "corpus_digest", "read_corpus"]


def read_corpus(cfg: CorpusConfig, field: str = "corpus") -> Iterator[CorpusRecord]:
    """The records of the corpus `cfg` describes, streamed in its order; an option its kind does not read
    is a ConfigError naming `field`.OPTION (so no setting is silently ignored)."""
    kind = CORPORA.get(cfg.kind)
    unread = sorted(cfg.model_fields_set - {"kind", "path", *kind.options})
    if unread:
        raise ConfigError(f"{field}.{unread[0]}: not an option of corpus kind {cfg.kind!r}")
    return kind.read(cfg)


def corpus_digest(path: Path) -> str:
    """A digest of what `path` holds, for a build's settings record: a file's content, or a folder's
    files by name, size and modification time (reading a corpus of images to hash it would take longer
    than a small build), so an edited or replaced input makes the record differ."""
    path = Path(path)
    if path.is_file():
        return file_digest(path)[:23]
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            stat = os.stat(os.path.join(root, name))
            digest.update(
                f"{os.path.relpath(os.path.join(root, name), path)} {stat.st_size} {stat.st_mtime_ns}\n".encode()
            )
    return f"sha256:{digest.hexdigest()}"[:23]
