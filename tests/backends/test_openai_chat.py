import threading
import time

import pytest

from cultureclip.backends.chat import create_chat_model
from cultureclip.config import ChatModelConfig
from cultureclip.errors import GenerationError, GeneratorUnreachable
from helpers.chat_server import ChatServer


def generator(server: ChatServer, **options):
    cfg = ChatModelConfig(name="openai:test-model", base_url=server.url, backoff_s=0.01, **options)
    return create_chat_model(cfg)


def test_replies_come_back_in_prompt_order_with_the_api_key(monkeypatch):
    monkeypatch.setenv("TEST_KEY", "sk-123")
    with ChatServer(lambda prompt, attempt: (200, f"  caption of {prompt}\n", 0.01 * (prompt == "a"))) as server:
        texts = generator(server, api_key_env="TEST_KEY").generate(["a", "b", "c"])
    assert texts == ["caption of a", "caption of b", "caption of c"]
    assert {h["Authorization"] for h in server.headers} == {"Bearer sk-123"}


def test_server_errors_and_rate_limits_are_retried_then_succeed():
    replies = {"x": [(500, "boom", 0), (429, "slow down", 0), (200, "ok x", 0)], "y": [(200, "ok y", 0)]}
    with ChatServer(lambda prompt, attempt: replies[prompt][attempt]) as server:
        assert generator(server, retries=2).generate(["x", "y"]) == ["ok x", "ok y"]
    assert server.attempts == {"x": 3, "y": 1}


def test_retries_are_bounded_and_end_in_a_generation_error():
    with ChatServer(lambda prompt, attempt: (503, "down", 0)) as server:
        with pytest.raises(GenerationError, match="HTTP 503 after 3 attempts"):
            generator(server, retries=2).generate(["x"])
    assert server.attempts == {"x": 3}


def test_client_errors_are_not_retried():
    with ChatServer(lambda prompt, attempt: (400, "bad request", 0)) as server:
        with pytest.raises(GenerationError, match="HTTP 400"):
            generator(server, retries=3).generate(["x"])
    assert server.attempts == {"x": 1}


def test_a_slow_answer_times_out_and_is_retried():
    with ChatServer(lambda prompt, attempt: (200, f"answer {attempt}", 0.5 if attempt == 0 else 0)) as server:
        assert generator(server, timeout_s=0.2, retries=1).generate(["x"]) == ["answer 1"]
        with pytest.raises(GenerationError, match="ReadTimeout after 1 attempts"):
            server.attempts.clear()
            generator(server, timeout_s=0.2, retries=0).generate(["x"])


def test_at_most_concurrency_requests_are_in_flight():
    with ChatServer(lambda prompt, attempt: (200, prompt, 0.1)) as server:
        start = time.perf_counter()
        texts = generator(server, concurrency=3).generate([str(i) for i in range(9)])
        seconds = time.perf_counter() - start
    assert texts == [str(i) for i in range(9)]
    assert server.max_in_flight == 3
    assert seconds >= 0.3  # 9 requests of 0.1 s, 3 at a time


def test_a_refused_connection_stops_at_once_without_retries():
    cfg = ChatModelConfig(name="openai:m", base_url="http://127.0.0.1:9/v1", retries=3, backoff_s=10)
    start = time.perf_counter()
    with pytest.raises(GeneratorUnreachable, match=r"http://127.0.0.1:9/v1: cannot connect \(.*\); start the server"):
        create_chat_model(cfg).generate(["x"])
    assert time.perf_counter() - start < 5  # no backoff: a retry would wait 10 s


@pytest.mark.parametrize(
    ("status", "why"),
    [
        (401, "unauthorised: check the API key in $OPENAI_API_KEY"),
        (403, "forbidden: check the API key in $OPENAI_API_KEY"),
        (404, "no such model or URL"),
    ],
)
def test_a_refusing_server_stops_at_the_first_answer(status, why):
    with ChatServer(lambda prompt, attempt: (status, "no", 0)) as server:
        with pytest.raises(GeneratorUnreachable) as err:
            generator(server, concurrency=1).generate(["a"])
    assert str(err.value) == f"{server.url}: HTTP {status} for test-model ({why})"
    assert server.attempts == {"a": 1}


def test_each_image_goes_before_its_prompt_as_a_png_data_url():
    import base64
    import io

    from PIL import Image

    images = [Image.new("RGB", (4, 4), (255, 0, 0)), Image.new("L", (4, 4), 7)]
    with ChatServer(lambda prompt, attempt: (200, f"about {prompt}", 0)) as server:
        texts = generator(server, concurrency=1).generate(["a", "b"], images)
    assert texts == ["about a", "about b"]
    decoded = [Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) for url in server.images]
    assert all(url.startswith("data:image/png;base64,") for url in server.images)
    assert [im.convert("RGB").getpixel((0, 0)) for im in decoded] == [(255, 0, 0), (7, 7, 7)]


SCHEMA = {"type": "object", "properties": {"keep": {"type": "boolean"}}, "required": ["keep"]}


def test_a_reply_schema_goes_as_response_format_unless_structured_is_off():
    with ChatServer(lambda prompt, attempt: (200, '{"keep": true}', 0)) as server:
        assert generator(server).generate(["a"], schema=SCHEMA) == ['{"keep": true}']
        generator(server, structured=False).generate(["b"], schema=SCHEMA)
        generator(server).generate(["c"])
    sent = {b["messages"][0]["content"]: b.get("response_format") for b in server.bodies}
    assert sent == {
        "a": {"type": "json_schema", "json_schema": {"name": "reply", "schema": SCHEMA}},
        "b": None,
        "c": None,
    }


def test_a_server_that_refuses_response_format_is_asked_without_it_from_then_on():
    def answer(prompt, attempt):
        refuse = prompt == "a" and attempt == 0
        return (400, "response_format of type json_schema is not supported", 0) if refuse else (200, "ok", 0)

    with ChatServer(answer) as server:
        model = generator(server, retries=0)
        assert model.generate(["a"], schema=SCHEMA) == ["ok"]  # the refusal does not use up a retry
        assert model.generate(["b"], schema=SCHEMA) == ["ok"]
    assert ["response_format" in b for b in server.bodies] == [True, False, False]


def test_requests_stream_into_free_slots_and_the_pool_is_kept_across_calls():
    last_arrived = threading.Event()

    def answer(prompt, attempt):
        if prompt == "last":
            last_arrived.set()
        elif prompt == "slow":  # held until the last prompt arrives: it can only if the fast ones freed their slot
            last_arrived.wait(5)
        return 200, prompt, 0

    with ChatServer(answer) as server:
        model = generator(server, concurrency=2)
        prompts = ["slow", *[str(i) for i in range(6)], "last"]
        assert model.generate(prompts) == prompts
        assert last_arrived.is_set()
        pool = model.pool
        assert model.generate(["again"]) == ["again"]
    assert model.pool is pool
    assert server.max_in_flight == 2
