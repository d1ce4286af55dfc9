"""CVQA scored as a CLIP multiple choice, as MetaCLIP 2's evaluation does it, in English and in the local language.

CVQA (Romero et al., "CVQA: Culturally-diverse Multilingual Visual Question Answering Benchmark", NeurIPS 2024
Datasets and Benchmarks, arXiv:2406.05967): 10k questions on photos from 30 countries in 31 languages, each
with 4 options. Release: afaji/cvqa on the hub, split `test`, columns `image`, `Question` and `Options` (the
local language), `Translated Question` and `Translated Options` (English), `Label` (the right option's
index) and `Subset` (the language and the country, e.g. "('Japanese', 'Japan')").

Protocol (MetaCLIP 2, Chuang et al. 2025, arXiv:2507.22062, which scores CVQA with CLIP models): no
generation; each option becomes the text "{question} {option}" and the image picks the text with the highest
cosine; accuracy over the questions. `cvqa` uses the English question and options, `cvqa_local` the local
ones. Options keep the release's order (no draw, so the seed changes nothing); a row without a label (null
or negative) is skipped. Per-country accuracy comes from `Subset`.
"""

import re

from cultureclip.config import DatasetSpec
from cultureclip.eval.datasets import register
from cultureclip.eval.datasets.base import EvalDataset
from cultureclip.eval.datasets.questions import Benchmark, Question, question_dataset

SOURCE = "afaji/cvqa"
COLUMNS = {"cvqa": ("Translated Question", "Translated Options"), "cvqa_local": ("Question", "Options")}


def cvqa_questions(rows: list[dict], question: str, options: str) -> list[Question]:
    """One question per labelled row: the texts "{question} {option}", the right one at `Label`."""
    questions = []
    for i, row in enumerate(rows):
        label, choices = row["Label"], row[options] or []
        if label is None or not 0 <= label < len(choices):
            continue
        subset = str(row["Subset"] or "")
        names = re.findall(r"'([^']*)'", subset)
        info = {"subset": subset, "region": names[-1] if names else subset}
        texts = [f"{row[question]} {choice}" for choice in choices]
        questions.append(Question(i, "image", 0, texts, label, info))
    return questions


CVQA, CVQA_LOCAL = (
    Benchmark(
        name=name,
        source=SOURCE,
        columns=(*COLUMNS[name], "Label", "Subset"),
        questions=lambda rows, rng, columns=COLUMNS[name]: cvqa_questions(rows, *columns),
    )
    for name in COLUMNS
)


@register("cvqa")
def load_cvqa(spec: DatasetSpec) -> EvalDataset:
    """`--data cvqa:PATH`: CVQA's questions and options in English on the release at PATH."""
    return question_dataset(CVQA, spec)


@register("cvqa_local")
def load_cvqa_local(spec: DatasetSpec) -> EvalDataset:
    """`--data cvqa_local:PATH`: CVQA's questions and options in their local language."""
    return question_dataset(CVQA_LOCAL, spec)
