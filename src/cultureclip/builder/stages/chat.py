"""The asking base of the builder's chat-model stages: a chat model (`backends/chat/`) loaded in the worker,
a prompt file's prompts, and replies parsed strictly, the broken ones asked again with the reason
(`replies.ask_parsed`)."""

from collections.abc import Callable
from typing import Any

from PIL import Image

from cultureclip.builder.stage import Stage
from cultureclip.builder.stages.replies import ask_parsed
from cultureclip.config import ChatModelConfig


class ChatStage(Stage):
    """A stage that asks `model_cfg`'s chat model; `prompts` must hold `reask` ({prompt}, {reason})."""

    def __init__(self, model_cfg: ChatModelConfig, prompts: dict[str, str], reasks: int):
        self.model_cfg, self.prompts, self.reasks = model_cfg, prompts, reasks

    def setup(self) -> None:
        from cultureclip.backends.chat import create_chat_model

        self.model = create_chat_model(self.model_cfg)

    def ask(
        self, prompts: list[str], parse: Callable[[int, str], Any], images: list[Image.Image] | None = None
    ) -> list[tuple]:
        """Per prompt, (parsed value, None) or (None, why no reply parsed); see `replies.ask_parsed`."""

        def send(indices: list[int], texts: list[str]) -> list[str]:
            return self.model.generate(texts, None if images is None else [images[i] for i in indices])

        return ask_parsed(send, prompts, parse, self._reask, self.reasks)

    def _reask(self, prompt: str, reason: str) -> str:
        return self.prompts["reask"].format(prompt=prompt, reason=reason)
