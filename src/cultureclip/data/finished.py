"""Reading a finished dataset folder (built, imported or derived): its manifest rows, and the tables written
beside it later, keyed by sample key (caption scores: `scores.parquet`), joined back to the rows by key.

A table beside a dataset never rewrites its manifest, so what was trained on the dataset (whose record holds
the manifest's hash) stays valid when the dataset is scored.
"""

from pathlib import Path

from cultureclip.data.shards import check_unique_keys, read_manifest
from cultureclip.data.tables import read_table
from cultureclip.errors import DataError
from cultureclip.io import is_done

SCORES_TABLE = "scores.parquet"
"""The caption scores of a dataset's kept rows (`cultureclip score-captions`), one row per sample `key`."""


def read_rows(folder: Path) -> list[dict]:
    """Every manifest row of a finished dataset folder (a DataError when it has no completion marker)."""
    if not is_done(folder):
        raise DataError(f"{folder}: not a finished dataset folder (no completion marker)")
    rows = read_manifest(folder)
    check_unique_keys(folder, rows)  # a manifest written before keys were checked
    return rows


def read_scores(folder: Path) -> dict[str, dict]:
    """The scores table beside the dataset in `folder`, by sample key ({} when it was not scored)."""
    path = Path(folder) / SCORES_TABLE
    if not path.is_file():
        return {}
    return {row.pop("key"): row for row in read_table(path).to_pylist()}


def scored_rows(folder: Path) -> list[dict]:
    """The manifest rows of `folder`, each with its scores from the table beside it (where it has some)."""
    scores = read_scores(folder)
    return [row | scores.get(row.get("key"), {}) for row in read_manifest(folder)]
