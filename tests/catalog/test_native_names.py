"""Concepts' names in their own languages: the schema, the script check, the shipped names."""

import pytest
import yaml

from cultureclip.catalog import load_catalog
from cultureclip.catalog.scripts import SCRIPTS, iso_639_1, script_problem
from cultureclip.cli import main
from cultureclip.errors import CatalogError


@pytest.mark.parametrize(
    "language, name",
    [
        ("zh", "饺子"),
        ("ja", "餃子"),
        ("ja", "ラーメン"),  # ー is common to Hiragana and Katakana
        ("ja", "お好み焼き"),
        ("ko", "만두"),
        ("ru", "пельмени"),
        ("fa", "چهارشنبه‌سوری"),  # with a zero-width non-joiner
        ("hi", "मसाला चाय"),
        ("gd", "a' phìob mhòr"),
        ("uz", "doʻppi"),
        ("iu", "ᑲᒥᒃ"),
    ],
)
def test_a_name_in_its_languages_script_passes(language, name):
    assert script_problem(language, name) is None


@pytest.mark.parametrize(
    "language, name, why",
    [
        ("zh", "jiaozi", "'jiaozi' has 'j' (U+006A), not of Han, the script of 'zh'"),
        ("ko", "饺子", "'饺子' has '饺' (U+997A), not of Hangul, the script of 'ko'"),
        ("ru", "pelmeni", "'pelmeni' has 'p' (U+0070), not of Cyrillic, the script of 'ru'"),
        ("ja", "만두", "'만두' has '만' (U+B9CC), not of Han / Hiragana / Katakana, the script of 'ja'"),
        ("el", "...", "'...' has no letter of Greek, the script of 'el'"),
        ("xx", "abc", "no script on record for language 'xx' (cultureclip/catalog/scripts.py)"),
    ],
)
def test_a_name_in_another_script_is_a_problem(language, name, why):
    assert script_problem(language, name) == why


def test_every_language_with_a_script_is_an_iso_639_1_code():
    assert set(SCRIPTS) <= iso_639_1() and {"zh", "ja", "ko", "ru", "ar", "hi", "th", "el", "he"} <= set(SCRIPTS)


def test_each_bad_name_is_one_line_naming_file_concept_and_field(tmp_path, mini_catalog):
    rows = yaml.safe_load(mini_catalog.read_text())
    rows[0]["names"] = {"zh": "jiaozi", "ja": "餃子"}  # a romanised name under zh
    rows[1]["names"] = {"xx": "餃子"}  # not an ISO 639-1 code
    rows[2]["names"] = {"JA": "鳥居"}  # not a code's shape
    rows[3]["names"] = {False: "牌坊"}  # YAML's unquoted no
    path = tmp_path / "cat.yaml"
    path.write_text(yaml.safe_dump(rows, sort_keys=False, allow_unicode=True))
    with pytest.raises(CatalogError) as err:
        load_catalog(path)
    assert str(err.value).splitlines() == [
        f"{path}: row 1 (jiaozi): names.zh: 'jiaozi' has 'j' (U+006A), not of Han, the script of 'zh'",
        f"{path}: row 2 (gyoza): names.xx: 'xx' is not an ISO 639-1 language code",
        f"{path}: row 3 (torii): names.JA.[key]: String should match pattern '^[a-z]{{2}}$'",
        f'{path}: row 4 (paifang): names: Value error, a language code read as a boolean: quote it ("no": ...), '
        "YAML reads no as false",
    ]


def test_catalog_check_prints_the_name_problem_and_fails(tmp_path, mini_catalog, capsys):
    rows = yaml.safe_load(mini_catalog.read_text())
    rows[5]["names"] = {"ko": "haegeum"}
    path = tmp_path / "cat.yaml"
    path.write_text(yaml.safe_dump(rows, sort_keys=False, allow_unicode=True))
    assert main(["catalog", "check", str(path)]) == 1
    line = f"{path}: row 6 (haegeum): names.ko: 'haegeum' has 'h' (U+0068), not of Hangul, the script of 'ko'"
    assert line in capsys.readouterr().out.splitlines()


def test_a_concept_named_in_a_language(mini_catalog):
    catalog = load_catalog(mini_catalog)
    jiaozi, gyoza = catalog.by_id["jiaozi"], catalog.by_id["gyoza"]
    assert [jiaozi.name_in(lang) for lang in ("en", "native", "zh", "ja")] == ["jiaozi", "饺子", "饺子", None]
    assert jiaozi.named("native").name == "饺子" and jiaozi.named("native").id == "jiaozi"
    assert jiaozi.named("ja") is jiaozi, "no Japanese name: the English one stays"
    assert gyoza.named("native").name == "餃子" and gyoza.named("en") is gyoza


def test_the_shipped_catalogue_names_its_concepts_in_their_languages():
    catalog = load_catalog()
    expected = {
        "jiaozi": {"zh": "饺子"},
        "gyoza": {"ja": "餃子"},
        "mandu": {"ko": "만두"},
        "pelmeni": {"ru": "пельмени"},
        "hanbok": {"ko": "한복"},
        "hanfu": {"zh": "汉服"},
        "kimono": {"ja": "着物"},
        "stave-church": {"no": "stavkirke"},
    }
    assert {i: catalog.by_id[i].names for i in expected} == expected
    named = [c for c in catalog.concepts if c.names]
    assert len(named) == 290 and len({next(iter(c.names)) for c in named}) == 52
