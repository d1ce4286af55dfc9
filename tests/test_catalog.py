from collections import Counter

import pytest

from cultureclip.catalog import load_catalog
from cultureclip.errors import CatalogError


def test_shipped_catalogue_meets_the_foundation_bar():
    catalog = load_catalog()
    concepts = catalog.concepts
    assert len(concepts) >= 60
    assert len({c.category for c in concepts}) >= 6
    assert len({c.culture for c in concepts}) >= 20
    assert len(catalog.groups) >= 20
    for ids in catalog.groups.values():
        members = [catalog.by_id[i] for i in ids]
        assert len({m.culture for m in members}) == len(members)
        assert len({m.generic for m in members}) == 1
        assert len({m.attributes.shape for m in members}) == 1, "twins share a silhouette"
        assert len({m.attributes for m in members}) == len(members), "twins differ in what sets them apart"


def test_twins_of_and_first_groups(mini_catalog):
    catalog = load_catalog(mini_catalog)
    assert catalog.twins_of("gyoza") == ("jiaozi",)
    assert list(catalog.groups) == ["dumpling", "gate", "fiddle"]
    small = catalog.first_groups(2)
    assert [c.id for c in small.concepts] == ["jiaozi", "gyoza", "torii", "paifang"]


def _write(tmp_path, text):
    path = tmp_path / "cat.yaml"
    path.write_text(text)
    return path


def test_bad_rows_are_named_by_file_row_and_field(tmp_path, mini_catalog):
    text = mini_catalog.read_text()
    text = text.replace("category: building", "category: temple", 1).replace("shape: fiddle", "shape: violin", 1)
    path = _write(tmp_path, text)
    with pytest.raises(CatalogError) as err:
        load_catalog(path)
    lines = str(err.value).splitlines()
    assert f"{path}: row 3 (torii): category: Input should be" in lines[0]
    assert any(
        f"{path}: row 5 (erhu): attributes.shape: Value error, shape 'violin' is not one of" in ln for ln in lines
    )


def test_broken_twin_groups_are_reported(tmp_path, mini_catalog):
    text = mini_catalog.read_text().replace("culture: Korea", "culture: China")
    text = text.replace("id: paifang", "id: torii").replace(
        "twin_group: dumpling\n  attributes: {shape: crescent, body: cream",
        "twin_group: lonely\n  attributes: {shape: crescent, body: cream",
    )
    with pytest.raises(CatalogError) as err:
        load_catalog(_write(tmp_path, text))
    problems = Counter(line.split(": ", 2)[-1] for line in str(err.value).splitlines())
    assert problems == Counter(
        {
            "duplicate id": 1,
            "needs at least 2 concepts, has 1": 2,
            "twins must come from different cultures": 1,
        }
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- [1, 2]\n", "row 1: expected a mapping"),
        ("{}\n", "expected a non-empty list of concepts"),
        ("- id: [\n", "not valid YAML"),
    ],
)
def test_malformed_files(tmp_path, text, message):
    with pytest.raises(CatalogError, match=message):
        load_catalog(_write(tmp_path, text))


def test_missing_file(tmp_path):
    with pytest.raises(CatalogError, match=r"nope\.yaml: cannot read"):
        load_catalog(tmp_path / "nope.yaml")
