import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import webdataset as wds
from PIL import Image

from cultureclip.builder.recipes import BUILD_RECIPES
from cultureclip.builder.stage import Stage, StageFieldError
from cultureclip.builder.stages.clip_filter import select
from cultureclip.config import load_config
from cultureclip.data.shards import LOCATION, read_manifest, read_split
from cultureclip.data.tables import write_table
from cultureclip.errors import DataError
from helpers import builder_backends
from helpers.builds import build, config

TESTS = Path(__file__).parents[1]


def content(folder: Path) -> tuple[list[dict], str]:
    """The manifest and a hash of every shard sample (key, image bytes, row)."""
    digest = hashlib.sha256()
    for shard in sorted(folder.glob("*.tar")):
        for sample in wds.WebDataset(str(shard), shardshuffle=False):
            digest.update(sample["__key__"].encode() + sample["jpg"] + sample["json"])
    return read_manifest(folder), digest.hexdigest()


def row(key, concept, score, margin, embedding, status="ok"):
    return {
        "key": key,
        "concept_id": concept,
        "split": "train",
        "clip_score": score,
        "twin_margin": margin,
        "embedding": embedding,
        "status": status,
        "reason": None if status == "ok" else "images failed: x",
    }


def test_select_rejects_low_scores_twin_confusion_and_near_duplicates():
    cfg = load_config(
        None, ["build.catalog.filter={min_score: 0.2, twin_margin: 0.05, dedup_threshold: 0.9}"]
    ).build.catalog.filter
    rows = [
        row("a0", "a", 0.30, 0.10, [1.0, 0.0]),
        row("a1", "a", 0.10, 0.10, [0.0, 1.0]),  # low score
        row("a2", "a", 0.30, 0.05, [0.0, 1.0]),  # margin not above 0.05
        row("a3", "a", 0.30, 0.20, [0.995, 0.0999]),  # near-duplicate of a0 (cos 0.995)
        row("a4", "a", 0.30, None, [0.6, 0.8]),  # no twins: margin does not apply; cos to a0 = 0.6
        row("b0", "b", 0.30, 0.10, [1.0, 0.0]),  # same image as a0 but another concept
        row("b1", "b", 0.00, 0.00, [1.0, 0.0], status="failed"),
    ]
    select(rows, cfg)
    assert [r["status"] for r in rows] == ["ok", "rejected", "rejected", "rejected", "ok", "ok", "failed"]
    assert [r["reason"] for r in rows] == [
        None,
        "low clip score: 0.100 < 0.2",
        "twin margin: 0.050 <= 0.05",
        "near duplicate: of a0 (0.995)",
        None,
        None,
        "images failed: x",
    ]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted build that kill-and-resume and the Ray executor must reproduce."""
    from helpers import builder_backends  # noqa: F401

    return build(config("build.renderer=test-slow"), tmp_path_factory.mktemp("ref") / "data")


def test_default_build_layout_loads_in_webdataset_and_the_trainer_reader(reference):
    manifest, _ = content(reference)
    assert len(manifest) == 8 * 4 and {r["status"] for r in manifest} == {"kept"}  # 2 groups = 8 concepts
    samples = read_split(reference, "train")
    assert len(samples) == 24 and samples[0].row["caption_source"] == "template"
    first = next(iter(wds.WebDataset(str(reference / "train-00000.tar"), shardshuffle=False).decode("pil")))
    assert first["json"]["key"] == first["__key__"] and first["jpg"].size == (32, 32)  # JPEG by default
    card = json.loads((reference / "card.json").read_text())
    assert card["images"] == {"test": 8, "train": 24} and sum(card["per_category"].values()) == 32
    assert card["models"] == {"caption_writer": "template", "renderer": "test-slow"}
    assert card["stored_images"] == {"format": "jpeg", "quality": 95, "max_side": None}
    assert not reference.with_name("data.work").exists()


def test_killed_build_resumes_to_exactly_the_uninterrupted_dataset(reference, tmp_path):
    out = tmp_path / "data"
    code = (
        f"import sys; sys.path.insert(0, {str(TESTS)!r}); from helpers import builder_backends; "
        "from helpers.builds import build; from cultureclip.config import load_config; "
        "build(load_config('tiny', sys.argv[2:]), sys.argv[1])"
    )
    args = [
        "build.catalog.max_groups=2",
        "build.catalog.train_images=3",
        "build.catalog.test_images=1",
        "executor.chunk_rows=4",
        "build.renderer=test-slow",
    ]
    proc = subprocess.Popen([sys.executable, "-c", code, str(out), *args], env=os.environ.copy())
    chunks = tmp_path / "data.work" / "images"
    deadline = time.monotonic() + 120
    while len(list(chunks.glob("*.parquet"))) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(list(chunks.glob("*.parquet")))
    assert 2 <= done < 8 and not out.exists()  # killed mid-stage: 8 chunks of 4 rows in all
    build(config("build.renderer=test-slow"), out)
    manifest, digest = content(out)
    assert (manifest, digest) == content(reference)
    assert len({r["key"] for r in manifest}) == len(manifest) == 32


def test_the_final_write_gets_rows_without_images_and_reads_one_shard_of_them_at_a_time(tmp_path, monkeypatch):
    from cultureclip.builder import pipeline
    from cultureclip.builder.blobs import Blob
    from cultureclip.data import shards

    given, reads, shard_writes = [], [], []
    write_dataset, read, write_shard = pipeline.write_dataset, Blob.read, shards._write_shard

    def spy_write_dataset(folder, rows, cfg):
        given.extend(rows)
        reads.clear()  # count only the final write's reads
        write_dataset(folder, rows, cfg)

    def spy_read(blob):
        reads.append(blob)
        return read(blob)

    def spy_write_shard(path, samples, images):
        shard_writes.append((len(reads), len(samples)))  # images read so far, images in this shard
        return write_shard(path, samples, images)

    monkeypatch.setattr(pipeline, "write_dataset", spy_write_dataset)
    monkeypatch.setattr(Blob, "read", spy_read)
    monkeypatch.setattr(shards, "_write_shard", spy_write_shard)
    out = build(config("build.shard_size=5"), tmp_path / "data")
    assert len(given) == 32 and all(isinstance(r["png"], Blob) for r in given)
    assert not [k for r in given for k, v in r.items() if isinstance(v, bytes)]  # no image bytes in any row
    # 24 train images in shards of 5, then 8 test: each shard's images are read just before it is written
    assert shard_writes == [(5, 5), (10, 5), (15, 5), (20, 5), (24, 4), (29, 5), (32, 3)]
    assert len(set(reads)) == 32 and len(read_manifest(out)) == 32


def test_a_work_folder_from_other_settings_is_refused_once_it_holds_work(tmp_path):
    for name in ("idle", "data"):
        (tmp_path / f"{name}.work").mkdir()
        (tmp_path / f"{name}.work" / "build_config.yaml").write_text("seed: 9\n")
    assert build(config(), tmp_path / "idle").is_dir()  # nothing saved beside its record: taken over
    (tmp_path / "data.work" / "images").mkdir()  # a stage's saved chunks
    with pytest.raises(DataError, match="data.work: left by a build with other settings"):
        build(config(), tmp_path / "data")


def test_bad_rows_are_retried_then_recorded_as_failed_without_stopping_the_run(tmp_path):
    builder_backends.CALLS.clear()
    out = build(config("build.renderer=test-flaky", "executor.row_retries=1"), tmp_path / "data")
    manifest = read_manifest(out)
    failed = [r for r in manifest if r["status"] == "failed"]
    assert {r["key"] for r in failed} == {r["key"] for r in manifest if r["seed"] % 5 == 0}
    assert all(
        r["shard"] is None and r["reason"] == f"images failed: GenerationError: cannot render seed {r['seed']}"
        for r in failed
    )
    kept = [r for r in manifest if r["status"] == "kept"]
    assert len(kept) + len(failed) == 32 and any(r["seed"] % 3 == 0 for r in kept)  # failed once, then rendered
    assert all(builder_backends.CALLS.count(r["seed"]) >= 2 for r in failed)  # retried
    card = json.loads((out / "card.json").read_text())
    assert card["status"] == {"kept": len(kept), "failed": len(failed)} and card["reasons"] == {
        "images failed": len(failed)
    }
    assert len(read_split(out, "train")) == sum(r["split"] == "train" for r in kept)


def test_llm_captions_diffusers_images_and_judge_filter_end_to_end(tmp_path):
    cfg = config(
        "build.catalog.max_groups=1",
        "build.catalog.train_images=1",
        "build.catalog.captions_per_concept=2",
        "build.catalog.captions.generator={name: 'tiny:causal-lm', max_new_tokens: 4}",
        "build.max_failed_share=1",  # the random tiny LM never names the concept
        "build.renderer=tiny:sd",
        "build.images={steps: 1, guidance_scale: 0}",
        "build.catalog.filter={clip: 'config:test-clip', min_score: -1, twin_margin: -1, dedup_threshold: 0.999}",
    )
    out = build(cfg, tmp_path / "data")
    manifest = read_manifest(out)
    assert len(manifest) == 4 * 2  # the first group holds 4 concepts
    # the random tiny LM never names the concept: every caption falls back to the template, with the reason
    assert {(r["caption_source"], r["caption_note"]) for r in manifest} == {
        ("template", "fallback: does not name the concept")
    }
    for r in manifest:
        assert -1 <= r["clip_score"] <= 1 and r["twin_margin"] is not None
        assert (r["status"] == "kept") == (r["reason"] is None) and "embedding" not in r and "png" not in r
    card = json.loads((out / "card.json").read_text())
    assert card["models"]["judge"] == "config:test-clip" and card["models"]["caption_prompts"] == "captions-v1"
    assert card["caption_fallbacks"] == {
        "fallback: does not name the concept": card["images"]["train"] + card["images"]["test"]
    }


def test_one_stage_runs_locally_and_resumes_from_its_saved_chunks(tmp_path):
    from cultureclip.builder.executors import open_executor, progress_bar
    from helpers.builder_backends import WorkerProbe

    cfg = config("executor.chunk_rows=3").executor
    rows = [{"key": str(i)} for i in range(7)]
    with progress_bar() as progress, open_executor(cfg, progress) as executor:
        first = executor.run_stage(WorkerProbe("a"), rows, tmp_path / "a")
        (tmp_path / "a" / "00001.parquet").unlink()
        again = executor.run_stage(WorkerProbe("b"), rows, tmp_path / "a")
    assert {r["pid"] for r in first} == {os.getpid()} and [r["stage"] for r in first] == ["a"] * 7
    assert [r["stage"] for r in again] == ["a"] * 3 + ["b"] * 3 + ["a"]  # only the missing chunk is redone


def test_ray_executor_builds_the_same_dataset_as_the_local_one(ray_cluster, tmp_path):
    local = build(config(), tmp_path / "local")
    on_ray = build(config("executor.kind=ray", "executor.ray_workers=2"), tmp_path / "ray")
    assert content(on_ray) == content(local)


def test_ray_actors_start_once_per_build_and_set_each_stage_up_once(ray_cluster, tmp_path):
    from cultureclip.builder.executors import open_executor, progress_bar
    from helpers.builder_backends import WorkerProbe

    cfg = config("executor.kind=ray", "executor.ray_workers=2", "executor.chunk_rows=1").executor
    rows = [{"key": str(i)} for i in range(8)]
    with progress_bar() as progress, open_executor(cfg, progress) as executor:
        first = executor.run_stage(WorkerProbe("a"), rows, tmp_path / "a")
        second = executor.run_stage(WorkerProbe("b"), rows, tmp_path / "b")
    assert len({r["pid"] for r in first}) == 2 and os.getpid() not in {r["pid"] for r in first}
    assert {r["pid"] for r in second} == {r["pid"] for r in first}  # the same two actors ran both stages
    assert [r["stage"] for r in second] == ["b"] * 8 and {r["setups"] for r in first + second} == {1}


def test_a_bad_setting_found_in_a_ray_actor_is_the_same_one_line_error(ray_cluster, tmp_path):
    from cultureclip.builder.executors import open_executor, progress_bar
    from cultureclip.errors import ConfigError
    from helpers.builder_backends import BadSetting

    cfg = config("executor.kind=ray").executor
    with progress_bar() as progress, open_executor(cfg, progress) as executor:
        with pytest.raises(ConfigError) as caught:
            executor.run_stage(BadSetting(), [{"key": "0"}], tmp_path / "bad")
    assert type(caught.value) is ConfigError and str(caught.value) == "build.x: bad"


def test_built_dataset_loads_in_hugging_face_datasets(reference, tmp_path):
    import datasets
    import numpy as np

    manifest, cache = read_manifest(reference), str(tmp_path / "cache")
    files = {s: sorted(str(p) for p in reference.glob(f"{s}-*.tar")) for s in ("train", "test")}
    shards = datasets.load_dataset("webdataset", data_files=files, cache_dir=cache)
    for split in files:
        assert shards[split]["json"] == [
            {k: v for k, v in r.items() if k not in LOCATION} for r in manifest if r["split"] == split
        ]
        images = [np.asarray(s.image) for s in read_split(reference, split)]
        assert all(np.array_equal(np.asarray(im), ref) for im, ref in zip(shards[split]["jpg"], images, strict=True))
    table = datasets.load_dataset("parquet", data_files=str(reference / "manifest.parquet"), cache_dir=cache)
    assert table["train"].to_list() == manifest
    assert datasets.load_dataset(str(reference), cache_dir=cache)["train"]["json"] == shards["train"]["json"]


def test_a_bug_in_a_stage_stops_the_build_and_nothing_is_published(tmp_path):
    with pytest.raises(TypeError, match="a bug in the renderer"):
        build(config("build.renderer=test-buggy"), tmp_path / "data")
    assert not (tmp_path / "data").exists()
    assert (tmp_path / "data.work" / "captions").is_dir()  # the finished stages' chunks stay for a rerun


def test_on_ray_a_bug_in_a_stage_stops_it_with_the_error_and_saves_no_chunk(ray_cluster, tmp_path):
    from cultureclip.builder.executors import open_executor, progress_bar
    from helpers.builder_backends import Buggy

    cfg = config("executor.kind=ray").executor
    with progress_bar() as progress, open_executor(cfg, progress) as executor:
        with pytest.raises(TypeError, match="a bug in the stage"):
            executor.run_stage(Buggy(), [{"key": "0"}], tmp_path / "buggy")
    assert list((tmp_path / "buggy").iterdir()) == []


class Echo(Stage):
    """Outputs `out` for every row."""

    name, inputs, outputs = "echo", ("caption",), ("n",)

    def __init__(self, out: dict):
        self.out = out

    def process(self, rows: list[dict]) -> list[dict]:
        return [dict(self.out) for _ in rows]


class Reader(Stage):
    """Opens each row's image (a backend-like failure on bad bytes), or has a bug."""

    name, inputs, outputs = "read", ("png",), ("size",)

    def process(self, rows: list[dict]) -> list[dict]:
        if any(r["png"] == b"bug" for r in rows):
            raise KeyError("a bug")
        return [{"size": list(Image.open(io.BytesIO(r["png"])).size)} for r in rows]


