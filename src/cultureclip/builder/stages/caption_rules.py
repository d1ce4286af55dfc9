"""The rules a generated caption must follow before it enters the dataset.

A caption must fit the target CLIP's text context (counted with that model's own tokenizer, start
and end tokens included, never cut), name its concept, be a bare caption, not chat, and end its
sentence (an answer cut off by the generator's token limit does not). `caption_problem` returns why a
caption breaks them, or None.
"""

import re
from pathlib import Path

from cultureclip.data.text import fold
from cultureclip.errors import ConfigError

BOILERPLATE = re.compile(
    r"^(sure|certainly|of course|okay|here('s| is| are)|caption\s*:|title\s*:)|\bas an ai\b|\bi hope\b"
    r"|\blet me know\b|\bfeel free\b|\bi can'?t\b|<\|",
    re.IGNORECASE,
)
QUOTES = "\"'“”‘’`*"


def clean_caption(text: str) -> str:
    """Strip surrounding whitespace and quotation or emphasis marks (content is never cut)."""
    return text.strip().strip(QUOTES).strip()


def target_tokenizer(model_id: str):
    """The tokenizer of the CLIP a dataset is for (open_clip or transformers), without building the model."""
    import open_clip

    from cultureclip.backends.clip import MODEL_CONFIGS, folder_format, parse_model_id
    from cultureclip.backends.hf_clip import text_tokenizer

    spec = parse_model_id(model_id)
    if spec.source not in ("open_clip", "config", "local", "hf"):
        raise ConfigError(f"model.name {model_id!r}: caption rules count tokens for open_clip and hf: models only")
    if spec.source == "open_clip":
        return open_clip.get_tokenizer(spec.ref)
    ref = str(MODEL_CONFIGS / spec.ref) if spec.source == "config" else spec.ref
    if spec.source != "hf" and folder_format(Path(ref)) == "open_clip":
        return open_clip.get_tokenizer(f"local-dir:{ref}")
    return text_tokenizer(ref)


def token_count(tokenizer, text: str) -> int:
    """Tokens the CLIP text encoder would see for `text`, start and end included, before truncation."""
    hf = getattr(tokenizer, "tokenizer", None)  # open_clip's HFTokenizer wraps a transformers tokenizer
    if hf is not None:
        return len(hf(text)["input_ids"])
    return len(tokenizer.encode(text)) + 2  # open_clip's SimpleTokenizer: + start and end tokens


def caption_problem(text: str, name: str, tokenizer) -> str | None:
    """Why `text` is not an acceptable caption of the concept `name`, or None when it is."""
    if not text:
        return "empty"
    if "\n" in text or BOILERPLATE.search(text):
        return "chat boilerplate"
    if fold(name) not in fold(text):
        return "does not name the concept"
    if not text.rstrip(QUOTES + ")").endswith((".", "!", "?")):
        return "unfinished sentence"
    tokens, limit = token_count(tokenizer, text), tokenizer.context_length
    if tokens > limit:
        return f"too long: {tokens} tokens > {limit}"
    return None
