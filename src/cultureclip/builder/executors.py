"""Run a stage over rows in fixed chunks, saving each finished chunk, in-process or on Ray Data.

Chunk i always holds the same rows (plan order, `chunk_rows` each) and is saved atomically as
`<folder>/<i>.parquet` once processed, so a killed build resumes at the first unsaved chunk and the
stage's output (all chunks in order) is the same whichever executor ran it and however often it stopped.
"""

import logging
import pickle
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from cultureclip.builder.stage import Stage
from cultureclip.config import BuildConfig
from cultureclip.io import atomic_path

log = logging.getLogger(__name__)


class RateColumn(ProgressColumn):
    def render(self, task) -> Text:
        return Text(f"{task.speed or 0:.1f} rows/s")


def progress_bar() -> Progress:
    """A progress display whose bars show rows done, rows/s and elapsed time per stage."""
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(), TimeElapsedColumn()
    )


def run_stage(stage: Stage, rows: list[dict], folder: Path, cfg: BuildConfig, progress: Progress) -> list[dict]:
    """Outputs of `stage` for `rows` (one dict per row, in order), computing only unsaved chunks."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    size = cfg.chunk_rows
    chunks = [rows[i : i + size] for i in range(0, len(rows), size)]
    pending = [i for i in range(len(chunks)) if not _chunk_path(folder, i).is_file()]
    task = progress.add_task(stage.name, total=len(rows), completed=len(rows) - sum(len(chunks[i]) for i in pending))
    if pending:
        run = _run_ray if cfg.executor == "ray" else _run_local
        run(stage, {i: chunks[i] for i in pending}, folder, cfg, lambda n: progress.advance(task, n))
    return [out for i in range(len(chunks)) for out in _read_chunk(folder, i)]


def _chunk_path(folder: Path, index: int) -> Path:
    return folder / f"{index:05d}.parquet"


def _save_chunk(folder: Path, index: int, outputs: list[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = list(dict.fromkeys(k for row in outputs for k in row))  # failed rows lack the output fields
    table = pa.Table.from_pylist([{k: row.get(k) for k in columns} for row in outputs])
    with atomic_path(_chunk_path(folder, index)) as tmp:
        pq.write_table(table, tmp)


def _read_chunk(folder: Path, index: int) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(_chunk_path(folder, index)).to_pylist()


def _run_local(stage: Stage, chunks: dict[int, list[dict]], folder: Path, cfg: BuildConfig, advance) -> None:
    stage.setup()
    for index, rows in chunks.items():
        _save_chunk(folder, index, stage.run(rows, cfg.row_retries))
        advance(len(rows))


class _RayWorker:
    """A Ray Data actor: sets the stage up once (its models), then processes and saves whole chunks."""

    def __init__(self, stage: Stage, folder: str, retries: int):
        self.stage, self.folder, self.retries = stage, Path(folder), retries
        self.stage.setup()

    def __call__(self, batch: dict) -> dict:
        counts = []
        for index, payload in zip(batch["chunk"], batch["rows"], strict=True):
            rows = pickle.loads(payload)
            _save_chunk(self.folder, int(index), self.stage.run(rows, self.retries))
            counts.append(len(rows))
        return {"rows": counts}


def _run_ray(stage: Stage, chunks: dict[int, list[dict]], folder: Path, cfg: BuildConfig, advance) -> None:
    try:
        import ray
    except ImportError:
        from cultureclip.errors import MissingDependencyError

        raise MissingDependencyError("build.executor=ray: `pip install 'cultureclip[ray]'`") from None
    if not ray.is_initialized():
        ray.init(address=cfg.ray_address, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    items = [{"chunk": i, "rows": pickle.dumps(rows)} for i, rows in chunks.items()]
    done = ray.data.from_items(items).map_batches(
        _RayWorker,
        fn_constructor_args=(stage, str(folder), cfg.row_retries),
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=cfg.ray_workers),
        num_cpus=1,
        **({"num_gpus": cfg.ray_gpus_per_worker} if cfg.ray_gpus_per_worker else {}),
    )
    for row in done.iter_rows():
        advance(int(row["rows"]))
