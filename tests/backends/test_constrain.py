"""Replies decoded under a JSON schema (backends/chat/constrain.py): what the tiny models say under one follows it."""

import json
import sys

import pytest
from PIL import Image

from cultureclip.backends.chat import create_chat_model
from cultureclip.builder.stages.replies import ask_parsed, object_schema, parse_fields
from cultureclip.config import ChatModelConfig
from cultureclip.errors import MissingDependencyError

SCHEMA = object_schema({"keep": {"type": "boolean"}, "category": {"type": "string", "enum": ["Food", "Art"]}})
PROMPTS = ["gyoza", "a longer prompt about mandu", "c"]


def _follows(reply: str) -> bool:
    value = json.loads(reply)
    return (
        set(value) == {"keep", "category"}
        and isinstance(value["keep"], bool)
        and value["category"] in SCHEMA["properties"]["category"]["enum"]
    )


def _model(name: str, **options):
    return create_chat_model(ChatModelConfig(name=name, max_new_tokens=40, batch_size=2, **options))


def test_a_random_causal_lm_under_a_schema_replies_with_json_that_follows_it():
    model = _model("tiny:causal-lm")
    replies = model.generate(PROMPTS, schema=SCHEMA)
    assert all(_follows(r) for r in replies), replies
    assert not any(r.startswith("{") for r in model.generate(PROMPTS))  # free, the same model writes noise


def test_structured_false_decodes_freely_whatever_the_schema():
    model = _model("tiny:causal-lm", structured=False)
    assert model.generate(PROMPTS, schema=SCHEMA) == model.generate(PROMPTS)


def test_a_vision_language_model_follows_the_schema_about_its_images():
    images = [Image.new("RGB", (32, 32), c) for c in ("red", "green", "blue")]
    assert all(_follows(r) for r in _model("tiny:vlm").generate(PROMPTS, images, schema=SCHEMA))


def test_without_llguidance_a_schema_is_an_error_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "llguidance", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'cultureclip\[structured\]'.*structured: false"):
        _model("tiny:causal-lm").generate(PROMPTS, schema=SCHEMA)


def test_the_fixed_model_echoes_and_ignores_the_schema():
    assert _model("fixed:0").generate(["a"], schema=SCHEMA) == ["a"]


def test_a_reply_that_copies_the_formats_placeholder_is_asked_again_with_the_reason():
    prompt = 'Reply with JSON: {"concept": "its name", "context": "its cultural context"}'
    replies = iter(['{"concept":"its name","context":"a festival food"}', '{"concept":"Jiaozi","context":"its name"}'])
    sent = []

    def send(indices, prompts):
        sent.extend(prompts)
        return [next(replies)]

    parse = lambda i, text: parse_fields(text, ("concept", "context"))  # noqa: E731
    results = ask_parsed(send, [prompt], parse, lambda p, why: f"{p} ({why})", 1)
    assert results == [({"concept": "Jiaozi", "context": "its name"}, None)]  # another field's placeholder is fine
    assert sent[1] == f"{prompt} (field 'concept' copies the reply format's placeholder 'its name')"
