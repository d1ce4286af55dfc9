"""What every paper benchmark shares: multiple-choice questions over released images, scored by a CLIP.

A benchmark turns the release's rows into questions (an image, its text options, the right one);
`evaluate` embeds each needed image and option text once with any CLIP adapter (`images_to_tensor`,
`encode_images`, `tokenize`, `encode_texts`, as backends.clip's ClipModel), picks the option of
highest cosine similarity (the first on a tie, as torch's argmax), and reports accuracy plus one
JSON line per question.
"""

import json
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from PIL import Image
from rich.progress import track

from cultureclip.benchmarks.release import iter_images, read_columns, split_files
from cultureclip.errors import DataError
from cultureclip.io import write_text
from cultureclip.registry import Registry

RESULTS = "results.jsonl"


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


@dataclass(frozen=True)
class Benchmark:
    name: str
    source: str
    """Where the release lives on the hub (what to download into --root)."""
    columns: tuple[str, ...]
    """Text columns read to build the questions."""
    questions: Callable[[list[dict], random.Random], list[Question]]
    counted: tuple[str, ...] = ()
    """List-of-image columns whose lengths the questions need."""


BENCHMARKS: Registry[Benchmark] = Registry("benchmark")


class ClipLike(Protocol):
    """What scoring needs from a CLIP adapter (backends.clip's ClipModel has it)."""

    def images_to_tensor(self, images: list[Image.Image]) -> torch.Tensor: ...
    def encode_images(self, pixels: torch.Tensor, normalize: bool = True) -> torch.Tensor: ...
    def tokenize(self, texts: list[str]) -> Any: ...
    def encode_texts(self, tokens: Any, normalize: bool = True) -> torch.Tensor: ...


def register(benchmark: Benchmark) -> Benchmark:
    BENCHMARKS.register(benchmark.name)(lambda: benchmark)
    return benchmark


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


def load_questions(name: str, root: Path, seed: int = 42) -> tuple[list[Path], list[Question]]:
    """The release's files under `root` and the questions benchmark `name` asks on them with `seed`."""
    bench = BENCHMARKS.create(name)
    files = split_files(root)
    questions = bench.questions(read_columns(files, bench.columns, bench.counted), random.Random(seed))
    if not questions:
        raise DataError(f"{root}: no {name} questions (no rows pass the benchmark's keep rules)")
    return files, questions


def evaluate(
    name: str, root: Path, model: ClipLike, seed: int = 42, batch_size: int = 64, out: Path | None = None
) -> dict:
    """Run benchmark `name` on the release in `root` with `model`; write OUT/results.jsonl when given."""
    if isinstance(getattr(model, "model", None), torch.nn.Module):
        model.model.eval()
    files, questions = load_questions(name, root, seed)
    images = _image_embeddings(model, files, questions, batch_size)
    texts = _text_embeddings(model, sorted({o for q in questions for o in q.options}), batch_size)
    lines = [_answer(q, images, texts) for q in questions]
    hits = sum(line["hit"] for line in lines)
    summary = {
        "benchmark": name,
        "model": getattr(model, "name", type(model).__name__),
        "seed": seed,
        "questions": len(lines),
        "correct": hits,
        "accuracy": hits / len(lines),
    }
    if out is not None:
        write_text(Path(out) / RESULTS, "".join(json.dumps(line) + "\n" for line in lines))
        write_text(Path(out) / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def _answer(q: Question, images: dict, texts: dict) -> dict:
    """The question's result line: the option of highest cosine similarity with its image."""
    predicted = int((torch.stack([texts[o] for o in q.options]) @ images[(q.row, q.column, q.index)]).argmax())
    where = {"row": q.row, "image": f"{q.column}[{q.index}]", "options": q.options, "correct": q.correct}
    return {**q.info, **where, "predicted": predicted, "hit": predicted == q.correct}


@torch.no_grad()
def _image_embeddings(model, files: list[Path], questions: list[Question], batch_size: int) -> dict:
    wanted: dict[str, set[tuple[int, int]]] = defaultdict(set)
    for q in questions:
        wanted[q.column].add((q.row, q.index))
    keys, pending, out = [], [], {}
    for column, needed in wanted.items():
        rows = {row for row, _ in needed}
        for row, images in track(iter_images(files, column, rows), total=len(rows), description=f"images ({column})"):
            for index, image in enumerate(images):
                if (row, index) in needed:
                    keys.append((row, column, index))
                    pending.append(image)
            if len(pending) >= batch_size:
                out |= _encode_images(model, keys, pending)
                keys, pending = [], []
    return out | (_encode_images(model, keys, pending) if pending else {})


def _encode_images(model, keys: list, images: list) -> dict:
    embeddings = model.encode_images(model.images_to_tensor(images), normalize=True)
    return dict(zip(keys, embeddings, strict=True))


@torch.no_grad()
def _text_embeddings(model, texts: list[str], batch_size: int) -> dict[str, torch.Tensor]:
    out = {}
    for start in range(0, len(texts), batch_size):
        chunk = texts[start : start + batch_size]
        out |= dict(zip(chunk, model.encode_texts(model.tokenize(chunk), normalize=True), strict=True))
    return out
