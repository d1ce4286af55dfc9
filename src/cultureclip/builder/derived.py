"""A dataset derived from a finished one: the same images (each copied byte for byte from its shard, in its
stored format), rows the deriving command changed (captions, scores), new shards, manifest and card,
published atomically with the command's settings record and its completion marker. `recaption` and
`caption_variant` write their outputs through `publish_derived`."""

from pathlib import Path

from cultureclip.builder.blobs import ShardImageBlob
from cultureclip.builder.card import write_card
from cultureclip.data.shards import LOCATION, Sample, write_manifest, write_split
from cultureclip.io import atomic_path, mark_done


def publish_derived(
    out: Path,
    data: Path,
    rows: list[dict],
    shard_size: int,
    record: tuple[str, str],
    card: tuple[dict, dict],
    maker: str,
) -> None:
    """The dataset `out`: DATA's images in new shards with `rows` (the kept ones, with a shard, written per
    split in row order; the others only in the manifest), the card, and `record` (file name, text)."""
    with atomic_path(out) as tmp:
        tmp.mkdir(parents=True)
        manifest = []
        for split in dict.fromkeys(r["split"] for r in rows if r.get("shard")):
            samples = (_sample(data, r) for r in rows if r.get("shard") and r["split"] == split)
            manifest += write_split(tmp, split, samples, shard_size, images=None)
        write_manifest(tmp, manifest + [r for r in rows if not r.get("shard")])
        write_card(tmp, *card)
        (tmp / record[0]).write_text(record[1])
        mark_done(tmp, maker)


def _sample(data: Path, row: dict) -> Sample:
    image = ShardImageBlob(str((data / row["shard"]).resolve()), row["offset"], row["length"]).read()
    return Sample({k: v for k, v in row.items() if k not in LOCATION}, image)
