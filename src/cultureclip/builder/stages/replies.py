"""Replies of the reference recipe's generator and judge: parsed strictly, re-asked when broken.

Every reply is JSON (an object, or a list of captions). The parser takes the first JSON value in the
reply, so code fences and a sentence around it do no harm; a missing or empty field, a wrong type or
a score outside 1-5 is a `ReplyError` whose message says what is wrong. `ask_parsed` re-asks the broken
ones with that reason and reports, per prompt, either the parsed value or why it never parsed, so a
row is never half-written.

Each parser has its JSON schema beside it (`fields_schema`, `captions_schema`, `scores_schema`): a stage
passes it to its chat model, which decodes under it (`backends/chat/`), so a reply parses on the first ask
and the re-ask is the last resort (a rule the schema cannot say, a server that ignores it).
"""

import json
from collections.abc import Callable, Sequence
from typing import Any

CRITERIA = ("authenticity", "consistency", "cultural_fidelity")
_DECODER = json.JSONDecoder()


class ReplyError(ValueError):
    """A reply that cannot be used; the message is the reason recorded (and sent back when re-asking)."""


def first_json(text: str, kind: type) -> Any:
    """The first JSON value of type `kind` (dict or list) in `text`."""
    opener = "{" if kind is dict else "["
    for start in (i for i, c in enumerate(text) if c == opener):
        try:
            value, _ = _DECODER.raw_decode(text, start)
        except json.JSONDecodeError:
            continue
        except RecursionError:
            raise ReplyError("the reply's JSON is nested too deep") from None
        if isinstance(value, kind):
            return value
    raise ReplyError(f"no JSON {'object' if kind is dict else 'list'} in the reply")


def parse_fields(text: str, fields: Sequence[str]) -> dict[str, str]:
    """The JSON object's `fields`, each a non-empty string (stripped)."""
    value = first_json(text, dict)
    out = {}
    for field in fields:
        item = value.get(field)
        if not isinstance(item, str) or not item.strip():
            raise ReplyError(f"field {field!r} is {'missing' if field not in value else 'not a non-empty string'}")
        out[field] = " ".join(item.split())
    return out


def fields_schema(fields: Sequence[str], enums: dict[str, Sequence[str]] | None = None) -> dict:
    """The JSON schema of `parse_fields`'s object: every field a required string (one of `enums[field]`
    where given), nothing else."""
    enums = enums or {}
    return object_schema({f: {"type": "string", "enum": list(enums[f])} if f in enums else _TEXT for f in fields})


def parse_captions(text: str) -> list[str]:
    """The JSON list of caption strings (non-strings are an error; blanks are dropped)."""
    value = first_json(text, list)
    if not all(isinstance(v, str) for v in value):
        raise ReplyError("the list holds something other than strings")
    return [" ".join(v.split()) for v in value if v.strip()]


def captions_schema() -> dict:
    """The JSON schema of `parse_captions`'s list (a server that takes only objects refuses it, and the client
    then asks without a schema: `backends/chat/openai.py`)."""
    return {"type": "array", "items": _TEXT, "minItems": 1}


def parse_scores(text: str, criteria: Sequence[str] = CRITERIA) -> dict[str, Any]:
    """Per criterion a score 1-5 and a reason: {"authenticity": {"score": 4, "reason": "..."}, ...}
    (a bare number for a criterion is accepted, with an empty reason)."""
    value = first_json(text, dict)
    out: dict[str, Any] = {}
    for criterion in criteria:
        item = value.get(criterion)
        score, reason = (item.get("score"), item.get("reason", "")) if isinstance(item, dict) else (item, "")
        if isinstance(score, str) and score.strip().isdigit():
            score = int(score)
        if isinstance(score, bool) or not isinstance(score, int | float) or score != int(score):
            raise ReplyError(f"{criterion}: no integer score")
        if not 1 <= score <= 5:
            raise ReplyError(f"{criterion}: score {score} outside 1-5")
        out[criterion] = int(score)
        out[f"{criterion}_reason"] = str(reason or "").strip()
    return out


def scores_schema(criteria: Sequence[str] = CRITERIA) -> dict:
    """The JSON schema of `parse_scores`'s object: per criterion an integer score 1-5 and a reason."""
    score = object_schema({"score": {"type": "integer", "minimum": 1, "maximum": 5}, "reason": _TEXT})
    return object_schema(dict.fromkeys(criteria, score))


_TEXT = {"type": "string", "minLength": 1}


def object_schema(properties: dict) -> dict:
    """A JSON object with exactly `properties`, all required (the form strict structured outputs take)."""
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def refuse_copied_format(reply: str, prompt: str) -> None:
    """A ReplyError when a field of the reply's JSON object holds the placeholder the prompt's reply format
    shows for it (`"concept": "its name"`): a small model decoding under a schema copies the format it was shown."""
    try:
        value = first_json(reply, dict)
    except ReplyError:
        return  # no object: the parser says what is wrong
    for key, item in _string_fields(value):
        if json.dumps({key: item}, ensure_ascii=False)[1:-1] in prompt:
            raise ReplyError(f"field {key!r} copies the reply format's placeholder {item!r}")


def _string_fields(value: dict) -> list[tuple[str, str]]:
    """(key, string) of every string field of a JSON object, nested objects included."""
    out = []
    for key, item in value.items():
        if isinstance(item, dict):
            out += _string_fields(item)
        elif isinstance(item, str):
            out.append((key, item))
    return out


def ask_parsed(
    send: Callable[[list[int], list[str]], list[str]],
    prompts: Sequence[str],
    parse: Callable[[int, str], Any],
    reask: Callable[[str, str], str],
    reasks: int,
) -> list[tuple[Any, str | None]]:
    """Per prompt, (parsed value, None), or (None, why) when no reply parsed after `reasks` re-asks.

    `send(indices, prompts)` asks the model (the indices say which rows the prompts are for);
    `parse(index, reply)` returns the value or raises ReplyError; `reask(prompt, reason)` is the next prompt.
    """
    results: list[tuple[Any, str | None]] = [(None, "not asked")] * len(prompts)
    todo, current = list(range(len(prompts))), list(prompts)
    for _ in range(reasks + 1):
        replies = send(todo, [current[i] for i in todo])
        again = []
        for i, reply in zip(todo, replies, strict=True):
            try:
                refuse_copied_format(reply, prompts[i])
                results[i] = (parse(i, reply), None)
            except ReplyError as err:
                results[i] = (None, f"{err} (reply: {reply[:80]!r})")
                current[i] = reask(prompts[i], str(err))
                again.append(i)
        if not again:
            break
        todo = again
    return results
