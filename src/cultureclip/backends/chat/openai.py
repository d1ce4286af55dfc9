"""An OpenAI-compatible chat-completions client (vLLM, Ollama, llama.cpp server, OpenAI itself).

Each prompt is one request with one user message; an image goes before the text as a base64 data URL
(the OpenAI vision format): encoded bytes as they are, a decoded image as PNG. Requests run `concurrency`
at a time; a failed one is retried with exponential backoff only when it may pass later (a timeout, a
dropped connection, 429 or 5xx). A server that cannot be reached (connection refused, unknown host) or
refuses the request (401, 403, 404) stops the stage at once (`GeneratorUnreachable`); other HTTP errors
fail the row.
The API key comes from the environment variable the config names, never from a file.
"""

import base64
import io
import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import httpx
from PIL import Image

from cultureclip.backends.chat.base import ChatImage
from cultureclip.config import ChatModelConfig
from cultureclip.errors import GenerationError, GeneratorUnreachable

log = logging.getLogger(__name__)
RETRYABLE = {408, 409, 429, 500, 502, 503, 504}
REFUSED = {
    401: "unauthorised: check the API key in $",
    403: "forbidden: check the API key in $",
    404: "no such model or URL",
}


class OpenAIChatModel:
    """`generate(prompts, images=None)` against `cfg.base_url`/chat/completions with model `model`."""

    def __init__(self, model: str, cfg: ChatModelConfig):
        self.model = model
        self.cfg = cfg
        key = os.environ.get(cfg.api_key_env)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        limits = httpx.Limits(max_connections=cfg.concurrency)
        self.client = httpx.Client(
            base_url=cfg.base_url.rstrip("/"), headers=headers, timeout=cfg.timeout_s, limits=limits
        )

    def generate(self, prompts: Sequence[str], images: Sequence[ChatImage] | None = None) -> list[str]:
        messages = prompts if images is None else [_with_image(p, im) for p, im in zip(prompts, images, strict=True)]
        with ThreadPoolExecutor(max_workers=self.cfg.concurrency) as pool:
            return list(pool.map(self.complete, messages))

    def complete(self, prompt: str | list[dict]) -> str:
        """One chat completion of one user message (text, or a list of content parts such as an image
        and text), retried; GenerationError once the retries are spent."""
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": self.cfg.max_new_tokens,
            "temperature": self.cfg.temperature,
            "seed": self.cfg.seed,
        }
        for attempt in range(self.cfg.retries + 1):
            try:
                response = self.client.post("/chat/completions", json=body)
                if response.status_code not in RETRYABLE:
                    response.raise_for_status()
                    return response.json()["choices"][0]["message"]["content"].strip()
                problem = f"HTTP {response.status_code}"
            except httpx.HTTPStatusError as err:
                status = err.response.status_code
                if status in REFUSED:
                    hint = REFUSED[status] + (self.cfg.api_key_env if REFUSED[status].endswith("$") else "")
                    raise GeneratorUnreachable(
                        f"{self.cfg.base_url}: HTTP {status} for {self.model} ({hint})"
                    ) from None
                raise GenerationError(f"{self.cfg.base_url}: HTTP {status} for {self.model}") from None
            except (KeyError, IndexError, TypeError, ValueError):
                raise GenerationError(f"{self.cfg.base_url}: malformed chat-completions answer") from None
            except httpx.ConnectError as err:  # refused, unknown host: the server is not there
                raise GeneratorUnreachable(
                    f"{self.cfg.base_url}: cannot connect ({err}); start the server or fix base_url"
                ) from None
            except httpx.TransportError as err:  # timeouts, dropped connections
                problem = type(err).__name__
            if attempt < self.cfg.retries:
                log.warning("%s: %s, retrying (%d/%d)", self.cfg.base_url, problem, attempt + 1, self.cfg.retries)
                time.sleep(self.cfg.backoff_s * 2**attempt)
        raise GenerationError(f"{self.cfg.base_url}: {problem} after {self.cfg.retries + 1} attempts")


def _with_image(prompt: str, image: ChatImage) -> list[dict]:
    if isinstance(image, bytes):
        with Image.open(io.BytesIO(image)) as probe:  # the header only: an unreadable image fails its row here
            kind, data = probe.format.lower(), image
    else:
        png = io.BytesIO()
        image.convert("RGB").save(png, format="PNG")
        kind, data = "png", png.getvalue()
    url = f"data:image/{kind};base64," + base64.b64encode(data).decode()
    return [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": prompt}]


def create(ref: str, cfg: ChatModelConfig) -> OpenAIChatModel:
    """openai:MODEL at `cfg.base_url`."""
    return OpenAIChatModel(ref, cfg)
