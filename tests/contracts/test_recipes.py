"""Every registered recipe of the one driver, on tiny inputs and models: it publishes a finished dataset (or, in
mode `beside`, tables beside one, its manifest left byte for byte), every stage it runs pickles with its declared
fields, and what it writes trains (twin datasets: fine-tuning steps through `cultureclip train`; the Fashion-MNIST
photos: read by the trainer as extra data). A new recipe without a row here fails
`test_the_table_covers_every_registered_recipe`."""

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from cultureclip.builder.executors import Executor
from cultureclip.builder.recipes import BUILD_RECIPES
from cultureclip.builder.recipes.caption_variant import write_caption_variant
from cultureclip.builder.recipes.cultwin import import_cultwin
from cultureclip.builder.recipes.fashion_mnist import import_fashion_mnist
from cultureclip.catalog.select import dataset_catalog
from cultureclip.cli import main
from cultureclip.config import ExtraDataConfig
from cultureclip.data.shards import read_manifest
from cultureclip.train.data import load_train_data
from helpers.builds import build, config
from helpers.chat_server import ChatServer
from helpers.idx import write_idx
from helpers.paper_world import fake_model, overrides
from helpers.stage_contract import check_pickles
from helpers.wit_world import bottom_up_argv, vlm, write_wit

TRAIN = ["pretrain=null", "finetune.steps=2", "finetune.batch_size=4", "ablations={}"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished catalogue dataset, the source of the recipes that derive from or score one."""
    return build(config(), tmp_path_factory.mktemp("finished") / "data")


def _catalog(run: Path, request) -> Path:
    return build(config(), run / "data")


def _paper(run: Path, request) -> Path:
    with ChatServer(fake_model) as server:
        assert main(["build", "--preset", "paper-build", "--out", str(run), *overrides(server.url)]) == 0
    return run / "data"


def _bottom_up(run: Path, request) -> Path:
    (run.parent / "wit").mkdir()
    wit = write_wit(run.parent / "wit")
    with ChatServer(vlm) as server:
        assert main(bottom_up_argv(wit, run, server.url)) == 0
    return run / "data"


def _cultwin(run: Path, request) -> Path:
    release = request.getfixturevalue("release")
    return import_cultwin({"train": release / "train.jsonl", "test": release / "valid.json"}, run / "data")


def _fashion_mnist(run: Path, request) -> Path:
    photos = run.parent / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for prefix, labels in (("train", [7, 0, 9, 7, 1, 2]), ("t10k", [7, 0])):
        write_idx(photos / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (len(labels), 28, 28), np.uint8))
        write_idx(photos / f"{prefix}-labels-idx1-ubyte", np.array(labels, np.uint8))
    return import_fashion_mnist(ExtraDataConfig(kind="fashion_mnist", path=photos), run / "data", 0)


def _caption_scores(run: Path, request) -> Path:
    data = shutil.copytree(request.getfixturevalue("finished"), run / "data")
    assert main(["score-captions", str(data), "score.judge=null", "executor.chunk_rows=4"]) == 0
    return data


def _recaption(run: Path, request) -> Path:
    source = request.getfixturevalue("finished")
    answer = json.dumps({"caption": "a dish with every detail, served at home."})
    with ChatServer(lambda prompt, attempt: (200, answer, 0.0)) as server:
        generator = f"recaption.generator={{name: openai:writer, base_url: '{server.url}', backoff_s: 0.01}}"
        argv = ["recaption", str(source), "--out", str(run / "data"), "--config", "tiny", "score.judge=null"]
        assert main([*argv, generator, "score.detail_share=1.0", "executor.chunk_rows=4"]) == 0
    return run / "data"


def _caption_variant(run: Path, request) -> Path:
    cfg = config()
    catalog = dataset_catalog(cfg.catalog, cfg.build.catalog)
    concepts = {c.id: c.model_dump(exclude={"attributes"}) for c in catalog.concepts}
    return write_caption_variant(request.getfixturevalue("finished"), run / "data", "generic", concepts, 5)


RECIPES: dict[str, Callable[[Path, pytest.FixtureRequest], Path]] = {
    "catalog": _catalog,
    "paper": _paper,
    "bottom_up": _bottom_up,
    "cultwin": _cultwin,
    "fashion_mnist": _fashion_mnist,
    "caption_scores": _caption_scores,
    "recaption": _recaption,
    "caption_variant": _caption_variant,
}
EXTRA_DATA = {"fashion_mnist"}
"""Recipes whose product is extra training data (photos with generic captions, no twin groups)."""


def test_the_table_covers_every_registered_recipe():
    assert sorted(RECIPES) == BUILD_RECIPES.list()


def _digest(folder: Path) -> str:
    return hashlib.sha256((folder / "manifest.parquet").read_bytes()).hexdigest()


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_recipe_publishes_data_that_trains_and_its_stages_pickle(name, tmp_path, request, monkeypatch):
    ran, run_stage = [], Executor.run_stage

    def spy(self, stage, rows, folder):
        check_pickles(stage)  # as the executor gets it, before a worker's `setup` loads its models
        ran.append(str(folder))
        return run_stage(self, stage, rows, folder)

    monkeypatch.setattr(Executor, "run_stage", spy)
    before = _digest(request.getfixturevalue("finished")) if name == "caption_scores" else None
    data = RECIPES[name](tmp_path / "run", request)
    assert read_manifest(data) and not list(tmp_path.rglob("*.work"))  # published, its work folder gone
    assert ran or name in {"cultwin", "caption_variant", "fashion_mnist"}, name  # these only convert rows
    assert len(set(ran)) == len(ran), ran  # each stage run saves its chunks in a folder of its own
    if before is not None:
        assert _digest(data) == before and (data / "scores.parquet").is_file()
    samples = load_train_data(data)
    assert len(samples) > 0
    if name in EXTRA_DATA:
        return
    assert main(["train", "--config", "tiny", "--out", str(tmp_path / "run"), *TRAIN]) == 0
    log = (tmp_path / "run" / "models" / "tuned" / "train_log.jsonl").read_text().splitlines()
    assert len(log) == 2 and {"caption", "concept"} <= set(json.loads(log[-1]))
