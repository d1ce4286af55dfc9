"""A builder stage: one required method, `process(rows) -> outputs`, one output dict per input row.

A stage declares the row fields it reads (`inputs`) and writes (`outputs`); `run` checks both, so a
recipe that feeds a stage the wrong rows, or a stage that writes a field it did not declare, stops
with an error naming the stage and the field.

Outputs too large to hold for every row (image bytes) are named in `blobs`: the executor keeps them
on disk and the rows carry a `Blob` there (see blobs.py); `run` reads the blobs of the rows it is
given, so `process` always sees bytes.

The base owns what every stage needs: models loaded once per worker (`setup`), and per-row
retries. When a batch fails with a backend error (`BACKEND_ERRORS`: a generation error, an OSError
such as an unreadable image, a timeout), each of its rows is retried alone; a row that still fails
becomes `{"status": "failed", "reason": ...}`, so one bad row never stops the run, and is tried again
when the build resumes (`redo`). A backend that cannot be reached at all (`GeneratorUnreachable`)
stops the stage at once. Any other exception is a bug: it stops the build with its traceback, and
nothing is published.
"""

import logging

from cultureclip.builder.blobs import read_blobs
from cultureclip.errors import CultureClipError, GenerationError
from cultureclip.redact import redact

log = logging.getLogger(__name__)
BACKEND_ERRORS: tuple[type[BaseException], ...] = (GenerationError, OSError, TimeoutError)
"""Failures of a backend on some input: they fail the row, not the build."""
ROW_STATE = ("status", "reason")
"""Fields every stage may write besides its `outputs` (a row it cannot process is failed with a reason)."""


class StageFieldError(CultureClipError):
    """A stage was given a row without a field it reads, or wrote a field it does not declare."""


class Stage:
    """Subclasses set `name`, `inputs` and `outputs` and implement `process`; `setup` loads models in the
    worker that runs it. Stages are pickled to Ray workers: keep models out of `__init__`."""

    name = "stage"
    inputs: tuple[str, ...] = ()
    """Row fields `process` reads."""
    outputs: tuple[str, ...] = ()
    """Fields of each output of `process` (all of them in a processed row; none in a failed one)."""
    blobs: tuple[str, ...] = ()
    """Outputs (bytes) kept on disk beside the saved chunk; the rows read back carry a `Blob` instead."""

    def setup(self) -> None:
        """Load models; called once in each worker before its first chunk (not in the driver)."""

    def process(self, rows: list[dict]) -> list[dict]:
        raise NotImplementedError

    def redo(self, output: dict) -> bool:
        """True for a saved output to compute again when the build resumes: a row this stage failed
        (a backend error, which may pass now that the backend is fixed)."""
        return output.get("status") == "failed" and str(output.get("reason")).startswith(f"{self.name} failed")

    def run(self, rows: list[dict], retries: int) -> list[dict]:
        """`process` the rows as one batch; on a backend error, row by row with `retries` retries each."""
        todo = [read_blobs(r, self.inputs) for r in rows if r.get("status", "ok") == "ok"]
        self._check_inputs(todo)
        try:
            done = self.process(todo) if todo else []
        except BACKEND_ERRORS as err:
            why = redact(str(err))
            log.warning("%s: a batch of %d rows failed (%s); retrying row by row", self.name, len(todo), why)
            done = [self._one(row, retries) for row in todo]
        if len(done) != len(todo):
            raise StageFieldError(f"stage {self.name!r}: {len(done)} outputs for {len(todo)} rows")
        self._check_outputs(done)
        results = iter(done)
        return [
            {"status": "ok", "reason": None, **next(results)}
            if r.get("status", "ok") == "ok"
            else {"status": r["status"], "reason": r["reason"]}
            for r in rows
        ]

    def _one(self, row: dict, retries: int) -> dict:
        for _ in range(retries + 1):
            try:
                return self.process([row])[0]
            except BACKEND_ERRORS as err:
                reason = f"{self.name} failed: {type(err).__name__}: {redact(str(err))}"
        log.warning("%s: row %s failed: %s", self.name, row.get("key"), reason)
        return {"status": "failed", "reason": reason}

    def _check_inputs(self, rows: list[dict]) -> None:
        for row in rows:
            missing = [f for f in self.inputs if f not in row]
            if missing:
                raise StageFieldError(f"stage {self.name!r}: row {row.get('key')!r} has no input field {missing[0]!r}")

    def _check_outputs(self, outputs: list[dict]) -> None:
        for out in outputs:
            extra = [f for f in out if f not in self.outputs and f not in ROW_STATE]
            if extra:
                raise StageFieldError(f"stage {self.name!r}: wrote undeclared output field {extra[0]!r}")
            if out.get("status", "ok") == "ok":
                missing = [f for f in self.outputs if f not in out]
                if missing:
                    raise StageFieldError(f"stage {self.name!r}: an output lacks the declared field {missing[0]!r}")
