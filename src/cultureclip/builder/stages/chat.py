"""The asking base of the builder's chat-model stages: a chat model (`backends/chat/`) loaded in the worker,
a prompt file's prompts, and replies decoded under the stage's JSON schema and parsed strictly, the broken
ones asked again with the reason (`replies.ask_parsed`)."""

from collections.abc import Callable
from typing import Any

from cultureclip.backends.chat.base import ChatImage
from cultureclip.builder.stage import Stage
from cultureclip.builder.stages.replies import ask_parsed
from cultureclip.config import ChatModelConfig


class ChatStage(Stage):
    """A stage that asks `model_cfg`'s chat model; `prompts` must hold `reask` ({prompt}, {reason})."""

    ask_once = False
    """At temperature 0 without images, ask each distinct prompt once per worker (see `generate`)."""

    def __init__(self, model_cfg: ChatModelConfig, prompts: dict[str, str], reasks: int):
        self.model_cfg, self.prompts, self.reasks = model_cfg, prompts, reasks

    def setup(self) -> None:
        from cultureclip.backends.chat import create_chat_model

        self.model = create_chat_model(self.model_cfg)
        self.replies: dict[str, str] = {}

    def generate(self, texts: list[str], images: list[ChatImage] | None, schema: dict | None = None) -> list[str]:
        """The model's replies (under `schema`, a JSON schema, when given); with `ask_once`, at temperature 0
        without images (greedy: the same prompt, the same reply), each distinct prompt is asked once per worker
        and a repeated one gets the reply it got."""
        if not self.ask_once or images is not None or self.model_cfg.temperature > 0:
            return self.model.generate(texts, images, schema=schema)
        new = [t for t in dict.fromkeys(texts) if t not in self.replies]
        if new:
            self.replies |= dict(zip(new, self.model.generate(new, None, schema=schema), strict=True))
        return [self.replies[t] for t in texts]

    def ask(
        self,
        prompts: list[str],
        parse: Callable[[int, str], Any],
        images: list[ChatImage] | None = None,
        schema: dict | None = None,
    ) -> list[tuple]:
        """Per prompt, (parsed value, None) or (None, why no reply parsed), the replies decoded under `schema`
        (the JSON schema beside `parse` in `replies.py`); see `replies.ask_parsed`."""

        def send(indices: list[int], texts: list[str]) -> list[str]:
            return self.generate(texts, None if images is None else [images[i] for i in indices], schema)

        return ask_parsed(send, prompts, parse, self._reask, self.reasks)

    def _reask(self, prompt: str, reason: str) -> str:
        return self.prompts["reask"].format(prompt=prompt, reason=reason)
