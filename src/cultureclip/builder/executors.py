"""Run stages over rows in fixed chunks, saving each finished chunk, in-process or on a pool of Ray actors.

Chunk i always holds the same rows (plan order, `chunk_rows` each) and is saved atomically as
`<folder>/<i>.parquet` once processed (a stage's blobs, its image bytes, beside it in `<i>.blobs`,
written first; see blobs.py), so a killed build resumes at the first unsaved chunk (and redoes a
saved chunk holding rows the stage failed for a backend error, `Stage.redo`, or one whose input rows
changed since, e.g. captions asked again upstream) and the
stage's output (all chunks in order) is the same whichever executor ran it and however often it stopped.

An executor lives for a whole build (`open_executor`). On Ray its model actors are started once, when
the build starts, and kept for every stage: a worker process pays its start and imports once, not once
per stage, and sets up one stage's models at a time (the previous stage's are dropped first).
"""

import gc
import hashlib
import itertools
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from cultureclip.backends.loaded import release
from cultureclip.builder.blobs import blob_refs, write_blobs
from cultureclip.builder.stage import Stage
from cultureclip.config import ExecutorConfig
from cultureclip.data.tables import read_table, write_table
from cultureclip.errors import ConfigError, CultureClipError
from cultureclip.io import atomic_path
from cultureclip.runtime import DEVICE_ENV

log = logging.getLogger(__name__)
Chunks = dict[int, list[dict]]
INPUTS_KEY = b"cultureclip.inputs"
"""The key, in a saved chunk's Parquet metadata, of the digest of the rows it was made from."""


class RateColumn(ProgressColumn):
    def render(self, task) -> Text:
        return Text(f"{task.speed or 0:.1f} rows/s")


def progress_bar() -> Progress:
    """A progress display whose bars show rows done, rows/s and elapsed time per stage."""
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(), TimeElapsedColumn()
    )


class Executor:
    """Runs a stage over the unsaved chunks of its rows; subclasses say where (`_map`)."""

    def __init__(self, cfg: ExecutorConfig, progress: Progress):
        self.cfg, self.progress = cfg, progress

    def run_stage(self, stage: Stage, rows: list[dict], folder: Path) -> list[dict]:
        """Outputs of `stage` for `rows` (one dict per row, in order), computing only unsaved chunks."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        size = self.cfg.chunk_rows
        chunks = [rows[i : i + size] for i in range(0, len(rows), size)]
        saved = [_saved(stage, folder, i, chunk) for i, chunk in enumerate(chunks)]
        pending = {i: chunks[i] for i, outputs in enumerate(saved) if outputs is None}
        done = len(rows) - sum(map(len, pending.values()))
        task = self.progress.add_task(stage.name, total=len(rows), completed=done)
        if pending:
            self._map(stage, pending, folder, lambda n: self.progress.advance(task, n))
        fresh = {i: _read_chunk(folder, i, stage.blobs) for i in pending}
        return [out for i, outputs in enumerate(saved) for out in (fresh[i] if outputs is None else outputs)]

    def _map(self, stage: Stage, chunks: Chunks, folder: Path, advance: Callable[[int], None]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the executor's workers."""


class LocalExecutor(Executor):
    """Every chunk in this process, one after the other."""

    def _map(self, stage: Stage, chunks: Chunks, folder: Path, advance: Callable[[int], None]) -> None:
        stage.setup()
        for index, rows in chunks.items():
            _save_chunk(folder, index, stage.run(rows, self.cfg.row_retries), stage.blobs, inputs_digest(stage, rows))
            advance(len(rows))


class StageWorker:
    """A Ray actor kept for the whole build: sets up the stage it is given once, then processes and saves chunks."""

    def __init__(self):
        self.stage_id, self.stage = None, None

    def run(self, stage_id: int, stage: Stage, folder: str, index: int, rows: list[dict], retries: int) -> int:
        if stage_id != self.stage_id:
            self.stage_id, self.stage = None, None
            gc.collect()  # the previous stage's models go before this stage's load
            stage.setup()
            self.stage_id, self.stage = stage_id, stage
        _save_chunk(Path(folder), index, self.stage.run(rows, retries), stage.blobs, inputs_digest(stage, rows))
        return len(rows)


