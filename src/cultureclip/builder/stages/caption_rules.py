"""The rules a generated caption must follow before it enters the dataset.

A caption must fit the target CLIP's text context (counted with that model's own tokenizer, from
`backends.clip.tokenizer_for`, start and end tokens included, never cut), name its concept, be a bare
caption, not chat, and end its sentence (an answer cut off by the generator's token limit does not).
`caption_problem` returns why a caption breaks them, or None.
"""

import re
from typing import TYPE_CHECKING

from cultureclip.data.text import fold

if TYPE_CHECKING:
    from cultureclip.backends.clip import Tokenizer

BOILERPLATE = re.compile(
    r"^(sure|certainly|of course|okay|here('s| is| are)|caption\s*:|title\s*:)|\bas an ai\b|\bi hope\b"
    r"|\blet me know\b|\bfeel free\b|\bi can'?t\b|<\|",
    re.IGNORECASE,
)
QUOTES = "\"'“”‘’`*"


def clean_caption(text: str) -> str:
    """Strip surrounding whitespace and quotation or emphasis marks (content is never cut)."""
    return text.strip().strip(QUOTES).strip()


CHARS_PER_TOKEN = 32
"""More characters than this per token of the context cannot fit it (checked before tokenising)."""


def caption_problem(text: str, name: str, tokenizer: "Tokenizer") -> str | None:
    """Why `text` is not an acceptable caption of the concept `name`, or None when it is."""
    if not text:
        return "empty"
    limit = tokenizer.context_length
    if len(text) > CHARS_PER_TOKEN * limit:  # before any other check: a reply of megabytes costs nothing
        return f"too long: {len(text)} characters for {limit} tokens"
    if "\n" in text or BOILERPLATE.search(text):
        return "chat boilerplate"
    if fold(name) not in fold(text):
        return "does not name the concept"
    if not text.rstrip(QUOTES + ")").endswith((".", "!", "?")):
        return "unfinished sentence"
    tokens = tokenizer.count(text)
    if tokens > limit:
        return f"too long: {tokens} tokens > {limit}"
    return None