class Render(Stage):
    """Draws a (key + 1) x 2 image per row, as PNG bytes kept on disk (a blob)."""

    name, inputs, outputs, blobs = "render", ("key",), ("png",), ("png",)

    def process(self, rows: list[dict]) -> list[dict]:
        pngs = [io.BytesIO() for _ in rows]
        for r, png in zip(rows, pngs, strict=True):
            Image.new("RGB", (int(r["key"]) + 1, 2)).save(png, format="PNG")
        return [{"png": png.getvalue()} for png in pngs]


def test_a_stages_blobs_stay_on_disk_and_the_next_stage_reads_their_bytes(tmp_path):
    from cultureclip.builder.blobs import Blob
    from cultureclip.builder.executors import open_executor, progress_bar

    rows = [{"key": str(i)} for i in range(5)]
    with progress_bar() as progress, open_executor(config("executor.chunk_rows=2").executor, progress) as executor:
        rendered = executor.run_stage(Render(), rows, tmp_path / "render")
        joined = [{**r, **o} for r, o in zip(rows, rendered, strict=True)]
        read = executor.run_stage(Reader(), joined, tmp_path / "read")
    assert sorted(p.name for p in (tmp_path / "render").iterdir()) == [
        f"{i:05d}.{ext}" for i in range(3) for ext in ("blobs", "parquet")
    ]
    assert all(isinstance(r["png"], Blob) and r["png"].path.endswith(".blobs") for r in rendered)
    assert [r["png"].offset for r in rendered[:2]] == [0, rendered[0]["png"].length]
    assert [r["size"] for r in read] == [[1, 2], [2, 2], [3, 2], [4, 2], [5, 2]]


