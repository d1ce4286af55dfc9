"""Multiple-choice questions over a benchmark's released images, as evaluation datasets (the paper's
GlobalRG-Retrieval, GlobalRG-Grounding and CROPE: one module per kind beside this one).

A benchmark turns the release's rows (read by `cultureclip.data.hf_release`) into questions: an image,
its text options, the right one. Each question becomes an item that chooses among its options (the
`choice` task, first option on a tie), with the benchmark's options, their order, keep rules and seed
(42, the paper's evaluators', unless the spec sets `seed`). Items are grouped by the question's first
field (GlobalRG-Retrieval: the universal; GlobalRG-Grounding: the region) and, where the question has
a region, report it as their culture (per-region accuracy).
"""

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cultureclip.config import DatasetSpec
from cultureclip.data.hf_release import iter_cells, read_columns, split_files
from cultureclip.errors import DataError
from cultureclip.eval.datasets.base import BytesImage, EvalDataset, EvalItem, FileImage

SEED = 42
"""Seed of the option draws and shuffles of the paper's evaluators."""


@dataclass(frozen=True)
class Question:
    row: int
    """Row of the release (in load order) whose image is asked about."""
    column: str
    """Column holding the image."""
    index: int
    """Position of the image in that column's cell (0 for a plain image column)."""
    options: list[str]
    correct: int
    info: dict = field(default_factory=dict)
    """The release's fields that define the question, copied into its result line."""

    @property
    def id(self) -> str:
        """The id of the question's item in the dataset."""
        return f"{self.row:05d}-{self.column}-{self.index}"


@dataclass(frozen=True)
class Benchmark:
    name: str
    """The dataset kind (snake_case: globalrg_retrieval)."""
    source: str
    """Where the release lives on the hub (what to download into the dataset path)."""
    columns: tuple[str, ...]
    """Text columns read to build the questions."""
    questions: Callable[[list[dict], random.Random], list[Question]]
    counted: tuple[str, ...] = ()
    """List-of-image columns whose lengths the questions need."""


def n_way_questions(rows: list[dict], group: str, answer: str, template: str, rng: random.Random) -> list[Question]:
    """GlobalRG's protocol: within each `group` value having at least 4 distinct `answer` values, ask
    for a row's answer among it and 3 others of its group, drawn by `rng` (then the 4 shuffled).

    The others are drawn from the sorted list of candidates; the reference draws from a Python set,
    whose order changes with PYTHONHASHSEED, so its option sets are not reproducible run to run.
    """
    answers: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        answers[row[group]].add(row[answer])
    questions = []
    for i, row in enumerate(rows):
        if len(answers[row[group]]) < 4:
            continue
        others = rng.sample(sorted(answers[row[group]] - {row[answer]}), 3)
        true = template.format(**{group: row[group], answer: row[answer]})
        options = [true] + [template.format(**{group: row[group], answer: a}) for a in others]
        rng.shuffle(options)
        info = {group: row[group], answer: row[answer]}
        questions.append(Question(i, "image", 0, options, options.index(true), info))
    return questions


def load_questions(bench: Benchmark, root: Path, seed: int = SEED) -> tuple[list[Path], list[Question]]:
    """The release's files under `root` and the questions `bench` asks on them with `seed`."""
    files = split_files(root)
    questions = bench.questions(read_columns(files, bench.columns, bench.counted), random.Random(seed))
    if not questions:
        raise DataError(f"{root}: no {bench.name} questions (no rows pass the benchmark's keep rules)")
    return files, questions


def question_dataset(bench: Benchmark, spec: DatasetSpec) -> EvalDataset:
    """The questions of `bench` on the release at spec.path as a multiple-choice dataset."""
    files, questions = load_questions(bench, spec.path, SEED if spec.seed is None else spec.seed)
    cells = {}
    for column in sorted({q.column for q in questions}):
        rows = {q.row for q in questions if q.column == column}
        for row, row_cells, folder, where in iter_cells(files, column, rows):
            cells[(column, row)] = (row_cells, folder, where)
    classes: dict[str, int] = {}
    items = []
    for q in questions:
        row_cells, folder, where = cells[(q.column, q.row)]
        cell = row_cells[q.index] if isinstance(row_cells[q.index], dict) else {}
        if cell.get("bytes"):
            image = BytesImage(cell["bytes"], cell.get("path") or q.id)
        elif cell.get("path"):
            image = FileImage(folder / cell["path"])
        else:
            raise DataError(f"{where}: image {q.index} has no bytes and no path")
        choice = tuple(classes.setdefault(o, len(classes)) for o in q.options)
        group = str(next(iter(q.info.values())))
        items.append(EvalItem(q.id, image, choice[q.correct], (), choice, group, culture=q.info.get("region")))
    return EvalDataset(bench.name, items, list(classes), ["{c}"], tasks=("choice",))
