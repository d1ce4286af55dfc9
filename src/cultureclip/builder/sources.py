"""What recipes read besides the catalogue: a finished dataset's rows as stage rows (its images read from
their shards), for the recipes that score or rewrite a dataset (caption scores, recaption)."""

from pathlib import Path

from cultureclip.builder.blobs import ShardImageBlob


def stage_row(folder: Path, row: dict) -> dict:
    """What the score stages read of a kept row: its image (read from its shard when needed), caption, and
    the concept's facts (`details`: the catalogue's `distinguishing`, else the twin prompt's `features`)."""
    return {
        "key": row["key"],
        "png": ShardImageBlob(str((folder / row["shard"]).resolve()), row["offset"], row["length"]),
        "caption": row["caption"],
        "name": row["name"],
        "culture": row.get("culture") or "culture not given",
        "category": row.get("category") or "category not given",
        "details": row.get("distinguishing") or row.get("features") or "",
        "context": row.get("context") or "",
    }
