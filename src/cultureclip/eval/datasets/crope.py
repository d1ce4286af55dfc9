"""CROPE as CultureCLIP evaluates it: a binary choice between a target concept and its definition concept.

Release: Malvinan/CROPE (CC-BY-4.0), split `test`, columns `image`, `definition_images` (a list of
images), `answer` and `metadata` (a struct with `image_en_concept` and `definition_concept`). Protocol
of the authors' evaluator, seed 42: only rows whose answer is "no" (any case), with both concepts
non-empty; options "There is {target concept} in the image." and "There is {definition concept} in
the image.", shuffled once per row; the main image should pick the target concept and each
definition image, with the same option order, its definition concept.
"""

import random

from cultureclip.config import DatasetSpec
from cultureclip.errors import DataError
from cultureclip.eval.datasets import register
from cultureclip.eval.datasets.base import EvalDataset
from cultureclip.eval.datasets.questions import Benchmark, Question, question_dataset

TEMPLATE = "There is {} in the image."


def crope_questions(rows: list[dict], rng: random.Random) -> list[Question]:
    questions = []
    for i, row in enumerate(rows):
        meta = row["metadata"] or {}
        if not isinstance(meta, dict):
            raise DataError(f"CROPE row {i}: column 'metadata' is not a struct (got {type(meta).__name__})")
        target, definition = meta.get("image_en_concept") or "", meta.get("definition_concept") or ""
        if str(row["answer"]).lower() != "no" or not target or not definition:
            continue
        options = [TEMPLATE.format(target), TEMPLATE.format(definition)]
        rng.shuffle(options)
        info = {"target": target, "definition": definition}
        questions.append(Question(i, "image", 0, options, options.index(TEMPLATE.format(target)), info))
        right = options.index(TEMPLATE.format(definition))
        count = row["definition_images"]
        questions += [Question(i, "definition_images", k, options, right, info) for k in range(count)]
    return questions


CROPE = Benchmark(
    name="crope",
    source="Malvinan/CROPE",
    columns=("answer", "metadata"),
    counted=("definition_images",),
    questions=crope_questions,
)


@register("crope")
def load_crope(spec: DatasetSpec) -> EvalDataset:
    """`--data crope:PATH`: the CROPE questions on the release at PATH."""
    return question_dataset(CROPE, spec)
