import csv
import json
from collections import Counter

import pytest
import yaml

from conftest import MINI_CATALOG_STATS
from cultureclip.catalog import ConceptSketch, load_catalog
from cultureclip.catalog.load import shipped_rows
from cultureclip.catalog.schema import CATEGORIES
from cultureclip.catalog.select import WORLD_GROUPS, dataset_catalog
from cultureclip.catalog.stats import catalog_stats
from cultureclip.config import CatalogConfig, CatalogRecipeConfig
from cultureclip.errors import CatalogError


@pytest.fixture(scope="module")
def shipped():
    return load_catalog()


def test_shipped_catalogue_passes_its_checks_and_keeps_the_twin_rules(shipped):
    stats = catalog_stats(shipped)
    assert stats["concepts"] >= 500 and stats["categories"] == len(CATEGORIES) == 11
    assert stats["curated_twin_groups"] >= 150 and stats["twin_groups"] > stats["curated_twin_groups"]
    assert stats["native_names"] >= 290 and stats["name_languages"] >= 50
    assert len({c.culture for c in shipped.concepts if c.country}) >= 50, "cultures with an ISO 3166 code"
    for ids in shipped.groups.values():
        members = [shipped.by_id[i] for i in ids]
        assert len({m.culture for m in members}) == len(members)
        assert len({m.generic for m in members}) == 1
        assert len({m.attributes.shape for m in members}) == 1, "twins share a silhouette"
        assert len({m.attributes for m in members}) == len(members), "twins differ in what sets them apart"
    for row in shipped_rows():
        assert row.source.endswith(f"{row.data['category']}.yaml"), "one data file per category"


def test_the_default_world_is_the_original_27_groups_in_their_order(shipped):
    world = dataset_catalog(CatalogConfig(), CatalogRecipeConfig())
    assert len(world.groups) == 27 and tuple(world.groups) == WORLD_GROUPS
    assert len(world.concepts) == 84
    assert [c.id for c in world.concepts[:6]] == ["jiaozi", "gyoza", "mandu", "pelmeni", "naan", "lavash"]
    tiny = dataset_catalog(CatalogConfig(), CatalogRecipeConfig(max_groups=4))
    assert list(tiny.groups) == ["dumpling", "flatbread", "noodle-soup", "triangle-pastry"]
    assert len(dataset_catalog(CatalogConfig(), CatalogRecipeConfig(groups="all")).groups) == len(shipped.groups)
    with pytest.raises(CatalogError, match="no twin group 'nope' \\(build.catalog.groups\\)"):
        dataset_catalog(CatalogConfig(), CatalogRecipeConfig(groups=["dumpling", "nope"]))


def test_a_user_file_replaces_or_extends_the_shipped_catalogue(mini_catalog, shipped):
    alone = dataset_catalog(CatalogConfig(path=mini_catalog), CatalogRecipeConfig())
    assert list(alone.groups) == ["dumpling", "gate", "fiddle"], "a replacing file builds from all its groups"
    with pytest.raises(CatalogError) as err:
        load_catalog(mini_catalog, mode="extend")
    assert f"{mini_catalog}: row 1 (jiaozi): id: duplicate of " in str(err.value)


def test_twins_of_and_first_groups(mini_catalog):
    catalog = load_catalog(mini_catalog)
    assert catalog.twins_of("gyoza") == ("jiaozi",)
    assert list(catalog.groups) == ["dumpling", "gate", "fiddle"]
    small = catalog.first_groups(2)
    assert [c.id for c in small.concepts] == ["jiaozi", "gyoza", "torii", "paifang"]


def _rows(mini_catalog) -> list[dict]:
    return yaml.safe_load(mini_catalog.read_text())


def _write_yaml(tmp_path, rows):
    path = tmp_path / "cat.yaml"
    path.write_text(yaml.safe_dump(rows, sort_keys=False, allow_unicode=True))
    return path


def _problems(path, **kwargs) -> list[str]:
    with pytest.raises(CatalogError) as err:
        load_catalog(path, **kwargs)
    return str(err.value).splitlines()


