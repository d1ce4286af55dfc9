"""The text-generator seam: `generate(prompts) -> texts`, one completion per prompt, in order.

Catalogue expansion and LLM confirmation of mined twins talk to any object with this method; real
LLM backends (transformers, OpenAI-compatible servers) register themselves in TEXT_GENERATORS.
"""

from collections.abc import Sequence
from typing import Protocol

from cultureclip.registry import Registry


class TextGenerator(Protocol):
    def generate(self, prompts: Sequence[str]) -> list[str]:
        """One completion per prompt, in the prompts' order."""
        ...


TEXT_GENERATORS: Registry[TextGenerator] = Registry("text generator")


def create_text_generator(name: str) -> TextGenerator:
    return TEXT_GENERATORS.create(name)