class RayExecutor(Executor):
    """Chunks spread over `ray_workers` Ray actors (`actor_gpus` GPUs each), started once per build.

    Ray hides the GPUs an actor did not ask for (`CUDA_VISIBLE_DEVICES`) only from actors that asked for some, so
    an actor without GPUs is told to run its `auto` models on the CPU (`runtime.DEVICE_ENV`): N of them on GPU 0
    would run out of its memory.
    """

    def __init__(self, cfg: ExecutorConfig, progress: Progress):
        super().__init__(cfg, progress)
        try:
            import ray
        except ImportError:
            from cultureclip.errors import MissingDependencyError

            raise MissingDependencyError("executor.kind=ray: `pip install 'cultureclip[ray]'`") from None
        if not ray.is_initialized():
            ray.init(address=cfg.ray_address, include_dashboard=False, log_to_driver=False)
        gpus = actor_gpus(cfg, ray.cluster_resources().get("GPU", 0))
        log.info("starting %d Ray model actors with %g GPU(s) each", cfg.ray_workers, gpus)
        cpu_only = {} if gpus else {"runtime_env": {"env_vars": {DEVICE_ENV: "cpu"}}}
        worker = ray.remote(num_cpus=1, num_gpus=gpus, **cpu_only)(StageWorker)
        self.ray, self.actors = ray, [worker.remote() for _ in range(cfg.ray_workers)]  # they start now
        self.stage_ids = itertools.count()

    def _map(self, stage: Stage, chunks: Chunks, folder: Path, advance: Callable[[int], None]) -> None:
        from ray.util import ActorPool

        stage_id, stage_ref, retries = next(self.stage_ids), self.ray.put(stage), self.cfg.row_retries

        def submit(actor, chunk: tuple[int, list[dict]]):
            return actor.run.remote(stage_id, stage_ref, str(folder), chunk[0], chunk[1], retries)

        try:
            for count in ActorPool(self.actors).map_unordered(submit, list(chunks.items())):
                advance(count)
        except self.ray.exceptions.RayTaskError as err:
            if isinstance(err.cause, CultureClipError):  # a bad setting stays a one-line error, not a traceback
                raise err.cause from None
            raise

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)


def actor_gpus(cfg: ExecutorConfig, cluster_gpus: float) -> float:
    """GPUs each of the build's Ray actors asks for on a cluster with `cluster_gpus`: `ray_gpus_per_worker`, or by
    default a card each when there are GPUs; more than the cluster has is a ConfigError (Ray would wait forever)."""
    per_worker = cfg.ray_gpus_per_worker
    if per_worker is None:
        per_worker = 1.0 if cluster_gpus else 0.0
    if cfg.ray_workers * per_worker > cluster_gpus:
        raise ConfigError(
            f"executor.ray_workers={cfg.ray_workers} actors with {per_worker:g} GPU each need "
            f"{cfg.ray_workers * per_worker:g} GPUs; the Ray cluster has {cluster_gpus:g}: lower executor.ray_workers, "
            "or share cards with a fraction, e.g. executor.ray_gpus_per_worker=0.5"
        )
    return per_worker


@contextmanager
def open_executor(cfg: ExecutorConfig, progress: Progress) -> Iterator[Executor]:
    """The executor `cfg.kind` names, released when the job leaves the block."""
    executor = RayExecutor(cfg, progress) if cfg.kind == "ray" else LocalExecutor(cfg, progress)
    try:
        yield executor
    finally:
        executor.close()
        release()  # the models the build's stages shared in this process


def _chunk_path(folder: Path, index: int) -> Path:
    return folder / f"{index:05d}.parquet"


def _save_chunk(folder: Path, index: int, outputs: list[dict], blobs: tuple[str, ...], digest: str) -> None:
    """The chunk's outputs (failed rows lack the output fields: null there), with the digest of the inputs
    they were made from in the file's metadata, so a chunk and its provenance are saved as one."""
    if blobs:
        with atomic_path(_chunk_path(folder, index).with_suffix(".blobs")) as tmp:
            outputs = write_blobs(tmp, outputs, blobs)
    with atomic_path(_chunk_path(folder, index)) as tmp:
        write_table(outputs, tmp, {INPUTS_KEY: digest})


def _saved(stage: Stage, folder: Path, index: int, rows: list[dict]) -> list[dict] | None:
    """The saved outputs of chunk `index` (as `_read_chunk` gives them), or None when the chunk is to be
    computed: not saved, saved from other inputs (an upstream chunk redone since makes it stale), or
    holding a row for `stage` to redo (see `Stage.redo`)."""
    path = _chunk_path(folder, index)
    if not path.is_file():
        return None
    table = read_table(path)
    if (table.schema.metadata or {}).get(INPUTS_KEY) != inputs_digest(stage, rows).encode():
        return None
    outputs = table.to_pylist()
    if any(stage.redo(row) for row in outputs):
        return None
    return blob_refs(path.with_suffix(".blobs"), outputs, stage.blobs)


def inputs_digest(stage: Stage, rows: list[dict]) -> str:
    """The sha256 of what `stage` reads of `rows` (each row's status and `stage.inputs`; a Blob by its place)."""
    fields = [[row.get("status", "ok"), *(row.get(f) for f in stage.inputs)] for row in rows]
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=repr).encode()).hexdigest()


def _read_chunk(folder: Path, index: int, blobs: tuple[str, ...]) -> list[dict]:
    path = _chunk_path(folder, index)
    return blob_refs(path.with_suffix(".blobs"), read_table(path).to_pylist(), blobs)