def test_a_stage_checks_the_fields_it_declares():
    row = {"key": "a", "caption": "x"}
    with pytest.raises(StageFieldError, match="^stage 'echo': row 'b' has no input field 'caption'$"):
        Echo({"n": 1}).run([row, {"key": "b"}], retries=0)
    with pytest.raises(StageFieldError, match="^stage 'echo': wrote undeclared output field 'm'$"):
        Echo({"n": 1, "m": 2}).run([row], retries=0)
    with pytest.raises(StageFieldError, match="^stage 'echo': an output lacks the declared field 'n'$"):
        Echo({}).run([row], retries=0)
    earlier = {"key": "b", "status": "failed", "reason": "images failed: x"}  # not processed, so not checked
    assert Echo({"n": 1}).run([row, earlier], retries=0) == [
        {"status": "ok", "reason": None, "n": 1},
        {"status": "failed", "reason": "images failed: x"},
    ]
    assert Echo({"status": "failed", "reason": "no reply"}).run([row], retries=0) == [
        {"status": "failed", "reason": "no reply"}
    ]


def test_only_backend_errors_fail_rows_a_bug_stops_the_stage():
    png = io.BytesIO()
    Image.new("RGB", (3, 2)).save(png, format="PNG")
    good, bad = {"key": "a", "png": png.getvalue()}, {"key": "b", "png": b"not a png"}
    out = Reader().run([good, bad], retries=1)
    assert out[0] == {"status": "ok", "reason": None, "size": [3, 2]}
    assert out[1]["status"] == "failed" and out[1]["reason"].startswith("read failed: UnidentifiedImageError: ")
    with pytest.raises(KeyError, match="a bug"):
        Reader().run([good, {"key": "c", "png": b"bug"}], retries=1)


