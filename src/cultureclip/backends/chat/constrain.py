"""Transformers decoding under a JSON schema, with llguidance (the `structured` extra).

llguidance compiles the schema to a grammar and, at each step, says which tokens of the vocabulary keep the
reply valid; `SchemaLogits` (a transformers logits processor) sets every other token's score to -inf, so
greedy and sampled decoding both give JSON that follows the schema, ended by the end-of-turn token. A row whose
grammar is complete may only end; a reply cut by `max_new_tokens` is cut JSON (the caller re-asks).
llguidance was chosen over xgrammar, outlines and lm-format-enforcer because it needs nothing else (one wheel,
no torch or transformers pin, no compiler at run time), computes a mask in well under a millisecond on the CPU,
and is the engine behind llama.cpp's and vLLM's schema support, so a local model and a server agree.
"""

import json
from functools import cache

import torch
from transformers import LogitsProcessor

from cultureclip.backends.loaded import shared
from cultureclip.errors import ConfigError, MissingDependencyError


def _llguidance():
    try:
        import llguidance
        import llguidance.hf
        import llguidance.torch
    except ImportError:
        raise MissingDependencyError(
            "decoding under a reply schema needs llguidance: `pip install 'cultureclip[structured]'` "
            "(or set the chat model's structured: false)"
        ) from None
    return llguidance


def _lltokenizer(tokenizer):
    """llguidance's view of a transformers fast tokenizer (about a second to build: one per loaded tokenizer)."""
    return shared(("llguidance", id(tokenizer)), lambda: _llguidance().hf.from_tokenizer(tokenizer))


@cache
def _grammar(schema: str) -> str:
    llg = _llguidance()
    return llg.LLMatcher.grammar_from_json_schema(schema, defaults={"whitespace_flexible": False})


class SchemaLogits(LogitsProcessor):
    """A logits processor that lets each of a batch's rows take only the tokens that keep it valid JSON of
    `schema`; `prompt_length` is the (padded) prompt's length, after which tokens are the reply's."""

    def __init__(self, schema: dict, tokenizer, batch: int, prompt_length: int):
        llg = _llguidance()
        grammar = _grammar(json.dumps(schema))
        lltok = _lltokenizer(tokenizer)
        self.matchers = [llg.LLMatcher(lltok, grammar) for _ in range(batch)]
        if self.matchers[0].is_error():
            raise ConfigError(f"reply schema not supported: {self.matchers[0].get_error()}")
        self.bitmask = llg.torch.allocate_token_bitmask(batch, lltok.vocab_size)
        self.eos = tokenizer.eos_token_id
        self.prompt_length = prompt_length
        self.bits = torch.arange(32, dtype=torch.int32)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        llg = _llguidance()
        if input_ids.shape[1] > self.prompt_length:  # the token chosen last step
            for matcher, token in zip(self.matchers, input_ids[:, -1].tolist(), strict=True):
                if not matcher.is_stopped():
                    matcher.consume_token(token)
        for i, matcher in enumerate(self.matchers):
            if not matcher.is_error():
                llg.torch.fill_next_token_bitmask(matcher, self.bitmask, i)
        allowed = ((self.bitmask.unsqueeze(-1) >> self.bits) & 1).flatten(1).bool()
        allowed = torch.nn.functional.pad(allowed, (0, max(0, scores.shape[1] - allowed.shape[1])))
        allowed = allowed[:, : scores.shape[1]]
        for i, matcher in enumerate(self.matchers):
            if matcher.is_error():  # cannot happen under the mask; end the row rather than emit NaNs
                allowed[i] = False
                allowed[i, self.eos] = True
        return scores.masked_fill(~allowed.to(scores.device), float("-inf"))
