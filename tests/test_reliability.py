"""Careless and unlucky users, one case per input kind and fault: every command answers with one line
naming the problem and a non-zero exit code, never a traceback or a silent wrong result, and loses nothing.

Each case sets up its files, runs the CLI in-process and checks the message, the exit code and that
what was there before is still there. The table's messages are the note's table (issue 18).
"""

import errno
import os
import re
import shutil
import socket
import time
from pathlib import Path

import pytest
import torch

from conftest import synthetic_dataset
from cultureclip.cli import INTERRUPTED, main
from cultureclip.io import folder_lock
from helpers.chat_server import ChatServer
from helpers.faults import SMALL, TRAIN, Case, chat_generator, copy_run, run_case, tiny_build, unfinished_training


def _notes(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notes.txt").write_text("my notes")
    return folder


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _truncate(file: Path) -> None:
    data = file.read_bytes()
    file.write_bytes(data[: len(data) // 2])


def _edited_catalogue(tmp, world):
    run, args = copy_run(world, tmp)
    catalog = tmp / "catalog.yaml"
    catalog.write_text(catalog.read_text().replace("name: gyoza", "name: gyoza dumpling"))
    return ["build", *args]


def _held_lock(tmp, world):
    run, args = copy_run(world, tmp)

    def command():
        with folder_lock(run, "train"):
            return main(["eval", *args])

    return command


def _interrupted(tmp, world, monkeypatch):
    from cultureclip import run as run_job

    def stop(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_job, "build", stop)
    return ["build", "-c", "tiny", "--out", str(tmp / "run")]


def _disk_full(tmp, world, monkeypatch):
    from cultureclip.builder import pipeline

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp / "run" / "data.tmp"))

    monkeypatch.setattr(pipeline, "write_manifest", full)
    return tiny_build(tmp)


def _read_only(tmp, world, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    return ["build", "-c", "tiny", "--out", str(tmp / "ro" / "run")]


def _server_down_then_edited_catalogue(tmp, world):
    catalog = tmp / "catalog.yaml"
    shutil.copy(world.catalog, catalog)
    args = ["-c", "tiny", "--out", str(tmp / "run"), f"catalog.path={catalog}", *SMALL]
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    start = time.perf_counter()
    assert main(["build", *args, chat_generator(url)]) == 2
    assert time.perf_counter() - start < 60 and (tmp / "run" / "data.work").is_dir()
    catalog.write_text(catalog.read_text().replace("name: gyoza", "name: gyoza dumpling"))
    return ["build", *args, chat_generator(url)]


def _with_server(status: int):
    def setup(tmp, world):
        def command():
            with ChatServer(lambda prompt, attempt: (status, "no", 0)) as server:
                return main(tiny_build(tmp, chat_generator(server.url)))

        return command

    return setup


def _wise(tuned: Path, out: Path) -> list[str]:
    """`cultureclip wise` halfway from the tiny CLIP to the model folder `tuned`, into `out`."""
    return ["wise", "--base", "config:test-clip", "--tuned", f"local:{tuned}", "--alpha", "0.5", "-o", str(out)]


def _missing_weights(tmp, world):
    shutil.copytree(world.model, tmp / "model")
    (tmp / "model" / "open_clip_model.safetensors").unlink()
    return _wise(tmp / "model", tmp / "w")


def _truncated_weights(tmp, world):
    shutil.copytree(world.model, tmp / "model")
    _truncate(tmp / "model" / "open_clip_model.safetensors")
    return _wise(tmp / "model", tmp / "w")


def _missing_key(tmp, world):
    from safetensors.torch import load_file, save_file

    shutil.copytree(world.model, tmp / "model")
    weights = tmp / "model" / "open_clip_model.safetensors"
    state = load_file(weights)
    del state["positional_embedding"]
    save_file(state, weights)
    data = world.run / "data"
    return [
        "eval",
        "--models",
        f"a=config:test-clip,b=local:{tmp / 'model'}",
        "-d",
        f"shards:{data}",
        "-o",
        str(tmp / "e"),
    ]


def _truncated_checkpoint(tmp, world):
    work, args = unfinished_training(tmp, world)
    torch.save({"step": 1}, work / "checkpoint-0000001.pt")
    _truncate(work / "checkpoint-0000001.pt")
    return ["train", *args, *TRAIN, "--resume"]


def _stale_resume(tmp, world):
    """A training interrupted on one dataset, resumed after the dataset was rebuilt."""
    run, args = copy_run(world, tmp)
    tuned = run / "models" / "tuned"
    shutil.copytree(tuned, run / "models" / "tuned.work")
    shutil.copy(tuned / "train_config.yaml", run / "models" / "tuned.work" / "train_config.yaml")
    shutil.rmtree(tuned)
    manifest = run / "data" / "manifest.parquet"
    import pyarrow.parquet as pq

    table = pq.read_table(manifest)
    pq.write_table(table.slice(0, len(table) - 1), manifest)
    return ["train", *args, *TRAIN, "--resume"]


def _corrupt_manifest(tmp, world):
    synthetic_dataset(tmp / "d")
    _truncate(tmp / "d" / "manifest.parquet")
    return ["eval", "--models", "a=config:test-clip", "-d", f"shards:{tmp / 'd'}", "-o", str(tmp / "e")]


def _truncated_shard(tmp, world):
    shutil.copytree(world.run / "data", tmp / "d")
    _truncate(tmp / "d" / "test-00000.tar")
    return ["eval", "--models", "a=config:test-clip", "-d", f"shards:{tmp / 'd'}", "-o", str(tmp / "e")]


def _file(tmp: Path, name: str, data: bytes) -> Path:
    (tmp / name).write_bytes(data)
    return tmp / name


CASES = [
    # 1. outputs never clobber
    Case(
        "wise into a folder of notes",
        lambda tmp, w: _wise(w.model, _notes(tmp / "p")),
        r"error: .*/p: not empty and not written by `cultureclip wise`; choose a new --out \(or pass --overwrite\)",
        kept=lambda tmp: (tmp / "p" / "notes.txt").read_text() == "my notes",
    ),
    Case(
        "catalog twins into a folder",
        lambda tmp, w: ["catalog", "twins", "--out", str(_notes(tmp / "p"))],
        r"error: .*/p: is a folder; name a file to write \(or pass --overwrite to replace the folder\)",
        kept=lambda tmp: (tmp / "p" / "notes.txt").is_file(),
    ),
    Case(
        "import cultwin into a folder of notes",
        lambda tmp, w: ["import", "cultwin", str(_file(tmp, "rows.jsonl", b"{}\n")), "--out", str(_notes(tmp / "p"))],
        r"error: .*/p: not empty and not written by `cultureclip import cultwin`",
        kept=lambda tmp: (tmp / "p" / "notes.txt").is_file(),
    ),
    Case(
        "wise into a trained model's folder",
        lambda tmp, w: _wise(w.model, shutil.copytree(w.run / "models" / "tuned", tmp / "tuned")),
        r"error: .*/tuned: not empty and not written by `cultureclip wise`",
        kept=lambda tmp: (tmp / "tuned" / "open_clip_model.safetensors").is_file(),
    ),
    Case(
        "export clip-benchmark into a folder of notes",
        lambda tmp, w: ["export", "clip-benchmark", str(w.run / "data"), str(_notes(tmp / "p"))],
        r"error: .*/p: not empty and not written by `cultureclip export clip-benchmark`",
        kept=lambda tmp: (tmp / "p" / "notes.txt").is_file(),
    ),
    Case(
        "recaption into a folder of notes",
        lambda tmp, w: ["recaption", str(w.run / "data"), "--out", str(_notes(tmp / "p")), "score.judge=null"],
        r"error: .*/p: not empty and not written by `cultureclip recaption`",
        kept=lambda tmp: (tmp / "p" / "notes.txt").is_file(),
    ),
    Case(
        "build into a folder of notes",
        lambda tmp, w: ["build", "-c", "tiny", "--out", str(_notes(tmp / "p"))],
        r"error: .*/p: holds files but neither config.yaml nor a dataset in data/, so it is not a run folder",
        kept=lambda tmp: sorted(p.name for p in (tmp / "p").iterdir()) == ["notes.txt"],
    ),
    Case(
        "--out is a file",
        lambda tmp, w: ["build", "-c", "tiny", "--out", str(_file(tmp, "f", b"keep"))],
        r"error: .*/f: is a file, not a run folder; choose another --out",
        kept=lambda tmp: (tmp / "f").read_bytes() == b"keep",
    ),
    # 2. inputs are fingerprinted
    Case(
        "a finished build, then an edited catalogue",
        _edited_catalogue,
        r"error: .*/run/data: made with other settings than now "
        r"\(inputs.catalog: .*catalog.yaml sha256:\w{16} -> .*catalog.yaml sha256:\w{16}\); use a new --out",
        kept=lambda tmp: (tmp / "run" / "data" / "manifest.parquet").is_file(),
    ),
    Case(
        "a build killed mid-way, then an edited catalogue",
        _server_down_then_edited_catalogue,
        r"error: .*/run/data.work: left by a build with other settings or inputs "
        r"\(inputs.catalog: .* -> .*\); delete it to start over",
        kept=lambda tmp: (tmp / "run" / "data.work").is_dir(),
    ),
    Case(
        "a training resumed on a rebuilt dataset",
        _stale_resume,
        r"error: .*tuned.work: cannot resume, made with other settings or inputs than now "
        r"\(inputs.data 0: .*manifest.parquet sha256:\w{16} -> .*manifest.parquet sha256:\w{16}\)",
        kept=lambda tmp: (tmp / "run" / "models" / "tuned.work").is_dir(),
    ),
    Case(
        "a refused run leaves the config that ran",
        lambda tmp, w: ["build", *copy_run(w, tmp)[1], "seed=7"],
        r"error: .*/run/data: made with other settings than now \(seed: 0 -> 7\)",
        kept=lambda tmp: re.search(r"^seed: 0$", (tmp / "run" / "config.yaml").read_text(), re.M) is not None,
    ),
    # 3. model files are checked
    Case(
        "a model folder without its weights",
        _missing_weights,
        r"error: .*/model: no weights file \(open_clip_model.safetensors\); the model was not saved here",
        kept=lambda tmp: not (tmp / "w").exists(),
    ),
    Case(
        "a truncated weights file",
        _truncated_weights,
        r"error: .*/model: cannot load model \(Error while deserializing header: .*\)",
    ),
    Case(
        "a weights file missing a key",
        _missing_key,
        r"error: .*/model: cannot load model \(Missing key\(s\) in state_dict: \"positional_embedding\".\)",
        kept=lambda tmp: not (tmp / "e").exists(),
    ),
    # 4. generator failures
    Case(
        "a caption server that is not there",
        lambda tmp, w: tiny_build(tmp, chat_generator(f"http://127.0.0.1:{_closed_port()}/v1")),
        r"error: http://127.0.0.1:\d+/v1: cannot connect \(.*\); start the server or fix base_url",
        kept=lambda tmp: not (tmp / "run" / "data").exists(),
    ),
    Case(
        "a caption server answering 401",
        _with_server(401),
        r"error: http://127.0.0.1:\d+/v1: HTTP 401 for m \(unauthorised: check the API key in \$OPENAI_API_KEY\)",
        kept=lambda tmp: not (tmp / "run" / "data").exists(),
    ),
    Case(
        "a caption server failing every request",
        _with_server(500),
        r"error: 8 of 8 rows failed or fell back \(100% > build.max_failed_share=0.3\), "
        r"most often 'fallback: generator error: .*HTTP 500 after 2 attempts' \(8x\); nothing published",
        kept=lambda tmp: not (tmp / "run" / "data").exists(),
    ),
    # 5. shards and manifests are checked when read
    Case("a truncated shard", _truncated_shard, r"error: .*/d/test-00000.tar: .*"),
    Case("a corrupt manifest", _corrupt_manifest, r"error: .*/d/manifest.parquet: not a readable Parquet file \(.*\)"),
    # 6. run folders are locked
    Case(
        "a run folder in use",
        _held_lock,
        r"error: .*/run: in use by PID \d+ \(cultureclip train\); wait for it to finish or use another --out",
    ),
    # 7. ordinary slips
    Case(
        "a YAML error in an override",
        lambda tmp, w: ["build", "-c", "tiny", "--out", str(tmp / "r"), "build.catalog.max_groups=[1"],
        r"error: override 'build.catalog.max_groups=\[1': the value is not valid YAML \(quote it\)",
    ),
    Case(
        "a wrong type in an override",
        lambda tmp, w: ["build", "-c", "tiny", "--out", str(tmp / "r"), "seed=many"],
        r"error: config error in override 'seed=many': seed: Input should be a valid integer",
    ),
    Case(
        "a missing config file",
        lambda tmp, w: ["build", "-c", str(tmp / "none.yaml")],
        r"error: config '.*none.yaml': no such file and no such preset",
    ),
    Case(
        "a non-UTF-8 config",
        lambda tmp, w: ["build", "-c", str(_file(tmp, "c.yaml", "seed: 1 # caf\xe9".encode("latin-1")))],
        r"error: config error in .*c.yaml: not a UTF-8 text file \(byte \d+\)",
    ),
    Case(
        "a binary catalogue",
        lambda tmp, w: ["catalog", "check", str(_file(tmp, "c.yaml", b"\x89PNG\r\n\x1a\n\x00\xff"))],
        r"error: .*c.yaml: not a UTF-8 text file \(byte \d+\)",
    ),
    Case(
        "an empty catalogue",
        lambda tmp, w: ["catalog", "check", str(_file(tmp, "c.yaml", b""))],
        r"error: .*c.yaml: expected a non-empty list of concepts",
    ),
    Case(
        "a model id of no source, before any stage",
        lambda tmp, w: ["build", "-c", "tiny", "--out", str(tmp / "run"), "model.name=clip:ViT"],
        r"error: model id 'clip:ViT': expected one of",
        kept=lambda tmp: not (tmp / "run").exists(),
    ),
    Case(
        "a device this machine lacks, before any stage",
        lambda tmp, w: ["build", "-c", "tiny", "--out", str(tmp / "run"), "model.device=cuda:64"],
        r"error: config error in override 'model.device=cuda:64': "
        r"model.device: (no CUDA device on this machine|this machine has \d+ CUDA)",
        kept=lambda tmp: not (tmp / "run").exists(),
    ),
    Case(
        "not a device",
        lambda tmp, w: ["build", "-c", "tiny", "model.device=gpu"],
        r"error: config error in override 'model.device=gpu': model.device: expected a torch device",
    ),
    Case(
        "a truncated checkpoint under --resume",
        _truncated_checkpoint,
        r"error: checkpoint .*checkpoint-0000001.pt: unreadable \(.*\); delete it and train again without --resume",
        kept=lambda tmp: (tmp / "run" / "models" / "tuned.work" / "checkpoint-0000001.pt").is_file(),
    ),
    Case(
        "a full disk",
        _disk_full,
        r"error: .*/run/data.tmp: No space left on device",
        kept=lambda tmp: not (tmp / "run" / "data").exists(),
    ),
    Case("a read-only file system", _read_only, r"error: .*/ro/run: Read-only file system"),
    Case("Ctrl-C", _interrupted, re.escape(INTERRUPTED), code=130),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_fault_is_one_line_and_loses_nothing(case, world, tmp_path, capsys, monkeypatch):
    run_case(case, tmp_path, world, capsys, monkeypatch)


def test_a_fixed_caption_server_then_completes_the_build_asking_only_for_what_failed(world, tmp_path):
    """After the share check refused the build, a rerun with the server back asks again only for the
    captions that failed, and publishes them."""
    down = True

    def answer(prompt, attempt):
        name = re.search(r'with "([^"]+)"', prompt)
        return (500, "down", 0) if down else (200, f"{name.group(1)}, a fine thing." if name else "x", 0)

    with ChatServer(answer) as server:
        argv = tiny_build(tmp_path, chat_generator(server.url))
        assert main(argv) == 2
        down = False
        asked = sum(server.attempts.values())
        assert main(argv) == 0
    from cultureclip.data.shards import read_manifest

    rows = read_manifest(tmp_path / "run" / "data")
    assert {r["caption_note"] for r in rows} == {None} and all(r["caption_source"].startswith("openai:m") for r in rows)
    assert sum(server.attempts.values()) - asked == len(server.attempts)  # each caption's prompt asked once more


def test_run_folders_started_in_the_same_second_differ(tmp_path, monkeypatch):
    from cultureclip.run import _new_run_folder

    first, second = _new_run_folder(tmp_path), _new_run_folder(tmp_path)
    assert first != second and first.is_dir() and second.name.startswith(first.name)
