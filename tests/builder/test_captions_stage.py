import pytest

from cultureclip.backends.clip import create_clip, tokenizer_for
from cultureclip.backends.templates import TemplateCaptionWriter
from cultureclip.builder.stages.caption_rules import caption_problem, clean_caption
from cultureclip.builder.stages.captions import CaptionStage, caption_rows, load_prompts
from cultureclip.catalog import load_catalog
from cultureclip.config import CaptionConfig, ChatModelConfig
from cultureclip.errors import ConfigError
from helpers.chat_server import ChatServer


@pytest.fixture(scope="module")
def tokenizer():
    return tokenizer_for("config:world-clip")  # context length 64


def test_token_count_includes_start_and_end_tokens(tokenizer):
    assert tokenizer.count("gyoza") == len(tokenizer.tokenizer.encode("gyoza")) + 2
    assert tokenizer.count("a b c") == 5
    assert int((create_clip("config:world-clip").tokenizer(["a b c"])[0] != 0).sum()) == 5  # what the encoder sees


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Gyoza, pan-fried with a crisp lattice base.", None),
        ("Áo dài silk tunic over trousers.", None),
        ("", "empty"),
        ("Sure! Here is a caption: gyoza on a plate.", "chat boilerplate"),
        ("Here's gyoza.", "chat boilerplate"),
        ("gyoza on a plate.\nI hope this helps!", "chat boilerplate"),
        ("A dumpling on a plate.", "does not name the concept"),
        ("Gyoza, pan-fried with a crisp", "unfinished sentence"),
        ("A plate of (gyoza.)", None),
        ("gyoza" + " word" * 59 + ".", "too long: 65 tokens > 64"),  # 3 + 59 + 1 tokens + start and end = 65
    ],
)
def test_caption_rules(text, problem, tokenizer):
    name = "áo dài" if text.startswith("Áo") else "gyoza"
    assert caption_problem(text, name, tokenizer) == problem


def test_a_caption_of_exactly_the_context_length_passes(tokenizer):
    text = "gyoza" + " word" * 58 + "."  # 3 + 58 + 1 tokens + start and end = 64
    assert tokenizer.count(text) == 64
    assert caption_problem(text, "gyoza", tokenizer) is None


@pytest.fixture(scope="module")
def hf_clip_with_tokenizer(tmp_path_factory):
    """A saved transformers CLIP whose folder holds a real CLIPTokenizer (what hub models have)."""
    from cultureclip.backends.image.diffusers import clip_bpe_tokenizer

    model = create_clip("config:hf-clip")
    model.tokenizer = clip_bpe_tokenizer()
    folder = tmp_path_factory.mktemp("hf-clip")
    model.save(folder)
    return folder


@pytest.mark.parametrize("target", ["config:world-clip", "config:hf-clip", "hf:FOLDER"])
def test_target_tokenizers_of_open_clip_and_transformers_models_count_the_same(target, hf_clip_with_tokenizer):
    """The three models share CLIP's BPE and a context of 64: same counts, same boundary."""
    tokenizer = tokenizer_for(target.replace("FOLDER", str(hf_clip_with_tokenizer)))
    assert tokenizer.context_length == 64
    assert tokenizer.count("a b c") == 5
    assert caption_problem("gyoza" + " word" * 58 + ".", "gyoza", tokenizer) is None
    assert caption_problem("gyoza" + " word" * 59 + ".", "gyoza", tokenizer) == "too long: 65 tokens > 64"


def test_a_transformers_target_counts_with_its_own_tokenizer(hf_clip_with_tokenizer):
    tokenizer = tokenizer_for(f"hf:{hf_clip_with_tokenizer}")
    hf = tokenizer.tokenizer.tokenizer  # open_clip's HFTokenizer around the folder's transformers tokenizer
    assert type(hf).__name__ in ("CLIPTokenizer", "CLIPTokenizerFast")
    assert tokenizer.count("Áo dài silk.") == len(hf("Áo dài silk.")["input_ids"])


