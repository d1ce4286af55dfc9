"""The output folder of img2dataset (`--output_format webdataset` or `parquet`).

img2dataset writes shards `00000.tar` (webdataset: members `KEY.jpg`, `KEY.txt`, `KEY.json`, beside a
`00000.parquet` of the metadata) or `00000.parquet` (parquet: the metadata columns and the image bytes
in a `jpg` column, or `png` / `webp` after its encode_format), and `00000_stats.json` once a shard is
finished. Only finished shards are read (a shard without its stats file is being written, or its job
was killed; it is skipped with a warning), and only their rows with `status` "success" (a failed
download or decode is in the parquet with its error_message and no image). The metadata (the URL list's
columns kept by `--save_additional_columns`, e.g. page_title and page_url) stays in the record's `meta`.
"""

import logging
from collections.abc import Iterator
from pathlib import Path

from cultureclip.config import CorpusConfig
from cultureclip.data.corpora.record import CorpusKind, CorpusRecord, ParquetImage, described, sample_key
from cultureclip.data.corpora.webdataset import shard_records
from cultureclip.errors import DataError

log = logging.getLogger(__name__)
STATS = "_stats.json"
IMAGE_COLUMNS = ("jpg", "png", "webp")
"""img2dataset's encode formats, each the name of its image member or column."""


def read_img2dataset(cfg: CorpusConfig) -> Iterator[CorpusRecord]:
    """The successful rows of the finished shards of `cfg.path`, shard by shard in name order."""
    folder = Path(cfg.path)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder of img2dataset output")
    finished = sorted(p.name.removesuffix(STATS) for p in folder.glob(f"*{STATS}"))
    if not finished:
        raise DataError(f"{folder}: no *{STATS} file: not img2dataset output, or no shard of it finished")
    unfinished = sorted({p.stem for p in [*folder.glob("*.tar"), *folder.glob("*.parquet")]} - set(finished))
    if unfinished:
        log.warning("%s: skipping %d unfinished shards (no %s): %s", folder, len(unfinished), STATS, unfinished[:5])
    for name in finished:
        tar, table = folder / f"{name}.tar", folder / f"{name}.parquet"
        if tar.is_file():
            records = shard_records(tar, list(IMAGE_COLUMNS), ["txt"])
        elif table.is_file():
            records = _parquet_records(table)
        else:
            raise DataError(f"{folder / (name + STATS)}: its shard {name}.tar or {name}.parquet is missing")
        yield from (r for r in records if r.meta.get("status", "success") == "success")


def _parquet_records(path: Path) -> Iterator[CorpusRecord]:
    """The rows of one parquet-format shard, a row group at a time, without their image column (each
    record points at its cell)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(path)
        names = file.schema_arrow.names
        column = next((c for c in IMAGE_COLUMNS if c in names), None)
        if column is None:
            raise DataError(f"{path}: no image column ({', '.join(IMAGE_COLUMNS)})")
        for group in range(file.num_row_groups):
            rows = file.read_row_group(group, columns=[c for c in names if c != column]).to_pylist()
            for i, row in enumerate(rows):
                yield _record(path, row, ParquetImage(str(path), group, i, column))
    except (pa.ArrowException, OSError) as err:
        raise DataError(f"{path}: not a readable Parquet file ({str(err).strip()[:160]})") from None


def _record(path: Path, row: dict, image: ParquetImage) -> CorpusRecord:
    if not isinstance(row.get("key"), str) or not row["key"]:
        raise DataError(f"{path}: row {image.row} of row group {image.row_group}: field 'key' is missing")
    return described(sample_key(row["key"]), image, str(row.get("caption") or "").strip(), row)


IMG2DATASET = CorpusKind(read_img2dataset)
