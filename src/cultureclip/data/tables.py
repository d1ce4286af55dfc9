"""Row tables as Parquet: rows that lack a field (a failed row lacks its stage's outputs) hold null there."""

from collections.abc import Sequence
from pathlib import Path

from cultureclip.errors import DataError


def write_table(rows: list[dict], path: Path, metadata: dict[bytes, str] | None = None) -> None:
    """Write `rows` to the Parquet file `path`, with the union of their fields as columns (first-seen order)
    and `metadata` in the file's schema."""
    import pyarrow.parquet as pq

    table = rows_table(rows)
    pq.write_table(table.replace_schema_metadata(metadata) if metadata else table, path)


def rows_table(rows: list[dict]):
    """`rows` as a pyarrow Table whose columns are the union of their fields (first-seen order; a row
    without a field holds null there: Arrow alone would take the first row's fields only)."""
    import pyarrow as pa

    columns = list(dict.fromkeys(k for row in rows for k in row))
    return pa.Table.from_pylist([{k: row.get(k) for k in columns} for row in rows])


def read_table(path: Path, columns: Sequence[str] | None = None):
    """The Parquet file `path` as a pyarrow Table (only those of `columns` it has, where given); a damaged
    file is one DataError naming it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(path)
        return file.read(columns=None if columns is None else [c for c in columns if c in file.schema_arrow.names])
    except (pa.ArrowException, OSError) as err:
        first = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
        raise DataError(f"{path}: not a readable Parquet file ({first})") from None
