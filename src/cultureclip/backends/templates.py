"""The caption-writer seam: `write(concept, n) -> captions`, chosen by name from a registry.

The offline writer fills templates from catalogue fields: what the concept looks like, what tells it
from its twins, and what it means where it comes from. LLM writers plug in behind the same protocol.
"""

from collections.abc import Mapping
from typing import Protocol

from cultureclip.data.text import fill
from cultureclip.registry import Registry

CAPTION_TEMPLATES = (
    "{name}, {a} {generic} from {culture}, with {distinguishing}.",
    "A photo of {name}: {visual}",
    "{name} from {culture}. {context}",
    "{visual} It is {name}, {a} {generic} from {culture}.",
    "{A} {generic} from {culture} called {name}, with {distinguishing}.",
    "{name}, {a} {generic} with {distinguishing}. {context}",
)
NO_DETAIL_TEMPLATES = (
    "{name}, {a} {generic} from {culture}.",
    "A photo of {name}.",
    "{name} from {culture}. {context}",
    "It is {name}, {a} {generic} from {culture}.",
    "{A} {generic} from {culture} called {name}.",
    "{name}, {a} {generic}. {context}",
)
"""CAPTION_TEMPLATES, each without its description of the look ({visual}, {distinguishing}): the captions of
the caption-quality experiment's `no_details` variant (`builder/recipes/caption_variant.py`)."""
GENERIC_TEMPLATES = (
    "a photo of {a} {generic}.",
    "a picture of {a} {generic}.",
    "{a} {generic}.",
    "an image of {a} {generic}.",
)


class CaptionWriter(Protocol):
    def write(self, concept: Mapping[str, str], n: int) -> list[str]: ...


CAPTION_WRITERS: Registry[CaptionWriter] = Registry("caption writer")


class TemplateCaptionWriter:
    """Writes `n` captions per concept by cycling through CAPTION_TEMPLATES (deterministic)."""

    def write(self, concept: Mapping[str, str], n: int) -> list[str]:
        return [fill(CAPTION_TEMPLATES[k % len(CAPTION_TEMPLATES)], concept) for k in range(n)]


@CAPTION_WRITERS.register("template")
def _template() -> TemplateCaptionWriter:
    return TemplateCaptionWriter()


def create_caption_writer(name: str) -> CaptionWriter:
    return CAPTION_WRITERS.create(name)
