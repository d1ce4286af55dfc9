"""`catalog.language`: captions and the CLIP filter's texts name each concept in a chosen language; the
default (en) builds what it built before the setting existed, byte for byte."""

import hashlib
import json

import pyarrow.parquet as pq
import pytest

from cultureclip.builder.recipes.catalog import concept_text
from cultureclip.builder.stages.captions import CaptionStage, caption_rows
from cultureclip.catalog import load_catalog
from cultureclip.config import CaptionConfig, ClipFilterConfig, load_config
from cultureclip.errors import ConfigError
from helpers.builds import build, config

ENGLISH_DIGEST = "d784ca3fb1ac93a0"
"""sha256 of the tiny build's (key, name, caption, generic_caption) rows, as built before `catalog.language`."""


def _rows(out) -> list[dict]:
    return pq.read_table(out / "manifest.parquet", columns=["key", "name", "caption", "generic_caption"]).to_pylist()


def test_the_default_english_build_is_the_one_before_the_setting(tmp_path):
    rows = _rows(build(config(), tmp_path / "data"))
    digest = hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()[:16]
    assert len(rows) == 32
    assert digest == ENGLISH_DIGEST, "the English captions changed: update ENGLISH_DIGEST only for a deliberate edit"


def test_a_native_build_captions_each_concept_in_its_own_language_and_keeps_english_labels(tmp_path):
    rows = _rows(build(config("catalog.language=native"), tmp_path / "data"))
    first = {r["name"]: r["caption"] for r in reversed(rows)}  # each concept's first caption
    assert first["jiaozi"] == (
        "饺子, a dumpling from China, with thicker pale wrapper, boiled rather than fried, pleated crescent with no "
        "browned side."
    )
    assert first["gyoza"].startswith("餃子, a dumpling from Japan") and first["naan"].startswith("नान, a flatbread")
    assert first["pelmeni"].startswith("пельмени, a dumpling from Russia")
    assert {r["name"] for r in rows} == {"jiaozi", "gyoza", "mandu", "pelmeni", "naan", "lavash", "tortilla", "injera"}


def test_caption_rows_and_filter_texts_take_a_language_code_with_the_english_name_as_fallback(mini_catalog):
    catalog = load_catalog(mini_catalog).first_groups(1)  # jiaozi {zh: 饺子}, gyoza {ja: 餃子}
    rows = caption_rows(catalog, CaptionConfig(styles=["short"]), 1, "zh")
    assert [r["name"] for r in rows] == ["饺子", "gyoza"]
    stage = CaptionStage(CaptionConfig(styles=["short"]), "template", "config:world-clip")
    stage.setup()
    assert [o["caption"] for o in stage.run(rows, retries=0)] == [
        "饺子, a dumpling from China, with thicker wrapper and pinched pleats along the whole top, boiled pale.",
        "gyoza, a dumpling from Japan, with thinner wrapper and a crisp pan-fried golden base.",
    ]
    jiaozi, gyoza = catalog.concepts
    cfg = ClipFilterConfig()
    assert concept_text(gyoza, cfg, "native") == "a photo of 餃子, a dumpling from Japan."
    assert concept_text(gyoza, cfg, "en") == "a photo of gyoza, a dumpling from Japan."
    assert concept_text(jiaozi, cfg, "ko") == "a photo of jiaozi, a dumpling from China."


@pytest.mark.parametrize("language", ["xx", "ZH", "chinese"])
def test_the_language_is_en_native_or_an_iso_639_1_code(language):
    with pytest.raises(ConfigError, match=f"catalog.language: '{language}' is neither en, native nor an ISO 639-1"):
        load_config("tiny", [f"catalog.language={language}"])
    assert load_config("tiny", ["catalog.language=ja"]).catalog.language == "ja"
