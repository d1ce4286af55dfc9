"""The fault cases' machinery: a shared world (a finished tiny run and a saved model), a case's record, and the
one checker (exit code, exactly one `error:` line, its message, nothing lost)."""

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from conftest import DATA
from cultureclip.cli import main

SMALL = ["build.catalog.max_groups=1", "build.catalog.train_images=1", "build.catalog.test_images=1"]
TRAIN = ["pretrain=null", "finetune.steps=2", "finetune.batch_size=4", "ablations={}"]


def tiny_build(tmp: Path, *extra: str) -> list[str]:
    """The command line of a `build` of the tiny preset at the smallest sizes into TMP/run, with `extra` after."""
    return ["build", "-c", "tiny", "--out", str(tmp / "run"), *SMALL, *extra]


@dataclass
class World:
    """Files every case may copy: a catalogue, a finished run (dataset and tuned model) and a saved model."""

    catalog: Path
    run: Path
    model: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    from cultureclip.backends.clip import create_clip

    root = tmp_path_factory.mktemp("world")
    catalog = root / "catalog.yaml"
    shutil.copy(DATA / "mini_catalog.yaml", catalog)
    run = root / "run"
    assert main(["build", "-c", "tiny", "--out", str(run), f"catalog.path={catalog}", *SMALL]) == 0
    assert main(["train", "-c", "tiny", "--out", str(run), f"catalog.path={catalog}", *SMALL, *TRAIN]) == 0
    torch.manual_seed(0)
    create_clip("config:test-clip").save(root / "model")
    return World(catalog, run, root / "model")


def copy_run(world: World, tmp: Path) -> tuple[Path, list[str]]:
    """A copy of the world's run folder and the build arguments that made it (catalogue copied too)."""
    shutil.copytree(world.run, tmp / "run")
    catalog = tmp / "catalog.yaml"
    shutil.copy(world.catalog, catalog)
    for record in (tmp / "run").rglob("*.yaml"):  # the config and the records name the moved files
        text = record.read_text().replace(str(world.catalog), str(catalog))
        record.write_text(text.replace(str(world.run), str(tmp / "run")))
    return tmp / "run", ["-c", "tiny", "--out", str(tmp / "run"), f"catalog.path={catalog}", *SMALL]


def chat_generator(url: str) -> str:
    return f"build.catalog.captions.generator={{name: 'openai:m', base_url: '{url}', retries: 1, backoff_s: 0.01}}"


@dataclass
class Case:
    """`setup(tmp, world)` makes the files and returns the command line (or a callable that runs it and
    returns the exit code); `kept(tmp)` says nothing was lost."""

    id: str
    setup: Callable
    message: str
    code: int = 2
    kept: Callable[[Path], bool] = lambda tmp: True


def unfinished_training(tmp, world) -> tuple[Path, list[str]]:
    """A copy of the world's run whose tuned model is an unfinished training: its work folder (holding the
    training's record, no checkpoint yet) and the run's arguments."""
    run, args = copy_run(world, tmp)
    shutil.copy(run / "models" / "tuned" / "train_config.yaml", tmp)
    shutil.rmtree(run / "models" / "tuned")
    work = run / "models" / "tuned.work"
    work.mkdir()
    shutil.copy(tmp / "train_config.yaml", work)
    return work, args


def run_case(case: Case, tmp_path: Path, world, capsys, monkeypatch) -> None:
    """Set `case` up, run its command, and check the one-line error, the exit code and that nothing was lost."""
    needs_patch = "monkeypatch" in case.setup.__code__.co_varnames[: case.setup.__code__.co_argcount]
    command = case.setup(tmp_path, world, monkeypatch) if needs_patch else case.setup(tmp_path, world)
    capsys.readouterr()
    code = command() if callable(command) else main(command)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith(("error:", "interrupted:"))]
    assert code == case.code, err
    assert "Traceback" not in err and len(lines) == 1, err
    assert re.match(case.message, lines[0]), lines[0]
    assert case.kept(tmp_path), err
