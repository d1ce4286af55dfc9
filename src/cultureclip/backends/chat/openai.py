"""An OpenAI-compatible chat-completions client (vLLM, Ollama, llama.cpp server, OpenAI itself).

Each prompt is one request with one user message; an image goes before the text as a base64 data URL
(the OpenAI vision format): encoded bytes as they are, a decoded image as PNG. A reply schema goes as
`response_format` (`json_schema`); a server that refuses it (HTTP 400 naming response_format or json_schema)
is asked again without, and this client stops sending it. One pool of `concurrency` threads per client (per
worker: the stage keeps its model) serves every `generate` call, each request sent as soon as a slot frees (no
waves); a failed one is retried with exponential backoff only when it may pass later (a timeout, a dropped
connection, 429 or 5xx). A server that cannot be reached (connection refused, unknown host) or refuses the
request (401, 403, 404) stops the stage at once (`GeneratorUnreachable`); other HTTP errors fail the row.
The API key comes from the environment variable the config names, never from a file.

A server is not trusted to be well-behaved. Each attempt has one deadline, `timeout_s`, for all of it
(connecting, sending, every read of the answer: a server dripping bytes is cut off there); an answer is
read up to `reply_byte_cap(max_new_tokens)` bytes and its text must fit `max_new_tokens` in characters
(`MAX_CHARS_PER_TOKEN` each), so a reply of megabytes is refused before anything parses or tokenises it;
an answer without text (`content: null`: tool calls, refusals, a reasoning model cut by `max_tokens`),
malformed or absurdly nested JSON is a GenerationError with its reason, which fails the row. Ctrl-C (or
any error that stops `generate`) shuts every open connection, so the worker threads end at once.
The server's address appears in messages redacted (no user information or query: redact.py).
"""

import base64
import io
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, wait

import httpcore
import httpx
from PIL import Image

from cultureclip.backends.chat.base import ChatImage
from cultureclip.config import ChatModelConfig
from cultureclip.errors import GenerationError, GeneratorUnreachable
from cultureclip.redact import redact, redact_url

log = logging.getLogger(__name__)
RETRYABLE = {408, 409, 429, 500, 502, 503, 504}
REFUSED = {
    401: "unauthorised: check the API key in $",
    403: "forbidden: check the API key in $",
    404: "no such model or URL",
}
MAX_CHARS_PER_TOKEN = 32
"""Characters a reply may have per token asked for (a token is rarely more than a dozen)."""
ERROR_BYTES = 8192
"""How much of a 400 answer is read for its reason."""


def reply_byte_cap(max_new_tokens: int) -> int:
    """The most bytes an answer of `max_new_tokens` tokens is read to: its text JSON-escaped at worst
    (12 bytes a character), plus 64 KiB for the envelope."""
    return 65536 + 12 * MAX_CHARS_PER_TOKEN * max_new_tokens


