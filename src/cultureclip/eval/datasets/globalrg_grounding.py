"""GlobalRG-Grounding as CultureCLIP evaluates it: a 4-way choice of the concept within the image's region.

Release: UBC-VL/globalrg-grounding-task (CC-BY-4.0), split `test`, columns `image`, `region`, `concept`
(592 culture-specific concepts from 15 countries). Protocol of the authors' evaluator, seed 42: only
regions with at least 4 concepts; options "The item in the picture is {concept} in {region}" for the
true concept and 3 other concepts of the same region, shuffled.
"""

from cultureclip.config import DatasetSpec
from cultureclip.eval.datasets import register
from cultureclip.eval.datasets.base import EvalDataset
from cultureclip.eval.datasets.questions import Benchmark, n_way_questions, question_dataset

TEMPLATE = "The item in the picture is {concept} in {region}"

GLOBALRG_GROUNDING = Benchmark(
    name="globalrg_grounding",
    source="UBC-VL/globalrg-grounding-task",
    columns=("region", "concept"),
    questions=lambda rows, rng: n_way_questions(rows, "region", "concept", TEMPLATE, rng),
)


@register("globalrg_grounding")
def load_globalrg_grounding(spec: DatasetSpec) -> EvalDataset:
    """`--data globalrg_grounding:PATH`: the GlobalRG-Grounding questions on the release at PATH."""
    return question_dataset(GLOBALRG_GROUNDING, spec)
