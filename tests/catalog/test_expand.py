"""Catalogue expansion with a fake text generator, and the `catalog check|expand|stats` commands."""

import json

import pytest
import yaml

from conftest import MINI_CATALOG_STATS
from cultureclip.catalog import load_catalog
from cultureclip.catalog.expand import parse_reply
from cultureclip.catalog.jobs import expand_catalog
from cultureclip.cli import main
from cultureclip.config import load_config
from cultureclip.errors import ConfigError

NEW = {
    "id": "hotteok",
    "name": "hotteok",
    "culture": "Korea",
    "country": "KR",
    "category": "dish",
    "generic": "pancake",
    "visual": "A round flat golden pancake, crisp outside, oozing a filling of brown sugar, nuts and cinnamon.",
    "distinguishing": "pan-pressed flat and golden, with dark molten sugar at the edges",
    "context": "Korean winter street snack, fried on griddles at market stalls.",
    "attributes": {"shape": "disc", "body": "gold", "accent": "brown", "pattern": "plain", "detail": "none"},
}


class FakeWriter:
    """A text generator that answers every prompt with the same YAML reply."""

    def __init__(self, rows):
        self.reply = "Here you are:\n```yaml\n" + yaml.safe_dump(rows, sort_keys=False) + "```\n"
        self.prompts = []

    def generate(self, prompts):
        self.prompts += prompts
        return [self.reply for _ in prompts]


@pytest.fixture
def cfg(tmp_path, mini_catalog):
    return load_config(None, [f"catalog.path={mini_catalog}", f"expand.out={tmp_path / 'new.yaml'}", "expand.n=3"])


def test_expand_keeps_valid_new_rows_and_never_overwrites_curated_ones(cfg, mini_catalog):
    curated_before = mini_catalog.read_text()
    jiaozi = dict(load_catalog(mini_catalog).by_id["jiaozi"].model_dump(mode="json"), culture="Korea")
    bad_shape = dict(NEW, id="bindae-tteok", attributes={**NEW["attributes"], "shape": "star"})
    other_culture = dict(NEW, id="pierogi", culture="Poland")
    writer = FakeWriter([NEW, jiaozi, bad_shape, other_culture])
    out, added, rejected = expand_catalog(cfg, "dish", "Korea", generator=writer)
    assert [r["id"] for r in added] == ["hotteok"]
    assert yaml.safe_load(out.read_text()) == [NEW]
    assert rejected[0] == "generated: row 4 (pierogi): culture: 'Poland'; asked for 'Korea'"
    assert rejected[1] == f"generated: row 2 (jiaozi): id: duplicate of {mini_catalog}: row 1; ids must be unique"
    assert rejected[2] == (
        "generated: row 2 (jiaozi): attributes: same as row 1 in twin_group 'dumpling'; twins must look different "
        "(an accent colour shows only with a pattern or a detail)"
    )
    assert rejected[3].startswith("generated: row 3 (bindae-tteok): attributes.shape: Value error, shape 'star' is not")
    assert len(rejected) == 4
    assert mini_catalog.read_text() == curated_before
    prompt = writer.prompts[0]
    assert 'List 3 real, well-documented cultural concepts of the category "dish" from Korea' in prompt
    assert "Do not repeat any of these: mandu." not in prompt and "Do not repeat any of these: (none yet)" in prompt

    again = FakeWriter([NEW, dict(NEW, id="hotteok-2", name="second")])
    _, added, rejected = expand_catalog(cfg, "dish", "Korea", generator=again)
    assert [r["id"] for r in added] == ["hotteok-2"]
    assert rejected == [f"generated: row 1 (hotteok): id: duplicate of {out}: row 1; ids must be unique"]
    assert [r["id"] for r in yaml.safe_load(out.read_text())] == ["hotteok", "hotteok-2"]


def test_expand_needs_a_generator_and_a_known_category(cfg):
    with pytest.raises(ConfigError, match="expand.generator: name a text generator"):
        expand_catalog(cfg, "dish", "Korea")
    with pytest.raises(ConfigError, match="category 'soup': expected one of dish, bread"):
        expand_catalog(cfg, "soup", "Korea", generator=FakeWriter([NEW]))


def test_a_reply_without_a_yaml_list_adds_nothing(cfg):
    out, added, rejected = expand_catalog(cfg, "dish", "Korea", generator=FakeWriter("no idea"))
    assert added == [] and not out.exists()
    assert rejected[0].startswith("generated: the reply holds no YAML list of concepts")
    assert parse_reply("- id: a\n- id: b\n") == [{"id": "a"}, {"id": "b"}]
    assert parse_reply("```\n: [\n```") == []


def test_cli_check_prints_one_line_per_problem_and_fails(tmp_path, mini_catalog, capsys):
    rows = yaml.safe_load(mini_catalog.read_text())
    rows[2]["country"] = "ZZ"
    rows[4]["twins"] = ["nobody"]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(rows, allow_unicode=True))
    assert main(["catalog", "check", str(path)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{path}: row 3 (torii): country: 'ZZ' is not an ISO 3166-1 alpha-2 country code",
        f"{path}: row 5 (erhu): twins: 'nobody' is not an id in the catalogue",
    ]
    assert main(["catalog", "check", str(mini_catalog)]) == 0
    assert main(["catalog", "check", str(tmp_path / "none.yaml")]) == 2
    assert "none.yaml: cannot read" in capsys.readouterr().err


def test_cli_expand_without_a_generator_is_a_one_line_error(mini_catalog, capsys):
    argv = ["catalog", "expand", "--category", "dish", "--culture", "Peru", "--catalog", str(mini_catalog)]
    assert main(argv) == 2
    assert "expand.generator: name a text generator" in capsys.readouterr().err
    assert main([*argv, "expand.generator=nope"]) == 2
    assert "unknown chat model 'nope'" in capsys.readouterr().err


def test_cli_stats_json(mini_catalog, capsys):
    assert main(["catalog", "stats", "--catalog", str(mini_catalog), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == MINI_CATALOG_STATS