class OpenAIChatModel:
    """`generate(prompts, images=None)` against `cfg.base_url`/chat/completions with model `model`."""

    def __init__(self, model: str, cfg: ChatModelConfig):
        self.model = model
        self.cfg = cfg
        self.where = redact_url(cfg.base_url)
        key = os.environ.get(cfg.api_key_env)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        limits = httpx.Limits(max_connections=cfg.concurrency)
        self.network = Deadlines()
        transport = httpx.HTTPTransport(limits=limits)
        transport._pool._network_backend = self.network  # every read and write bounded by the request's deadline
        self.client = httpx.Client(
            base_url=cfg.base_url.rstrip("/"), headers=headers, timeout=cfg.timeout_s, transport=transport
        )
        self.pool = ThreadPoolExecutor(max_workers=cfg.concurrency, thread_name_prefix="chat")
        self.schema_refused = not cfg.structured
        """Whether to send no `response_format` (set once the server refused one)."""

    def generate(
        self, prompts: Sequence[str], images: Sequence[ChatImage] | None = None, schema: dict | None = None
    ) -> list[str]:
        messages = prompts if images is None else [_with_image(p, im) for p, im in zip(prompts, images, strict=True)]
        self.network.stopped.clear()
        futures = [self.pool.submit(self.complete, m, schema) for m in messages]
        try:
            return [f.result() for f in futures]
        except BaseException:  # Ctrl-C, or an error that stops the stage: end the other requests now
            for f in futures:
                f.cancel()
            self.network.stop()
            wait(futures)
            raise

    def complete(self, prompt: str | list[dict], schema: dict | None = None) -> str:
        """One chat completion of one user message (text, or a list of content parts such as an image
        and text), under `schema` unless the server refused one, retried; GenerationError once the retries
        are spent."""
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": self.cfg.max_new_tokens,
            "temperature": self.cfg.temperature,
            "seed": self.cfg.seed,
        }
        if schema is not None and not self.schema_refused:
            body["response_format"] = {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}}
        attempt = 0
        while attempt <= self.cfg.retries:
            if self.network.stopped.is_set():
                raise GenerationError(f"{self.where}: stopped")
            try:
                status, data = self._post(body)
                if status == 400 and "response_format" in body and _names_schema(data):
                    log.warning("%s refuses response_format; asking without a reply schema", self.where)
                    self.schema_refused = True
                    del body["response_format"]
                    continue
                if status not in RETRYABLE:
                    self._refuse(status)
                    return self._text(data)
                problem = f"HTTP {status}"
            except httpx.ConnectError as err:  # refused, unknown host: the server is not there
                if self.network.stopped.is_set():
                    raise GenerationError(f"{self.where}: stopped") from None
                raise GeneratorUnreachable(
                    f"{self.where}: cannot connect ({redact(str(err))}); start the server or fix base_url"
                ) from None
            except httpx.TransportError as err:  # timeouts (the deadline too), dropped connections
                if self.network.stopped.is_set():
                    raise GenerationError(f"{self.where}: stopped") from None
                problem = type(err).__name__
            if attempt < self.cfg.retries:
                log.warning("%s: %s, retrying (%d/%d)", self.where, problem, attempt + 1, self.cfg.retries)
                self.network.stopped.wait(self.cfg.backoff_s * 2**attempt)
            attempt += 1
        raise GenerationError(f"{self.where}: {problem} after {self.cfg.retries + 1} attempts")

    def _post(self, body: dict) -> tuple[int, bytes]:
        """(status, answer bytes) of one attempt, all of it within `timeout_s`; an answer longer than
        `reply_byte_cap` is a GenerationError, read no further. Of an error answer, only a 400's first
        `ERROR_BYTES` are read (to see whether it names the reply schema)."""
        cap = reply_byte_cap(self.cfg.max_new_tokens)
        with self.network.deadline(self.cfg.timeout_s), self.client.stream("POST", "/chat/completions", json=body) as r:
            if r.status_code == 400:
                return r.status_code, _head(r, ERROR_BYTES)
            if not 200 <= r.status_code < 300:
                return r.status_code, b""
            declared = r.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > cap:
                raise GenerationError(self._too_long(f"{int(declared):,} bytes announced"))
            data = bytearray()
            for chunk in r.iter_bytes():
                data += chunk
                if len(data) > cap:
                    raise GenerationError(self._too_long(f"over {cap:,} bytes"))
            return r.status_code, bytes(data)

    def _too_long(self, what: str) -> str:
        return f"{self.where}: answer too long ({what} for max_new_tokens={self.cfg.max_new_tokens}); not read"

    def _refuse(self, status: int) -> None:
        if status in REFUSED:
            hint = REFUSED[status] + (self.cfg.api_key_env if REFUSED[status].endswith("$") else "")
            raise GeneratorUnreachable(f"{self.where}: HTTP {status} for {self.model} ({hint})")
        if not 200 <= status < 300:
            raise GenerationError(f"{self.where}: HTTP {status} for {self.model}")

    def _text(self, data: bytes) -> str:
        """The reply's text; an answer without one is a GenerationError that says what it held instead."""
        try:
            answer = json.loads(data)
            choice = answer["choices"][0]
            content = choice["message"]["content"]
        except RecursionError:
            raise GenerationError(f"{self.where}: malformed chat-completions answer (JSON nested too deep)") from None
        except ValueError:
            raise GenerationError(f"{self.where}: malformed chat-completions answer (not JSON)") from None
        except KeyError as err:
            raise GenerationError(f"{self.where}: malformed chat-completions answer (no field {err})") from None
        except (IndexError, TypeError):
            raise GenerationError(f"{self.where}: malformed chat-completions answer (no choice)") from None
        if not isinstance(content, str):
            finish = choice.get("finish_reason") if isinstance(choice, dict) else None
            held = "null" if content is None else type(content).__name__
            raise GenerationError(
                f"{self.where}: no text in the answer (content {held}, finish_reason {str(finish)[:40]!r})"
            )
        limit = MAX_CHARS_PER_TOKEN * self.cfg.max_new_tokens
        if len(content) > limit:
            raise GenerationError(self._too_long(f"{len(content):,} characters > {limit:,}"))
        return content.strip()


