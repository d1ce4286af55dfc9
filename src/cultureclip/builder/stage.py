"""A builder stage: one required method, `process(rows) -> outputs`, one output dict per input row.

The base owns what every stage needs: models loaded once per worker (`setup`), and per-row
retries. When a batch fails, each of its rows is retried alone; a row that still fails becomes
`{"status": "failed", "reason": ...}`, so one bad row (a generator error, an unreadable image)
never stops the run.
"""

import logging

log = logging.getLogger(__name__)


class Stage:
    """Subclasses set `name` and implement `process`; `setup` loads models in the worker that runs it."""

    name = "stage"

    def setup(self) -> None:
        """Load models; called once in each worker before its first chunk (not in the driver)."""

    def process(self, rows: list[dict]) -> list[dict]:
        raise NotImplementedError

    def run(self, rows: list[dict], retries: int) -> list[dict]:
        """`process` the rows as one batch; on failure, row by row with `retries` retries each."""
        todo = [r for r in rows if r.get("status", "ok") == "ok"]
        try:
            done = self.process(todo) if todo else []
        except Exception as err:  # noqa: BLE001  (any failure of a backend is a row failure, not a crash)
            log.warning("%s: a batch of %d rows failed (%s); retrying row by row", self.name, len(todo), err)
            done = [self._one(row, retries) for row in todo]
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
            except Exception as err:  # noqa: BLE001
                reason = f"{self.name} failed: {type(err).__name__}: {err}"
        log.warning("%s: row %s failed: %s", self.name, row.get("key"), reason)
        return {"status": "failed", "reason": reason}