def test_each_broken_row_is_one_line_naming_file_row_field_and_expectation(tmp_path, mini_catalog):
    rows = _rows(mini_catalog)
    del rows[0]["visual"]  # missing field
    rows[1]["category"] = "temple"  # unknown category
    rows[2]["country"] = "XX"  # not an ISO 3166 code
    rows[3]["context"] = "word " * 80  # too long for a caption
    rows[4]["attributes"]["shape"] = "violin"  # not a renderable shape
    rows[5]["twins"] = ["jiaozi", "ghost"]  # a link to a missing id
    rows[1]["colour"] = "red"  # not a field
    path = _write_yaml(tmp_path, rows)
    assert _problems(path) == [
        f"{path}: row 1 (jiaozi): visual: Field required",
        f"{path}: row 2 (gyoza): category: Value error, category 'temple' is not one of "
        + ", ".join(CATEGORIES)
        + " (declare your own in catalog.categories)",
        f"{path}: row 2 (gyoza): colour: unknown field",
        f"{path}: row 3 (torii): country: 'XX' is not an ISO 3166-1 alpha-2 country code",
        f"{path}: row 4 (paifang): context: 82 CLIP tokens; at most 77 fit in a caption",
        f"{path}: row 5 (erhu): attributes.shape: Value error, shape 'violin' is not one of crescent, disc, bowl, "
        "triangle, robe, tunic, cone, hat, tower, dome, gate, yurt, lute, fiddle, zither, drum, flute, vase, rug, "
        "lantern, lamp, mask, shoe, boat, fan, kite",
        f"{path}: row 6 (haegeum): twins: 'ghost' is not an id in the catalogue",
    ]


def test_catalogue_level_problems(tmp_path, mini_catalog):
    rows = _rows(mini_catalog)
    rows[1]["culture"] = "China"  # a second Chinese dumpling
    rows[3]["id"] = "torii"  # a duplicate id
    rows[3]["twin_group"] = "lonely"  # the gate group now has one member, lonely too
    rows[5]["attributes"] = dict(rows[4]["attributes"])  # twins that render the same
    rows[0]["twins"] = ["erhu", "nobody"]
    path = _write_yaml(tmp_path, rows)
    assert _problems(path) == [
        f"{path}: row 4 (torii): id: duplicate of {path}: row 3; ids must be unique",
        f"{path}: row 1 (jiaozi): twins: 'nobody' is not an id in the catalogue",
        f"{path}: row 2 (gyoza): culture: same as row 1 in twin_group 'dumpling'; twins must come from different "
        "cultures",
        f"{path}: row 3 (torii): twin_group: 'gate' needs at least 2 concepts, has 1",
        f"{path}: row 4 (torii): twin_group: 'lonely' needs at least 2 concepts, has 1",
        f"{path}: row 6 (haegeum): attributes: same as row 5 in twin_group 'fiddle'; twins must look different (an "
        "accent colour shows only with a pattern or a detail)",
    ]


def test_twins_differing_only_in_an_undrawn_accent_are_reported(tmp_path, mini_catalog):
    rows = _rows(mini_catalog)
    rows[5]["attributes"] = dict(rows[4]["attributes"], pattern="plain", accent="red")
    rows[4]["attributes"] = dict(rows[4]["attributes"], pattern="plain", accent="gold")  # detail: none
    path = _write_yaml(tmp_path, rows)
    assert _problems(path) == [
        f"{path}: row 6 (haegeum): attributes: same as row 5 in twin_group 'fiddle'; twins must look different (an "
        "accent colour shows only with a pattern or a detail)"
    ]
    rows[5]["attributes"]["detail"] = "ring"
    assert load_catalog(_write_yaml(tmp_path, rows)).by_id["haegeum"].attributes.accent == "red"


