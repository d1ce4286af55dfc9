"""The dataset row schema: the one constructor, the checks when a manifest is written, the card's section."""

import pytest
from PIL import Image

from cultureclip.builder.card import write_card
from cultureclip.data.row import FIELDS, REQUIRED, dataset_row
from cultureclip.data.shards import Sample, write_manifest, write_split
from cultureclip.errors import DataError

GYOZA = {
    "key": "gyoza-train-0000",
    "split": "train",
    "concept_id": "gyoza",
    "name": "gyoza",
    "culture": "Japan",
    "category": "food",
    "generic": "dumpling",
    "twin_group": "dumplings",
    "twin_ids": ["jiaozi"],
    "caption": "gyoza, pan-fried.",
}


def test_the_constructor_gives_required_fields_first_and_a_generic_caption():
    row = dataset_row(**GYOZA, seed=3, source="rendered")
    assert list(row) == [*REQUIRED, "seed", "source"]
    assert row["generic_caption"] == "a photo of dumpling."
    assert dataset_row(**GYOZA | {"generic": ""})["generic_caption"] == "a photo of a thing."


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"caption": None}, "row 'gyoza-train-0000' has no 'caption' field (the caption trained on)"),
        ({"twin_ids": "jiaozi"}, "row 'gyoza-train-0000': field 'twin_ids' is 'jiaozi', not a list of strings"),
        ({"culture": 3}, "row 'gyoza-train-0000': field 'culture' is 3, not a string"),
    ],
)
def test_a_bad_row_is_one_line_naming_the_field(edit, message):
    with pytest.raises(DataError) as err:
        dataset_row(**GYOZA | edit)
    assert str(err.value) == f"dataset row: {message}"


def _write(folder, row, complete):
    manifest = write_split(folder, "train", [Sample(row, Image.new("RGB", (8, 8)))], shard_size=4)
    write_manifest(folder, manifest, complete=complete)


def test_a_builders_manifest_needs_every_required_field_of_a_kept_row(tmp_path):
    row = dict(GYOZA)  # no generic_caption
    with pytest.raises(DataError, match=r"row 'gyoza-train-0000' has no 'generic_caption' field"):
        _write(tmp_path, row, complete=True)
    _write(tmp_path, row, complete=False)  # a hand-made dataset: the types only
    with pytest.raises(DataError, match=r"field 'seed' is '7', not an integer"):
        _write(tmp_path, row | {"seed": "7"}, complete=False)
    dropped = {"key": "x", "split": "train", "status": "failed", "reason": "render: out of memory"}
    write_manifest(tmp_path, [dropped], complete=True)  # a dropped row gives its status and reason only


def test_the_card_documents_the_schema(tmp_path):
    write_card(tmp_path, {})
    card = (tmp_path / "card.md").read_text()
    for name, field in FIELDS.items():
        assert f"| {name} | {'required' if field.required else 'optional'} | {field.meaning} |" in card
