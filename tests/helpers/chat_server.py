"""A real HTTP server on loopback speaking the OpenAI chat-completions protocol, scripted per test."""

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# A reply is (status, text, delay_s); `answer(prompt, attempt)` scripts it per prompt and attempt number.
# `text` may also be None (content null), bytes (the answer's body as it is) or a `Raw` (the whole response).
Answer = Callable[[str, int], tuple[int, "str | bytes | Raw | None", float]]


@dataclass
class Raw:
    """A reply sent as these bytes, status line and headers included, one byte every `every` seconds."""

    data: bytes
    every: float = 0.0


class ChatServer:
    def __init__(self, answer: Answer):
        self.answer = answer
        self.attempts: dict[str, int] = {}
        self.headers: list[dict] = []
        self.bodies: list[dict] = []
        self.images: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                try:
                    body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                except (ValueError, OSError):
                    return  # the client gave up while sending (Ctrl-C, or another request stopped the batch)
                prompt = body["messages"][-1]["content"]
                if isinstance(prompt, list):  # content parts: images (data URLs) and the text
                    server.images += [p["image_url"]["url"] for p in prompt if p["type"] == "image_url"]
                    prompt = "".join(p["text"] for p in prompt if p["type"] == "text")
                with server.lock:
                    attempt = server.attempts.get(prompt, 0)
                    server.attempts[prompt] = attempt + 1
                    server.headers.append(dict(self.headers))
                    server.bodies.append(body)
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    status, text, delay = server.answer(prompt, attempt)
                    time.sleep(delay)
                    if isinstance(text, Raw):
                        for i in range(len(text.data)):
                            self.wfile.write(text.data[i : i + 1])
                            self.wfile.flush()
                            time.sleep(text.every)
                        return
                    reply = {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}
                    if isinstance(text, bytes):
                        payload = text
                    else:
                        payload = json.dumps(reply if status == 200 else {"error": {"message": text}}).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout)
                finally:
                    with server.lock:
                        server.in_flight -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "ChatServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
