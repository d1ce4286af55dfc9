"""Data from anywhere cannot be turned against the user (issue 28): a case per class of the review, in the
style of test_reliability.py (one `error:` line, the exit code, the message, nothing lost), and properties
over many inputs (hypothesis) where a class has them.

1. reports escape what their data says and inline only their own figures
2. checkpoints load without pickle
3. credentials are used, never recorded
4. writes replace links, never write through them
5. paths from data stay in their folder
6. chat servers cannot hang or crash a build
7. keys are unique per dataset; staging copies do not outlive their writer
8. bad inputs are one line, bounded in memory, and nothing writes into the installed package
"""

import gzip
import html.parser
import json
import os
import re
import shutil
import signal
import struct
import threading
import time
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import synthetic_dataset
from cultureclip.cli import main
from helpers.chat_server import ChatServer, Raw
from helpers.faults import TRAIN, Case, chat_generator, copy_run, run_case, tiny_build, unfinished_training

DEAD_PID = 4_194_304 + 7
"""Above Linux's largest PID: no process has it."""


def _release(tmp: Path, rows: list[dict], name: str = "rows.jsonl") -> Path:
    (tmp / "images").mkdir(exist_ok=True)
    for i in range(2):
        Image.fromarray(np.full((6, 5, 3), 40 * i + 1, np.uint8)).save(tmp / "images" / f"i{i}.png")
    (tmp / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp / name


def _pair(sample="s1", pos="images/i0.png", neg="images/i1.png", **extra) -> dict:
    return {
        "sample_id": sample,
        "pos_concept": "Erhu",
        "pos_caption": "An erhu on a stage.",
        "pos_image_path": pos,
        "neg_concept": "Guzheng",
        "neg_caption": "A guzheng in a hall.",
        "neg_image_path": neg,
        **extra,
    }


def _import(tmp: Path, rows: list[dict], *extra: str) -> list[str]:
    return ["import", "cultwin", str(_release(tmp, rows)), "--out", str(tmp / "ds"), *extra]


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height pixels (a decompression bomb: small file, huge image)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


# ---------------------------------------------------------------------------------------------------------
# 1. reports

EVIL_NAME = '<img src=x onerror="alert(1)">gyoza'
EVIL_CAPTION = "A gyoza ![leak](../secret.png) <script>alert(2)</script> [link](javascript:alert(3)) | `x` & &lt;"
TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "table", "thead", "tbody", "tr", "th",
        "td", "ul", "li", "code", "strong", "img"}  # fmt: skip
"""Every tag a report may have: the Markdown's own structure and its figures."""


class _Html(html.parser.HTMLParser):
    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags, self.attrs, self.text = [], [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(tag, k, v) for k, v in attrs]

    def handle_data(self, data):
        self.text.append(data)


def _figures(out: Path) -> None:
    """The figure files a report of `_comparison` has, as tiny PNGs (the plotting is not under test here)."""
    for name in ("per_category.png", "twins.png", "wise.png"):
        Image.new("RGB", (2, 2)).save(out / name)
    (out / "plots").mkdir(exist_ok=True)
    (out / "examples").mkdir(exist_ok=True)


TASKS = ("classification", "choice", "general")


def _comparison(name: str, caption: str, image: Path, model: str = "tuned"):
    """A Comparison and the run view's metrics holding `name` as a concept, category, culture, group and
    image id, `caption` as a caption, and `model` as the second model's name."""
    from cultureclip.config import DatasetSpec
    from cultureclip.eval.datasets.base import EvalDataset, EvalItem, FileImage
    from cultureclip.eval.reports.run import HELD_OUT
    from cultureclip.eval.runner import Comparison
    from cultureclip.eval.tasks import TaskResult

    classes = [name, "gyoza"]
    items = [
        EvalItem(f"{name}-{i}", FileImage(image), i % 2, (caption,), (0, 1), name, name, name, name) for i in range(4)
    ]  # fmt: skip
    data = EvalDataset(HELD_OUT, items, classes)
    per = {name: 0.5, "other": 0.25}
    confused = [{"true": name, "predicted": "gyoza", "count": 2}]
    confusion = {name: {"acc": 0.5, "matrix": [[1, 1], [1, 1]], "classes": classes}}

    def result(shift: int) -> TaskResult:
        metrics = {"top1": 0.5, "twin_acc": 0.5, "general_acc": 0.5, "per_category": per, "per_culture": per}
        records = [{"id": it.id, "label": classes[it.label], "pred": classes[(it.label + shift) % 2],
                    "twin_acc": int(shift == 0)} for it in items]  # fmt: skip
        return TaskResult(metrics | {"most_confused": confused}, records, ("twin_acc",), {"confusion": confusion})

    models = {"base": 0, model: 1}
    comparison = Comparison(
        {
            m: {
                "id": f"local:/models/{name}",
                "fingerprint": "0123456789abcdef",
                "encoded": {"images": 4, "texts": 2},
                "seconds": 1.0,
            }
            for m in models
        },  # fmt: skip
        {HELD_OUT: data},
        {HELD_OUT: DatasetSpec.model_construct(kind="shards", path=Path(f"/data/{name}"), name=None)},
        unreadable={HELD_OUT: [(f"/data/{name}.png", f"broken: {caption}")]},
        results={m: {HELD_OUT: {t: result(s) for t in TASKS}} for m, s in models.items()},
        notes=[caption],
        deltas={m: {HELD_OUT: {t: {} for t in TASKS}} for m in models},
        stages={name: 1.0},
        wise=[{"alpha": a, "model": model, "concept_acc": 0.5, "twin_acc": 0.5, "general_acc": 0.5} for a in (0, 1)],
    )
    metrics = {m: {"concept_acc": 0.5, "twin_acc": 0.5, "general_acc": 0.5,
                   "per_category": {name: {"concept_acc": 0.5, "twin_acc": 0.5, "general_acc": 0.5}},
                   "top_twin_confusions": confused} for m in models}  # fmt: skip
    shown = [{"name": name, "culture": name, "caption": caption}]
    return comparison, metrics, shown