def test_twins_of_a_group_must_share_a_silhouette(tmp_path, mini_catalog):
    rows = _rows(mini_catalog)
    rows[1]["attributes"]["shape"] = "disc"
    path = _write_yaml(tmp_path, rows)
    assert _problems(path) == [
        f"{path}: attributes.shape: twin_group 'dumpling' mixes ['crescent', 'disc']; twins share one".replace(
            f"{path}: ", f"{path}: row 1 (jiaozi): ", 1
        )
    ]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("cat.yaml", "- [1, 2]\n", "cat.yaml: row 1: expected a mapping of field names to values"),
        ("cat.yaml", "{}\n", "cat.yaml: expected a non-empty list of concepts"),
        ("cat.yaml", "- id: [\n", "cat.yaml: line 2 not valid YAML"),
        ("cat.jsonl", '{"id": "a"}\n{"id": \n', "cat.jsonl: line 2 not valid JSON"),
        ("cat.csv", "", "cat.csv: expected a non-empty list of concepts"),
        ("cat.txt", "x", "cat.txt: unknown catalogue format; expected one of .yaml, .yml, .jsonl, .csv"),
    ],
)
def test_malformed_files(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(CatalogError) as err:
        load_catalog(path)
    assert str(err.value).startswith(f"{tmp_path}/{message}")


def test_missing_file(tmp_path):
    with pytest.raises(CatalogError, match=r"nope\.yaml: cannot read"):
        load_catalog(tmp_path / "nope.yaml")


def test_the_three_formats_load_the_same_catalogue(tmp_path, mini_catalog):
    rows = _rows(mini_catalog)
    rows[0]["sources"] = ["https://en.wikipedia.org/wiki/Jiaozi"]
    rows[0]["twins"] = ["haegeum"]
    (tmp_path / "c.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows) + "\n")
    languages = dict.fromkeys(k for r in rows for k in r.get("names", {}))
    fields = ["id", "name", *(f"names.{k}" for k in languages), "culture", "country", "category", "generic", "visual"]
    fields += ["distinguishing", "context", "twin_group", "twins", "sources"]
    fields += [f"attributes.{a}" for a in ("shape", "body", "accent", "pattern", "detail")]
    with open(tmp_path / "c.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(fields)
        for r in rows:
            flat = {**r, **{f"attributes.{k}": v for k, v in r["attributes"].items()}}
            flat |= {f"names.{k}": v for k, v in r.get("names", {}).items()}
            writer.writerow([";".join(flat[k]) if isinstance(flat.get(k), list) else flat.get(k, "") for k in fields])
    from_yaml = load_catalog(_write_yaml(tmp_path, rows)).concepts
    assert load_catalog(tmp_path / "c.jsonl").concepts == from_yaml
    assert load_catalog(tmp_path / "c.csv").concepts == from_yaml
    assert from_yaml[0].twins == ("haegeum",) and from_yaml[0].sources == ("https://en.wikipedia.org/wiki/Jiaozi",)
    assert load_catalog(tmp_path / "c.csv").twins_of("haegeum") == ("erhu", "jiaozi")


def test_a_sketch_needs_only_id_name_culture_category_visual(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("id,name,culture,category,visual\na,A,Peru,dish,a round bread\nb,B,Chile,dish,a flat bread\n")
    assert [c.id for c in load_catalog(path, schema=ConceptSketch).concepts] == ["a", "b"]
    problems = _problems(path)
    assert problems[0] == f"{path}: row 1 (a): generic: Field required"
    assert len(problems) == 2 * 4  # generic, distinguishing, context and attributes, for each row


def test_stats_of_a_small_file(tmp_path, mini_catalog):
    stats = catalog_stats(load_catalog(mini_catalog))
    assert stats == MINI_CATALOG_STATS
    mined = load_catalog(mini_catalog).twin_groups_file
    assert mined == mini_catalog.with_suffix(".twin_groups.jsonl")


def test_stats_count_mined_groups_written_next_to_the_catalogue(tmp_path, mini_catalog):
    path = tmp_path / "mini.yaml"
    path.write_text(mini_catalog.read_text())
    groups = [
        {"group": "dumpling", "curated": True, "members": ["jiaozi", "gyoza"], "links": []},
        {"group": "mined-0001", "curated": False, "members": ["torii", "erhu"], "links": []},
        {"group": "mined-0002", "curated": False, "members": ["torii", "gone"], "links": []},
    ]
    (tmp_path / "mini.twin_groups.jsonl").write_text("".join(json.dumps(g) + "\n" for g in groups))
    stats = catalog_stats(load_catalog(path))
    assert (stats["twin_groups"], stats["curated_twin_groups"]) == (4, 3), "a group of a gone concept is stale"
    assert Counter(c.category for c in load_catalog(path).concepts) == {"dish": 2, "building": 2, "instrument": 2}