def test_a_towers_target_counts_with_its_text_towers_tokenizer():
    tokenizer = tokenizer_for("towers:lite")  # all-MiniLM-L6-v2's WordPiece: [CLS] a b c [SEP]
    assert tokenizer.context_length == 64 and tokenizer.count("a b c") == 5
    assert tokenizer.count("gyoza") == len(tokenizer.tokenizer.tokenizer("gyoza")["input_ids"])


def test_clean_caption_strips_quotes_only():
    assert clean_caption('  "Gyoza, crisp."\n') == "Gyoza, crisp."
    assert clean_caption("**Gyoza**") == "Gyoza"


def test_prompt_files_are_versioned_and_checked(tmp_path):
    assert load_prompts("captions-v1", ["short", "detailed", "contextual"])["version"] == "captions-v1"
    with pytest.raises(ConfigError, match="no prompt for style 'poetic'"):
        load_prompts("captions-v1", ["poetic"])
    bad = tmp_path / "p.yaml"
    bad.write_text("version: x\nstyles: {}\n")
    with pytest.raises(ConfigError, match="reask: missing"):
        load_prompts(str(bad), [])


def scripted(prompt: str, attempt: int):
    """jiaozi: good; gyoza: chat first, good when re-asked; torii: always too long; paifang: server down."""
    if 'with "jiaozi"' in prompt:
        return 200, '"Jiaozi, boiled Chinese dumplings with pleated edges."', 0
    if 'with "gyoza"' in prompt:
        if "rejected (chat boilerplate)" in prompt:
            return 200, "Gyoza with a crisp golden base.", 0
        return 200, "Sure! Here is your caption: gyoza.", 0
    if 'with "torii"' in prompt:
        return 200, "torii " + "very " * 80 + "red.", 0
    return 500, "down", 0


@pytest.mark.parametrize("target", ["config:world-clip", "config:hf-clip"])
def test_llm_captions_are_checked_reasked_and_fall_back_with_the_reason(mini_catalog, target):
    catalog = load_catalog(mini_catalog).first_groups(2)  # jiaozi, gyoza, torii, paifang
    with ChatServer(scripted) as server:
        generator = ChatModelConfig(name="openai:m", base_url=server.url, retries=1, backoff_s=0.01)
        cfg = CaptionConfig(generator=generator, styles=["short"], reasks=1)
        stage = CaptionStage(cfg, "template", target)
        stage.setup()
        rows = caption_rows(catalog, cfg, 1)
        out = stage.run(rows, retries=0)
    templates = [TemplateCaptionWriter().write(c.model_dump(), 1)[0] for c in catalog.concepts]
    assert [o["caption"] for o in out] == [
        "Jiaozi, boiled Chinese dumplings with pleated edges.",
        "Gyoza with a crisp golden base.",
        templates[2],
        templates[3],
    ]
    assert [o["caption_source"] for o in out] == ["openai:m (captions-v1)"] * 2 + ["template"] * 2
    assert out[0]["caption_note"] is None and out[1]["caption_note"] is None
    assert out[2]["caption_note"].startswith("fallback: too long: ") and out[2]["caption_note"].endswith("> 64")
    assert out[3]["caption_note"] == f"fallback: generator error: {server.url}: HTTP 500 after 2 attempts"
    assert all(o["status"] == "ok" for o in out)
    torii = [p for p in server.attempts if 'with "torii"' in p]
    assert len(torii) == 2 and "rejected (too long: " in torii[1]  # asked, then re-asked with the reason


def test_caption_rows_cycle_styles(mini_catalog):
    rows = caption_rows(load_catalog(mini_catalog), CaptionConfig(), 4)
    assert [r["style"] for r in rows[:4]] == ["short", "detailed", "contextual", "short"]
    assert rows[5]["key"] == "gyoza/1"