def test_build_config_sections_follow_the_recipes_that_declare_them():
    from typing import get_args

    from cultureclip.config import BuildConfig
    from cultureclip.config.build import RECIPE_SECTIONS

    sectioned = {
        n: BUILD_RECIPES.get(n).section for n in BUILD_RECIPES.list() if hasattr(BUILD_RECIPES.get(n), "section")
    }
    assert sectioned == RECIPE_SECTIONS and list(RECIPE_SECTIONS) == ["catalog", "paper", "bottom_up"]
    assert all(BUILD_RECIPES.get(n).__name__ == s.builds.rpartition(":")[2] for n, s in RECIPE_SECTIONS.items())
    assert get_args(BuildConfig.model_fields["recipe"].annotation) == tuple(RECIPE_SECTIONS)
    assert {n: BuildConfig.model_fields[n].annotation for n in RECIPE_SECTIONS} == {
        n: section | None for n, section in RECIPE_SECTIONS.items()
    }
    assert "countries" not in RECIPE_SECTIONS["bottom_up"].model_fields  # a section has only what its recipe reads


def test_write_table_takes_the_union_of_the_rows_fields(tmp_path):
    import pyarrow.parquet as pq

    write_table([{"key": "a", "status": "failed"}, {"key": "b", "status": "ok", "n": 2}], tmp_path / "t.parquet")
    table = pq.read_table(tmp_path / "t.parquet")
    assert table.column_names == ["key", "status", "n"]
    assert table.to_pylist() == [{"key": "a", "status": "failed", "n": None}, {"key": "b", "status": "ok", "n": 2}]
