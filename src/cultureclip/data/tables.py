"""Row tables as Parquet: rows that lack a field (a failed row lacks its stage's outputs) hold null there."""

from pathlib import Path


def write_table(rows: list[dict], path: Path) -> None:
    """Write `rows` to the Parquet file `path`, with the union of their fields as columns (first-seen order)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = list(dict.fromkeys(k for row in rows for k in row))
    pq.write_table(pa.Table.from_pylist([{k: row.get(k) for k in columns} for row in rows]), path)
