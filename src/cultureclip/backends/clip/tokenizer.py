"""Text tokenizers as the caption rules and the catalogue check see them: a context and a count.

`clip_bpe()` counts with CLIP's BPE (the vocabulary file open_clip ships, read through the tokenizers
library) without importing torch, so `cultureclip catalog check` stays light; its counts equal
open_clip's SimpleTokenizer's, text cleaning included.
"""

import gzip
import html
from abc import ABC, abstractmethod
from functools import cache

from cultureclip.backends._util import package_file

CLIP_CONTEXT = 77
"""Tokens in CLIP's text context, start and end tokens included."""


class Tokenizer(ABC):
    """A CLIP's text tokenizer: its context and the tokens a text takes, start and end included."""

    context_length: int

    @abstractmethod
    def count(self, text: str) -> int:
        """Tokens the text encoder would see for `text`, start and end included, before truncation."""


class OpenClipTokenizer(Tokenizer):
    """An open_clip tokenizer: its SimpleTokenizer (CLIP's BPE), or an HFTokenizer around a transformers one."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.context_length = tokenizer.context_length

    def count(self, text: str) -> int:
        hf = getattr(self.tokenizer, "tokenizer", None)  # open_clip's HFTokenizer wraps a transformers tokenizer
        if hf is not None:  # after its cleaning (SigLIP's: lowercase, no punctuation), as it tokenizes
            return len(hf(self.tokenizer.clean_fn(text))["input_ids"])
        return len(self.tokenizer.encode(text)) + 2  # open_clip's SimpleTokenizer: + start and end tokens


class ClipBpe(Tokenizer):
    """CLIP's BPE from open_clip's vocabulary file, run by the tokenizers library (no torch)."""

    context_length = CLIP_CONTEXT

    def __init__(self):
        import ftfy
        from tokenizers.pre_tokenizers import ByteLevel
        from transformers import CLIPTokenizer

        with gzip.open(
            package_file("open_clip", "bpe_simple_vocab_16e6.txt.gz", "open-clip-torch"), "rt", encoding="utf-8"
        ) as f:
            merges = [tuple(line.split()) for line in f.read().split("\n")[1 : 49152 - 256 - 2 + 1]]
        # ids do not matter for counting, only which symbols exist: bytes, end-of-word bytes, merges
        alphabet = sorted(ByteLevel.alphabet())
        symbols = [*alphabet, *(a + "</w>" for a in alphabet), *("".join(m) for m in merges)]
        symbols += ["<|startoftext|>", "<|endoftext|>"]
        self._tokenizer = CLIPTokenizer(vocab={s: i for i, s in enumerate(symbols)}, merges=merges)
        self._fix_text = ftfy.fix_text

    def count(self, text: str) -> int:
        cleaned = html.unescape(html.unescape(self._fix_text(text))).strip()  # as open_clip's basic_clean
        return len(self._tokenizer(cleaned)["input_ids"])


@cache
def clip_bpe() -> ClipBpe:
    """The shared CLIP BPE counter (built once per process: about a second)."""
    return ClipBpe()
