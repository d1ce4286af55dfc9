"""Read a benchmark release as the Hugging Face hub stores it: Parquet files in the benchmark's own columns.

A local copy is what `huggingface-cli download ORG/NAME --repo-type dataset --local-dir DIR` writes
(`DIR/data/test-00000-of-0000N-*.parquet`) or the hub's Parquet conversion (`DIR/default/test/0000.parquet`).
Files are read in sorted path order, as `datasets.load_dataset` does, so row numbers match the hub's.
Image columns hold the `datasets.Image` encoding, a struct {bytes, path}; lists of images are lists of it.
"""

from collections.abc import Iterator
from pathlib import Path

from cultureclip.errors import DataError

BATCH_ROWS = 64


def split_files(root: Path, split: str = "test") -> list[Path]:
    """The release's Parquet files of `split` under `root`, in load order."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such benchmark folder")
    files = sorted(p for p in root.rglob("*.parquet") if p.name.startswith(f"{split}-") or p.parent.name == split)
    if not files:
        raise DataError(f"{root}: no {split!r} Parquet files (expected data/{split}-*.parquet of the release)")
    return files


def read_columns(files: list[Path], columns: tuple[str, ...], counted: tuple[str, ...] = ()) -> list[dict]:
    """All rows with the given columns as Python values; each `counted` list column as its length only."""
    import pyarrow.compute as pc

    rows: list[dict] = []
    for file in files:
        parquet = _open(file)
        _require(file, parquet, columns + counted)
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=list(columns + counted)):
            values = {c: batch.column(c).to_pylist() for c in columns}
            values |= {c: pc.fill_null(pc.list_value_length(batch.column(c)), 0).to_pylist() for c in counted}
            rows += [{c: values[c][i] for c in values} for i in range(batch.num_rows)]
    return rows


def iter_cells(files: list[Path], column: str, wanted: set[int]) -> Iterator[tuple[int, list, Path, str]]:
    """(row, cells, folder, where) for the `wanted` rows of an image column, undecoded: a plain column
    gives one cell, a list column all of its cells; `where` names the file, row and column."""
    start = 0
    for file in files:
        parquet = _open(file)
        _require(file, parquet, (column,))
        first = start
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=[column]):
            for i, cell in enumerate(batch.column(column).to_pylist()):
                if start + i in wanted:
                    where = f"{file}: row {start + i - first}: column {column!r}"
                    yield start + i, cell if isinstance(cell, list) else [cell], file.parent, where
            start += batch.num_rows


def _open(file: Path):
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(file)
    except Exception:  # pyarrow raises several types for a file that is not Parquet
        raise DataError(f"{file}: not a readable Parquet file") from None


def _require(file: Path, parquet, columns: tuple[str, ...]) -> None:
    names = parquet.schema_arrow.names
    missing = [c for c in columns if c not in names]
    if missing:
        raise DataError(f"{file}: no column {missing[0]!r} (has {', '.join(names)})")