def _both_reports(out: Path, name: str, caption: str, model: str = "tuned") -> dict[str, str]:
    """{file: text} of report.md and report.html of the run view and the comparison view."""
    from cultureclip.eval.reports import compare, run
    from cultureclip.eval.reports.html import to_html

    image = out.parent / "image.png"
    if not image.is_file():
        Image.new("RGB", (4, 4), "red").save(image)
    comparison, metrics, shown = _comparison(name, caption, image, model)
    run_md = run.render(comparison, metrics, shown)
    compare_md = compare.render(comparison, out)
    return {
        "run.md": run_md,
        "run.html": to_html(run_md, out),
        "compare.md": compare_md,
        "compare.html": to_html(compare_md, out),
    }


def _check_report(texts: dict[str, str], out: Path, caption: str) -> None:
    """No tag but the report's own, no event handler, every image an inlined figure of `out`; report.md
    holds no raw HTML and no image but the figures (as any Markdown renderer reads it)."""
    from markdown_it import MarkdownIt

    from cultureclip.eval.reports.html import FIGURE

    for file, text in texts.items():
        if file.endswith(".html"):
            page = _Html(text)
            assert set(page.tags) <= TAGS, (file, set(page.tags) - TAGS)
            allowed = {("meta", "charset"), ("img", "src"), ("img", "alt"), ("th", "style"), ("td", "style")}
            assert {(tag, k) for tag, k, _ in page.attrs} <= allowed, page.attrs
            assert {v for _, k, v in page.attrs if k == "style"} <= {"text-align:right"}, page.attrs
            srcs = [v for tag, k, v in page.attrs if k == "src"]
            assert all(s.startswith("data:image/png;base64,") for s in srcs), [s[:80] for s in srcs]
            if file == "run.html":  # the caption shows as the text it is
                visible = re.sub(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+", " ", caption).strip()
                assert visible in "".join(page.text), (visible, "".join(page.text)[-400:])
        else:
            tokens = MarkdownIt("commonmark").enable("table").parse(text)  # raw HTML on, as GitHub reads it
            inline = [t for tok in tokens for t in [tok, *(tok.children or [])]]
            assert not [t for t in inline if t.type in ("html_block", "html_inline")], file
            images = [t.attrGet("src") for t in inline if t.type == "image"]
            assert all(FIGURE.fullmatch(s) and (out / s).is_file() for s in images), images


def test_reports_escape_data_and_inline_only_their_own_figures(tmp_path):
    out = tmp_path / "report"
    out.mkdir()
    _figures(out)
    (tmp_path / "secret.png").write_bytes(b"\x89PNG secret")
    texts = _both_reports(out, EVIL_NAME, EVIL_CAPTION, model="<b>m</b>")
    _check_report(texts, out, EVIL_CAPTION)
    page = texts["run.html"]
    assert "secret" not in page.replace("../secret.png", "") and base64_of(b"\x89PNG secret") not in page
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page and "<script>" not in page
    assert page.count("data:image/png;base64,") == 3  # per_category.png, wise.png and twins.png, nothing else


def base64_of(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


def test_a_figure_that_is_a_link_out_of_the_folder_is_not_inlined(tmp_path):
    from cultureclip.eval.reports.html import to_html

    out = tmp_path / "report"
    out.mkdir()
    (tmp_path / "private.png").write_bytes(b"private")
    (out / "twins.png").symlink_to(tmp_path / "private.png")
    page = to_html("![twins](twins.png) ![x](/etc/hostname) ![y](plots/../../private.png)", out)
    assert "src=" not in page and base64_of(b"private") not in page


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(min_size=1, max_size=40), caption=st.text(max_size=80))
@example(name="1. one", caption="    # two")
@example(name="- a", caption="===")
@example(name="+ b", caption="2) x ``` ~~~ ___ ***")
def test_any_text_as_a_concept_name_or_caption_leaves_no_tag_and_no_foreign_image(tmp_path, monkeypatch, name, caption):
    from cultureclip.eval.reports import compare, sections

    assume(name.strip() and name not in ("base", "tuned", "gyoza", "other"))

    def figure(*args) -> bool:  # the figure file, without plotting (what is plotted is not under test here)
        Image.new("RGB", (2, 2)).save(args[-1])
        return True

    monkeypatch.setattr(compare, "bar_plot", figure)
    monkeypatch.setattr(compare, "confusion_plot", figure)
    monkeypatch.setattr(sections, "thumbnail", figure)
    out = tmp_path / "report"
    out.mkdir(exist_ok=True)
    _figures(out)
    _check_report(_both_reports(out, name, caption), out, caption)


# ---------------------------------------------------------------------------------------------------------
# 2. checkpoints


class _Payload:
    """Unpickling this creates the file `marker`: code run by loading a checkpoint."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _planted_checkpoint(tmp, world):
    work, args = unfinished_training(tmp, world)
    torch.save({"step": 1, "model": _Payload(tmp / "ran")}, work / "checkpoint-0000001.pt")
    return ["train", *args, *TRAIN, "--resume"]


def test_a_real_checkpoint_loads_without_pickle(tmp_path):
    from cultureclip.train.checkpoint import load_checkpoint, save_checkpoint

    def parts(seed: int):
        torch.manual_seed(seed)
        model = torch.nn.Linear(3, 2)
        optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
        model(torch.ones(1, 3)).sum().backward()
        optimizer.step()
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0 / (s + 1))
        schedule.step()
        return model, optimizer, schedule, torch.amp.GradScaler("cpu", enabled=False)

    saved = parts(0)
    path = save_checkpoint(tmp_path, 5, *saved)
    loaded = parts(1)
    assert load_checkpoint(path, *loaded) == 5
    assert torch.equal(loaded[0].weight, saved[0].weight)
    assert loaded[1].state_dict()["state"][0]["exp_avg"].equal(saved[1].state_dict()["state"][0]["exp_avg"])
    assert loaded[2].last_epoch == saved[2].last_epoch


# ---------------------------------------------------------------------------------------------------------
# 3. credentials

SECRETS = ("s3cret-pass", "q-token-77")


def _secret_url(url: str) -> str:
    return url.replace("http://", f"http://alice:{SECRETS[0]}@") + f"?key={SECRETS[1]}"


def test_a_credential_in_base_url_is_used_but_never_recorded(tmp_path, capsys, caplog):
    with ChatServer(lambda prompt, attempt: (500, "down", 0)) as server:
        url = _secret_url(server.url)
        argv = tiny_build(tmp_path, chat_generator(url))
        assert main([*argv, "build.max_failed_share=1.0"]) == 0  # every caption falls back, with its note
    assert all(h.get("Authorization", "").startswith("Basic ") for h in server.headers)  # the credential was used
    logged = capsys.readouterr().err + caplog.text
    assert "***@127.0.0.1" in logged and not any(s in logged for s in SECRETS)
    files = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    assert len(files) > 5
    for file in files:
        data = file.read_bytes()
        assert not any(s.encode() in data for s in SECRETS), file
    from cultureclip.data.shards import read_manifest

    notes = {r["caption_note"] for r in read_manifest(tmp_path / "run" / "data")}
    assert notes and all(re.search(r"http://\*\*\*@127.0.0.1:\d+/v1\?\*\*\*: HTTP 500", n) for n in notes), notes


# ---------------------------------------------------------------------------------------------------------
# 4. links


def test_the_writer_replaces_a_link_and_never_writes_through_it(tmp_path):
    from cultureclip.io import atomic_path, mark_done, write_bytes, write_json, write_text

    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    folder = tmp_path / "folder"
    folder.mkdir()
    writers = {
        "a.txt": lambda p: write_text(p, "new"),
        "b.json": lambda p: write_json(p, {"new": 1}),
        "c.bin": lambda p: write_bytes(p, b"new"),
        ".done": lambda p: mark_done(folder, "new"),
    }
    for name in writers:
        (folder / name).symlink_to(victim)
        (folder / f".{name}.tmp-{DEAD_PID}").symlink_to(victim)  # a planted staging name, too
    for name, write in writers.items():
        write(folder / name)
        assert not (folder / name).is_symlink() and "new" in (folder / name).read_text()
    with atomic_path(folder / "sub") as tmp:  # a folder output over a link to a folder
        tmp.mkdir()
    assert victim.read_text() == "keep" and sorted(p.name for p in folder.iterdir()) == sorted([*writers, "sub"])


def test_report_figures_replace_a_link_at_their_name(tmp_path):
    from cultureclip.eval.reports.plots import plot_wise

    victim = tmp_path / "victim.png"
    victim.write_bytes(b"keep")
    (tmp_path / "wise.png").symlink_to(victim)
    point = {"alpha": 0.0, "model": "m", "general_acc": 0.5, "twin_acc": 0.4, "concept_acc": 0.3}
    plot_wise([point], tmp_path / "wise.png")
    assert victim.read_bytes() == b"keep" and not (tmp_path / "wise.png").is_symlink()


def _linked_lock(tmp, world):
    run, args = copy_run(world, tmp)
    (tmp / "victim").write_text("keep")
    (run / ".lock").unlink(missing_ok=True)
    (run / ".lock").symlink_to(tmp / "victim")
    return ["eval", *args]


def _linked_work(tmp, world):
    run, args = copy_run(world, tmp)
    shutil.rmtree(run / "data")
    (tmp / "victim").mkdir()
    (tmp / "victim" / "mine.txt").write_text("keep")
    (run / "data.work").symlink_to(tmp / "victim")
    return ["build", *args]


# ---------------------------------------------------------------------------------------------------------
# 5. paths


def _shard_outside(tmp, world):
    import pyarrow as pa
    import pyarrow.parquet as pq

    shutil.copytree(world.run / "data", tmp / "d")
    shutil.copytree(world.run / "data", tmp / "elsewhere")
    table = pq.read_table(tmp / "d" / "manifest.parquet")
    shards = ["../elsewhere/" + s if s else s for s in table["shard"].to_pylist()]
    table = table.set_column(table.column_names.index("shard"), "shard", pa.array(shards, pa.string()))
    pq.write_table(table, tmp / "d" / "manifest.parquet")
    return ["compare", "--models", "a=config:test-clip", "-d", f"shards:{tmp / 'd'}", "-o", str(tmp / "e")]


def test_wit_rows_name_no_path_outside_their_folder(tmp_path):
    from cultureclip.config import CorpusConfig
    from cultureclip.data.corpora import read_corpus
    from cultureclip.errors import DataError

    def read_wit_rows(cfg: CorpusConfig) -> list:
        return list(read_corpus(cfg))

    def rows(*lines: dict, name: str = "wit.jsonl") -> CorpusConfig:
        (tmp_path / name).write_text("".join(json.dumps(line) + "\n" for line in lines))
        return CorpusConfig(kind="wit", path=tmp_path / name, images=tmp_path / "images")

    with pytest.raises(DataError, match=r"wit.jsonl: row k1: image_path '/etc/hostname' is outside the rows' folder"):
        read_wit_rows(rows({"key": "k1", "page_title": "t", "image_path": "/etc/hostname"}))
    with pytest.raises(DataError, match=r"wit.jsonl: row k1: image_path '../x.png' is outside the rows' folder"):
        read_wit_rows(rows({"key": "k1", "page_title": "t", "image_path": "../x.png"}))
    with pytest.raises(DataError, match=r"wit.jsonl: row 0: key '../../x' is not a sample key"):
        read_wit_rows(rows({"key": "../../x", "page_title": "t"}))
    inside = read_wit_rows(rows({"key": "k1", "page_title": "t", "image_path": "images/k1.jpg"}))
    assert inside[0].image.path == str(tmp_path / "images" / "k1.jpg")


# ---------------------------------------------------------------------------------------------------------
# 6. chat servers


def _chat(url: str, **options):
    from cultureclip.backends.chat import create_chat_model
    from cultureclip.config import ChatModelConfig

    return create_chat_model(ChatModelConfig(name="openai:m", base_url=url, backoff_s=0.01, **options))


def test_a_server_dripping_bytes_is_cut_off_at_the_request_deadline():
    from cultureclip.errors import GenerationError

    body = json.dumps({"choices": [{"message": {"content": "x" * 200}}]}).encode()
    raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + body
    with ChatServer(lambda prompt, attempt: (200, Raw(raw, every=0.02), 0)) as server:
        start = time.perf_counter()
        with pytest.raises(GenerationError, match=r"ReadTimeout after 2 attempts"):
            _chat(server.url, timeout_s=0.4, retries=1).generate(["x"])
        assert time.perf_counter() - start < 2.0  # each read came within 0.02 s: only the deadline stops it


def test_a_reply_of_megabytes_is_refused_unread(tmp_path):
    from cultureclip.errors import GenerationError

    with ChatServer(lambda prompt, attempt: (200, "x" * 8_000_000, 0)) as server:
        start = time.perf_counter()
        with pytest.raises(GenerationError, match=r"answer too long \(8,000,\d+ bytes announced"):
            _chat(server.url, retries=0).generate(["x"])
        assert time.perf_counter() - start < 3.0


@pytest.mark.parametrize(
    "body, reason",
    [
        (None, r"no text in the answer \(content null, finish_reason 'None'\)"),
        (b'{"choices": [{"message": {"content": null, "tool_calls": []}, "finish_reason": "tool_calls"}]}',
         r"no text in the answer \(content null, finish_reason 'tool_calls'\)"),
        (b'{"choices": ' + b"[" * 20_000 + b"]" * 20_000 + b"}", r"malformed chat-completions answer \(JSON nested"),
        (b'{"choices": []}', r"malformed chat-completions answer \(no choice\)"),
        (b"\xff\xfe garbage", r"malformed chat-completions answer \(not JSON\)"),
        (b'{"choices": [{"message": {"content": ["a"]}}]}', r"no text in the answer \(content list"),
        ("é" * 3000, r"answer too long \(3,000 characters > 2,560 for max_new_tokens=80\)"),
    ],
)  # fmt: skip
def test_a_malformed_answer_is_a_generation_error_with_its_reason(body, reason):
    from cultureclip.errors import GenerationError

    with ChatServer(lambda prompt, attempt: (200, body, 0)) as server:
        with pytest.raises(GenerationError, match=reason):
            _chat(server.url, retries=0).generate(["x"])


def test_ctrl_c_ends_a_build_waiting_on_a_server_within_a_second():
    # Python keeps SIGINT ignored when it starts ignored (pytest run as a shell's background job): handle it here
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with ChatServer(lambda prompt, attempt: (200, "late", 30)) as server:
            model = _chat(server.url, concurrency=3, timeout_s=60)
            before = set(threading.enumerate())
            main_thread = threading.main_thread().ident
            timer = threading.Timer(0.5, signal.pthread_kill, (main_thread, signal.SIGINT))
            timer.start()
            start = time.perf_counter()
            with pytest.raises(KeyboardInterrupt):
                model.generate(["a", "b", "c", "d"])
            assert time.perf_counter() - start < 1.5  # 0.5 s until Ctrl-C, then at most a second
            pool = [t for t in threading.enumerate() if t not in before and t.name.startswith("ThreadPoolExecutor")]
            assert not pool  # the request threads ended with it
    finally:
        signal.signal(signal.SIGINT, previous)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
ANSWERS = st.one_of(
    st.binary(max_size=300),
    JSON.map(lambda v: json.dumps(v).encode()),
    JSON.map(lambda v: json.dumps({"choices": [{"message": {"content": v}}]}).encode()),
    JSON.map(lambda v: json.dumps({"choices": v}).encode()),
    st.text(max_size=200).map(lambda t: json.dumps({"choices": [{"message": {"content": t}}]}).encode()),
)


@pytest.fixture(scope="module")
def any_answer():
    """One server for the property: it answers with whatever `reply[0]` holds."""
    reply = [b""]
    with ChatServer(lambda prompt, attempt: (200, reply[0], 0)) as server:
        yield reply, _chat(server.url, retries=0, max_new_tokens=8)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answer=ANSWERS)
def test_any_bytes_as_a_chat_reply_are_text_or_a_generation_error(any_answer, answer):
    from cultureclip.errors import GenerationError

    reply, model = any_answer
    reply[0] = answer
    try:
        texts = model.generate(["x"])
    except GenerationError as err:
        assert "\n" not in str(err) and str(err).startswith("http://127.0.0.1:")
    else:
        assert isinstance(texts[0], str) and len(texts[0]) <= 32 * 8


def _garbage_server(body: bytes):
    def setup(tmp, world):
        def command():
            with ChatServer(lambda prompt, attempt: (200, body, 0)) as server:
                return main(tiny_build(tmp, chat_generator(server.url)))

        return command

    return setup


# ---------------------------------------------------------------------------------------------------------
# 7. keys and staging


def test_a_release_whose_splits_share_sample_ids_imports_with_distinct_keys(tmp_path):
    from cultureclip.data.shards import read_manifest

    train = _release(tmp_path, [_pair("s1")], "train.jsonl")
    valid = _release(tmp_path, [_pair("s1", "images/i1.png", "images/i0.png")], "valid.jsonl")
    assert main(["import", "cultwin", str(train), "--test", str(valid), "--out", str(tmp_path / "ds")]) == 0
    rows = read_manifest(tmp_path / "ds")
    assert len({r["key"] for r in rows}) == len(rows) == 4 and {r["split"] for r in rows} == {"train", "test"}


def test_a_duplicate_key_is_refused_when_the_manifest_is_written(tmp_path):
    from cultureclip.data.shards import write_manifest
    from cultureclip.errors import DataError

    rows = [{"key": "a", "split": "train"}, {"key": "b", "split": "train"}, {"key": "a", "split": "test"}]
    with pytest.raises(DataError, match=r"key 'a' is given to two rows \(0 and 2, splits 'train' and 'test'\)"):
        write_manifest(tmp_path, rows)
    assert not (tmp_path / "manifest.parquet").exists()


def _duplicate_keys(tmp, world):
    import pyarrow as pa
    import pyarrow.parquet as pq

    shutil.copytree(world.run / "data", tmp / "d")
    table = pq.read_table(tmp / "d" / "manifest.parquet")
    keys = table["key"].to_pylist()
    keys[-1] = keys[0]  # as an older import wrote them: one key in two splits
    table = table.set_column(table.column_names.index("key"), "key", pa.array(keys))
    pq.write_table(table, tmp / "d" / "manifest.parquet")
    (tmp / "before").write_bytes((tmp / "d" / "manifest.parquet").read_bytes())
    return ["score-captions", str(tmp / "d"), "score.judge=null", "score.rubric=null"]


def test_a_killed_imports_staging_copy_is_removed_by_the_next(tmp_path):
    stale = tmp_path / f".ds.tmp-{DEAD_PID}"
    (stale / "sub").mkdir(parents=True)
    (stale / "sub" / "big.tar").write_bytes(b"x" * 1000)
    live = tmp_path / f".ds.tmp-{os.getppid()}"
    live.mkdir()  # a running process's (the parent's): left alone
    assert main(_import(tmp_path, [_pair()])) == 0
    assert not stale.exists() and live.exists() and (tmp_path / "ds" / "manifest.parquet").is_file()


# ---------------------------------------------------------------------------------------------------------
# 8. bad inputs


def _bomb_release(tmp, world):
    (tmp / "images").mkdir()
    (tmp / "images" / "bomb.png").write_bytes(_png_header(100_000, 100_000))
    return _import(tmp, [_pair(pos="images/bomb.png")])


def _wit_rows(path: Path) -> list:
    from cultureclip.config import CorpusConfig
    from cultureclip.data.corpora import read_corpus

    return list(read_corpus(CorpusConfig(kind="wit", path=path, images=path.parent)))


def _wit_broken(tmp_path: Path, text: str):
    (tmp_path / "wit.jsonl").write_text(text)
    return _wit_rows(tmp_path / "wit.jsonl")


def test_wit_rows_with_a_broken_line_or_a_key_with_a_dot_are_one_line(tmp_path):
    from cultureclip.errors import DataError

    with pytest.raises(DataError, match=r"wit.jsonl: not valid JSON \(line 2\)"):
        _wit_broken(tmp_path, '{"page_title": "a"}\n{"page_title": \n')
    with pytest.raises(DataError, match=r"wit.jsonl: row 0: key 'a.b' is not a sample key"):
        _wit_broken(tmp_path, '{"key": "a.b", "page_title": "a"}\n')
    (tmp_path / "w.jsonl").write_bytes(b'{"page_title": "caf\xe9"}\n')
    with pytest.raises(DataError, match=r"w.jsonl: not a UTF-8 text file \(byte 19\)"):
        _wit_rows(tmp_path / "w.jsonl")


def _idx_bomb(root: Path, megabytes: int = 64) -> Path:
    """Fashion-MNIST files whose images declare 10 images of 28x28 and then decompress to `megabytes` MB."""
    root.mkdir()
    header = struct.pack(">BBBBiii", 0, 0, 8, 3, 10, 28, 28)
    bomb = gzip.compress(header + bytes(megabytes << 20), compresslevel=1)
    labels = gzip.compress(struct.pack(">BBBBi", 0, 0, 8, 1, 10) + bytes(10))
    for split in ("train", "t10k"):
        (root / f"{split}-images-idx3-ubyte.gz").write_bytes(bomb)
        (root / f"{split}-labels-idx1-ubyte.gz").write_bytes(labels)
    return root


def test_a_gzip_bomb_given_as_fashion_mnist_is_refused_reading_no_more_than_declared(tmp_path):
    from cultureclip.data.mnist_idx import read_idx
    from cultureclip.errors import DataError

    root = _idx_bomb(tmp_path / "fm")
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=r"more bytes but the header \(10, 28, 28\) needs 7856"):
            read_idx(root / "t10k-images-idx3-ubyte.gz")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, peak  # not the 64 MB it decompresses to


def _score_offline(tmp, world, monkeypatch):
    import open_clip

    def offline(*args, **kwargs):
        raise RuntimeError("Failed to download weights for tag 'openai': cannot find the files in the local cache")

    monkeypatch.setattr(open_clip, "create_model_and_transforms", offline)
    shutil.copytree(world.run / "data", tmp / "d")
    (tmp / "before").write_bytes((tmp / "d" / "manifest.parquet").read_bytes())
    return ["score-captions", str(tmp / "d"), "score.rubric=null"]


def _eval_before_train(tmp, world):
    run, args = copy_run(world, tmp)
    shutil.rmtree(run / "models")
    return ["eval", *args]


def test_catalog_twins_of_the_shipped_catalogue_leaves_the_package_as_it_is(tmp_path, monkeypatch):
    import cultureclip
    from cultureclip.catalog import jobs
    from cultureclip.catalog.twins import Mined

    monkeypatch.setattr(jobs, "create_text_embedder", lambda name: None)
    monkeypatch.setattr(jobs, "mine_twins", lambda *args: Mined({"a": [("b", 0.9)]}, [{"curated": False}]))
    package = Path(cultureclip.__file__).parent
    before = {p: p.read_bytes() for p in package.rglob("*") if p.is_file() and p.suffix in (".jsonl", ".yaml")}
    assert main(["catalog", "twins", "--out", str(tmp_path / "mined.jsonl")]) == 0
    assert {p: p.read_bytes() for p in before} == before
    assert (tmp_path / "mined.twin_groups.jsonl").read_text() == '{"curated": false}\n'
    out = str(package / "catalog" / "data" / "x.jsonl")
    assert main(["catalog", "twins", "--out", str(tmp_path / "m.jsonl"), f"mining.groups_out={out}"]) == 2
    assert not Path(out).exists()


RELEASE_ROWS = st.dictionaries(
    st.sampled_from(
        [
            "sample_id",
            "pos_concept",
            "pos_caption",
            "pos_image_path",
            "neg_concept",
            "neg_caption",
            "neg_image_path",
            "metadata",
            "pos_caption_id",
            "pos_context",
        ]
    ),  # fmt: skip
    st.none()
    | st.integers()
    | st.text(max_size=30)
    | st.sampled_from(["images/i0.png", "../i.png", "/etc/hostname"])
    | st.dictionaries(st.sampled_from(["category", "pos_features"]), st.text(max_size=10) | st.integers()),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(row=RELEASE_ROWS, raw=st.binary(max_size=40))
def test_any_release_row_imports_or_is_one_line(tmp_path, capsys, row, raw):
    shutil.rmtree(tmp_path / "ds", ignore_errors=True)
    release = _release(tmp_path, [_pair() | row])
    with release.open("ab") as f:
        f.write(raw if raw.strip() else b"")
    capsys.readouterr()
    code = main(["import", "cultwin", str(release), "--out", str(tmp_path / "ds")])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert "Traceback" not in err and (code, len(lines)) in ((0, 0), (2, 1)), err


CASES = [
    Case(
        "2. a planted pickle under --resume",
        _planted_checkpoint,
        r"error: checkpoint .*checkpoint-0000001.pt: refused, it holds objects other than tensors and plain values",
        kept=lambda tmp: (
            not (tmp / "ran").exists() and (tmp / "run" / "models" / "tuned.work" / "checkpoint-0000001.pt").is_file()
        ),
    ),
    Case(
        "3. a credential in base_url, in a refusal",
        lambda tmp, w: tiny_build(tmp, chat_generator(_secret_url(f"http://127.0.0.1:{_closed_port()}/v1"))),
        r"error: http://\*\*\*@127.0.0.1:\d+/v1\?\*\*\*: cannot connect \(.*\); start the server or fix base_url",
        kept=lambda tmp: not any(s.encode() in p.read_bytes() for p in tmp.rglob("*") if p.is_file() for s in SECRETS),
    ),
    Case(
        "4. a run folder whose .lock is a link",
        _linked_lock,
        r"error: .*/run/.lock: is a link, not a lock file; remove it",
        kept=lambda tmp: (tmp / "victim").read_text() == "keep",
    ),
    Case(
        "4. a build work folder that is a link",
        _linked_work,
        r"error: .*/run/data.work: is a link, not a folder of its own; remove it \(nothing was written\)",
        kept=lambda tmp: [p.name for p in (tmp / "victim").iterdir()] == ["mine.txt"],
    ),
    Case(
        "5. a release image path outside its folder",
        lambda tmp, w: _import(tmp, [_pair(pos="../../etc/hostname")]),
        r"error: .*rows.jsonl: row 0: field 'pos_image_path': image '../../etc/hostname' is outside the "
        r"release's folder .*; pass --images FOLDER",
        kept=lambda tmp: not (tmp / "ds").exists(),
    ),
    Case(
        "5. a release image path outside --images",
        lambda tmp, w: _import(tmp, [_pair(pos=str(tmp / "images" / "i0.png"))], "--images", str(tmp / "other")),
        r"error: .*rows.jsonl: row 0: field 'pos_image_path': no such image .*/other/",
        kept=lambda tmp: not (tmp / "ds").exists(),
    ),
    Case(
        "5. a manifest's shard outside its folder",
        _shard_outside,
        r"error: .*/d: manifest.parquet names shard '../elsewhere/test-00000.tar', not a .tar file of this folder",
        kept=lambda tmp: not (tmp / "e").exists(),
    ),
    Case(
        "5. a model name that leaves --out",
        lambda tmp, w: [
            "compare",
            "--models",
            "../../x=config:test-clip",
            "-d",
            f"shards:{w.run / 'data'}",
            "-o",
            str(tmp / "e"),
        ],  # fmt: skip
        r"error: --models '../../x=config:test-clip': the model name '../../x': not usable as a file name",
        kept=lambda tmp: not (tmp / "e").exists() and not (tmp.parent / "x").exists(),
    ),
    Case(
        "6. a caption server answering content null",
        _garbage_server(b'{"choices": [{"message": {"content": null}, "finish_reason": "length"}]}'),
        r"error: 8 of 8 rows failed or fell back .*most often \"fallback: generator error: http://127.0.0.1:\d+/v1: "
        r"no text in the answer \(content null, finish_reason 'length'\)\" \(8x\); nothing published",
        kept=lambda tmp: not (tmp / "run" / "data").exists(),
    ),
    Case(
        "6. a caption server answering garbage",
        _garbage_server(b"\x00\xff{{{[[[" * 1000),
        r"error: 8 of 8 rows failed or fell back .*malformed chat-completions answer \(not JSON\)",
        kept=lambda tmp: not (tmp / "run" / "data").exists(),
    ),
    Case(
        "7. a dataset whose manifest gives a key to two rows, scored",
        _duplicate_keys,
        r"error: .*/d: key '.*' is given to two rows \(0 and \d+, splits 'train' and 'test'\); keys must be unique",
        kept=lambda tmp: (tmp / "d" / "manifest.parquet").read_bytes() == (tmp / "before").read_bytes(),
    ),
    Case(
        "8. a decompression bomb in a release",
        _bomb_release,
        r"error: .*rows.jsonl: row 0: field 'pos_image_path': .*bomb.png is too large to decode \(.*100000",
        kept=lambda tmp: not (tmp / "ds").exists(),
    ),
    Case(
        "8. a non-UTF-8 release",
        lambda tmp, w: ["import", "cultwin", str(_file(tmp, "r.jsonl", b'{"a": "caf\xe9"}\n')), "-o", str(tmp / "ds")],
        r"error: .*r.jsonl: not a UTF-8 text file \(byte 10\)",
        kept=lambda tmp: not (tmp / "ds").exists(),
    ),
    Case(
        "8. a non-UTF-8 eval manifest",
        lambda tmp, w: _eval_manifest(tmp, b'{"image": "caf\xe9.png"}\n'),
        r"error: .*m.jsonl: not a UTF-8 text file \(byte 14\)",
        kept=lambda tmp: not (tmp / "e").exists(),
    ),
    Case(
        "8. a gzip bomb given as Fashion-MNIST",
        lambda tmp, w: [
            "compare",
            "--models",
            "a=config:test-clip",
            "-d",
            f"fashion_mnist:{_idx_bomb(tmp / 'fm', 8)}",
            "-o",
            str(tmp / "e"),
        ],  # fmt: skip
        r"error: .*/fm/(t10k|train)-images-idx3-ubyte.gz: more bytes but the header \(10, 28, 28\) needs 7856",
        kept=lambda tmp: not (tmp / "e").exists(),
    ),
    Case(
        "8. eval on a run folder before train",
        _eval_before_train,
        r"error: .*/run: no trained model to evaluate in models/; run `cultureclip train` on it first",
        kept=lambda tmp: (tmp / "run" / "data" / "manifest.parquet").is_file(),
    ),
    Case(
        "8. score-captions with its default judge offline",
        _score_offline,
        r"error: model id open_clip:ViT-B-32@openai: its weights are neither in the local cache nor downloadable",
        kept=lambda tmp: (tmp / "d" / "manifest.parquet").read_bytes() == (tmp / "before").read_bytes(),
    ),
]


def _eval_manifest(tmp: Path, data: bytes) -> list[str]:
    manifest = _file(tmp, "m.jsonl", data)
    return ["compare", "--models", "a=config:test-clip", "-d", f"manifest:{manifest}", "-o", str(tmp / "e")]


def _file(tmp: Path, name: str, data: bytes) -> Path:
    (tmp / name).write_bytes(data)
    return tmp / name


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_attack_is_one_line_and_loses_nothing(case, world, tmp_path, capsys, monkeypatch):
    run_case(case, tmp_path, world, capsys, monkeypatch)


def test_synthetic_datasets_still_import_cleanly(tmp_path):
    """The checks refuse only what leaves its place: an ordinary dataset is written and read as before."""
    from cultureclip.data.shards import read_manifest, split_rows

    synthetic_dataset(tmp_path / "d")
    assert len(read_manifest(tmp_path / "d")) == len(split_rows(tmp_path / "d", "train")) == 12