class Deadlines(httpcore.NetworkBackend):
    """httpx's network layer with every connect, read and write bounded by the time left before the
    current thread's deadline (`deadline`), and every open socket shut at once by `stop`."""

    def __init__(self):
        self.backend = httpcore.SyncBackend()
        self.local = threading.local()
        self.stopped = threading.Event()
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()

    def deadline(self, seconds: float):
        return _Deadline(self.local, time.monotonic() + seconds)

    def bound(self, timeout: float | None) -> float | None:
        if self.stopped.is_set():
            raise httpcore.ReadError("stopped")
        deadline = getattr(self.local, "deadline", None)
        if deadline is None:
            return timeout
        left = deadline - time.monotonic()
        if left <= 0:
            raise httpcore.ReadTimeout("the request's deadline passed")
        return left if timeout is None else min(timeout, left)

    def stop(self) -> None:
        """Shut every open connection: threads blocked reading one return at once."""
        self.stopped.set()
        with self.lock:
            for sock in self.sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        stream = self.backend.connect_tcp(host, port, self.bound(timeout), local_address, socket_options)
        return _Stream(stream, self)

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        return _Stream(self.backend.connect_unix_socket(path, self.bound(timeout), socket_options), self)

    def sleep(self, seconds: float) -> None:
        self.backend.sleep(seconds)


class _Deadline:
    def __init__(self, local: threading.local, at: float):
        self.local, self.at = local, at

    def __enter__(self):
        self.local.deadline = self.at

    def __exit__(self, *exc):
        self.local.deadline = None


class _Stream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream, network: Deadlines):
        self.stream, self.network = stream, network
        self.sock = stream.get_extra_info("socket")
        with network.lock:
            network.sockets.add(self.sock)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.stream.read(max_bytes, self.network.bound(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.stream.write(buffer, self.network.bound(timeout))

    def close(self) -> None:
        with self.network.lock:
            self.network.sockets.discard(self.sock)
        self.stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> "_Stream":
        tls = self.stream.start_tls(ssl_context, server_hostname, self.network.bound(timeout))
        with self.network.lock:
            self.network.sockets.discard(self.sock)
        return _Stream(tls, self.network)

    def get_extra_info(self, info: str):
        return self.stream.get_extra_info(info)


def _head(response: httpx.Response, limit: int) -> bytes:
    """The first `limit` bytes of an answer's body (the rest is not read)."""
    data = bytearray()
    for chunk in response.iter_bytes():
        data += chunk
        if len(data) >= limit:
            break
    return bytes(data[:limit])


def _names_schema(error: bytes) -> bool:
    """Whether a 400 answer's body blames the reply schema (`response_format`, `json_schema`)."""
    text = error.decode("utf-8", "replace").lower()
    return "response_format" in text or "json_schema" in text


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
