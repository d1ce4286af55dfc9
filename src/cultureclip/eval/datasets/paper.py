"""The paper's GlobalRG-Retrieval, GlobalRG-Grounding and CROPE (cultureclip.benchmarks) as evaluation datasets.

Each benchmark question becomes an item that chooses among its options (the `twins` task), with the
options, their order, the keep rules and seed 42 of `cultureclip bench`, so
`cultureclip eval --data globalrg_retrieval:PATH`, `--data globalrg_grounding:PATH` and
`--data crope:PATH` score exactly the questions that `cultureclip bench` scores. `spec.path` is the
local copy of the release (its `test` Parquet files). Items are grouped by the question's first field
(GlobalRG-Retrieval: the universal; GlobalRG-Grounding: the region) and, where the question has a
region, report it as their culture (per-region accuracy).
"""

from cultureclip.benchmarks.base import load_questions
from cultureclip.benchmarks.release import iter_cells
from cultureclip.config import DatasetSpec
from cultureclip.errors import DataError
from cultureclip.eval.datasets import register
from cultureclip.eval.datasets.base import BytesImage, EvalDataset, EvalItem


def benchmark_dataset(benchmark: str, kind: str, spec: DatasetSpec) -> EvalDataset:
    """The questions of `benchmark` on the release at spec.path as a multiple-choice dataset."""
    files, questions = load_questions(benchmark, spec.path)
    cells = {}
    for column in sorted({q.column for q in questions}):
        rows = {q.row for q in questions if q.column == column}
        for row, row_cells, _, where in iter_cells(files, column, rows):
            cells[(column, row)] = (row_cells, where)
    classes: dict[str, int] = {}
    items = []
    for q in questions:
        row_cells, where = cells[(q.column, q.row)]
        cell = row_cells[q.index] if isinstance(row_cells[q.index], dict) else {}
        if not cell.get("bytes"):
            raise DataError(f"{where}: image {q.index} has no bytes")
        choice = tuple(classes.setdefault(o, len(classes)) for o in q.options)
        image = BytesImage(cell["bytes"], cell.get("path") or f"{q.column}-{q.row:05d}-{q.index}")
        group = str(next(iter(q.info.values())))
        item_id = f"{q.row:05d}-{q.column}-{q.index}"
        items.append(EvalItem(item_id, image, choice[q.correct], (), choice, group, culture=q.info.get("region")))
    return EvalDataset(kind, items, list(classes), ["{c}"], tasks=("twins",))


@register("globalrg_retrieval")
def load_globalrg_retrieval(spec: DatasetSpec) -> EvalDataset:
    return benchmark_dataset("globalrg-retrieval", "globalrg_retrieval", spec)


@register("globalrg_grounding")
def load_globalrg_grounding(spec: DatasetSpec) -> EvalDataset:
    return benchmark_dataset("globalrg-grounding", "globalrg_grounding", spec)


@register("crope")
def load_crope(spec: DatasetSpec) -> EvalDataset:
    return benchmark_dataset("crope", "crope", spec)
