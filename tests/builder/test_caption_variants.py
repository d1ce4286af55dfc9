"""The caption variants of the caption-quality experiment: each transform's exact captions on a tiny hand-made
row set, and a variant dataset holding the very images of its source."""

import pytest

from cultureclip.builder.recipes.caption_variant import variant_captions, write_caption_variant
from cultureclip.catalog.select import dataset_catalog
from cultureclip.data.shards import read_manifest, read_split
from cultureclip.errors import ConfigError
from helpers.builds import build, config

CONCEPTS = {
    "gyoza": {
        "name": "gyoza",
        "culture": "Japan",
        "generic": "dumpling",
        "visual": "Pan-fried dumplings.",
        "distinguishing": "a crisp base",
        "context": "Eaten with beer.",
    },
    "jiaozi": {
        "name": "jiaozi",
        "culture": "China",
        "generic": "dumpling",
        "visual": "Boiled dumplings.",
        "distinguishing": "a thick wrapper",
        "context": "Eaten at New Year.",
    },
}


def _row(key: str, concept: str, twin: str, split: str = "train") -> dict:
    return {
        "key": key,
        "split": split,
        "concept_id": concept,
        "twin_ids": [twin],
        "caption": "as built",
        "generic_caption": "a photo of a dumpling.",
        "shard": f"{split}-00000.tar",
    }


ROWS = [
    _row("g0", "gyoza", "jiaozi"),
    _row("g1", "gyoza", "jiaozi"),
    _row("j0", "jiaozi", "gyoza"),
    _row("g2", "gyoza", "jiaozi", "test"),
    {"key": "dropped", "split": "train", "concept_id": "gyoza", "caption": "x", "shard": None},
]


def test_each_variant_writes_exactly_these_captions():
    assert variant_captions(ROWS, "generic", CONCEPTS) == ["a photo of a dumpling."] * 4 + [None]
    assert variant_captions(ROWS, "no_details", CONCEPTS) == [
        "gyoza, a dumpling from Japan.",  # the concept's caption 0 ...
        "A photo of gyoza.",  # ... and 1, without {distinguishing} and {visual}
        "jiaozi, a dumpling from China.",  # each concept counts its own rows
        "gyoza, a dumpling from Japan.",  # and each split
        None,
    ]
    assert variant_captions(ROWS, "template", CONCEPTS) == [
        "gyoza, a dumpling from Japan, with a crisp base.",
        "A photo of gyoza: Pan-fried dumplings.",
        "jiaozi, a dumpling from China, with a thick wrapper.",
        "gyoza, a dumpling from Japan, with a crisp base.",
        None,
    ]


def test_wrong_details_gives_a_share_of_the_rows_a_twins_look_under_their_own_name():
    every = variant_captions(ROWS, "wrong_details", CONCEPTS, share=1.0)
    assert every == [
        "gyoza, a dumpling from Japan, with a thick wrapper.",
        "A photo of gyoza: Boiled dumplings.",
        "jiaozi, a dumpling from China, with a crisp base.",
        "gyoza, a dumpling from Japan, with a thick wrapper.",
        None,
    ]
    assert variant_captions(ROWS, "wrong_details", CONCEPTS, share=0.0) == variant_captions(ROWS, "template", CONCEPTS)
    many = [_row(f"g{k}", "gyoza", "jiaozi") for k in range(400)]
    template = variant_captions(many, "template", CONCEPTS)
    half = variant_captions(many, "wrong_details", CONCEPTS, share=0.5, seed=3)
    assert 160 < sum(a != b for a, b in zip(half, template, strict=True)) < 240
    assert half == variant_captions(many, "wrong_details", CONCEPTS, share=0.5, seed=3)  # the same draw again
    assert half != variant_captions(many, "wrong_details", CONCEPTS, share=0.5, seed=4)


def test_an_unknown_variant_is_refused():
    with pytest.raises(ConfigError, match="not one of generic, no_details"):
        variant_captions(ROWS, "best", CONCEPTS)


def test_a_variant_dataset_holds_the_source_images_with_new_captions(tmp_path):
    cfg = config("build.catalog.captions_per_concept=6", "build.catalog.train_images=7")
    data = build(cfg, tmp_path / "data")
    catalog = dataset_catalog(cfg.catalog, cfg.build.catalog)
    concepts = {c.id: c.model_dump(exclude={"attributes"}) for c in catalog.concepts}
    out = write_caption_variant(data, tmp_path / "generic", "generic", concepts, shard_size=5)
    source, rows = read_manifest(data), read_manifest(out)
    assert [(r["key"], r["sha256"]) for r in rows] == [(r["key"], r["sha256"]) for r in source]
    assert all(r["caption"] == r["generic_caption"] and r["caption_variant"] == "generic" for r in rows)
    assert [r["original_caption"] for r in rows] == [r["caption"] for r in source]
    assert [s.row["caption"] for s in read_split(out, "train")] == [r["caption"] for r in rows if r["split"] == "train"]
    template = read_manifest(write_caption_variant(data, tmp_path / "template", "template", concepts, 1000))
    assert [r["caption"] for r in template] == [r["caption"] for r in source]  # 6 captions a concept: as built
    assert write_caption_variant(data, tmp_path / "generic", "generic", concepts, shard_size=5) == out  # kept
