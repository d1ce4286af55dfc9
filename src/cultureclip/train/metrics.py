"""Training metrics: one JSON line per optimizer step, optionally TensorBoard scalars, and a progress bar.

Only the main process writes; on resume the log keeps the records before the checkpoint's step and
drops any written after it, so the finished log reads like one uninterrupted run.
"""

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from cultureclip.io import write_text


class MetricsLog:
    def __init__(self, path: Path, tensorboard: bool, is_main: bool, keep_before: int = 0):
        self.path = Path(path)
        self.is_main = is_main
        self.history: list[dict] = []
        if keep_before and self.path.is_file():
            old = [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]
            self.history = [r for r in old if r["step"] < keep_before]
        self._tensorboard = tensorboard and is_main
        self._writer = None
        self._file = None
        self._progress: Progress | None = None

    def __enter__(self) -> "MetricsLog":
        if self.is_main:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_text(self.path, "".join(json.dumps(r) + "\n" for r in self.history))
            self._file = open(self.path, "a")  # noqa: SIM115  (closed in __exit__)
            if self._tensorboard:
                from torch.utils.tensorboard import SummaryWriter

                self._writer = SummaryWriter(str(self.path.parent / "tensorboard"))
        return self

    def __exit__(self, *exc) -> None:
        for handle in (self._file, self._writer):
            if handle is not None:
                handle.close()

    def progress(self, steps: Iterable[int], total: int, start: int, title: str) -> Iterator[int]:
        """Iterate `steps` under a progress bar showing the latest loss (main process only)."""
        if not self.is_main:
            yield from steps
            return
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TextColumn("loss {task.fields[loss]:.3f}"),
            TimeRemainingColumn(),
        )
        with Progress(*columns) as self._progress:
            task = self._progress.add_task(f"training {title}", total=total, completed=start, loss=float("nan"))
            for step in steps:
                yield step
                loss = self.history[-1]["loss"] if self.history else float("nan")
                self._progress.update(task, advance=1, loss=loss)

    def write(self, record: dict) -> None:
        self.history.append(record)
        if self._file is not None:
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()
        if self._writer is not None:
            for key, value in record.items():
                if key != "step":
                    self._writer.add_scalar(f"train/{key}", value, record["step"])
