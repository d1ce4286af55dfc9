"""GlobalRG-Retrieval as CultureCLIP evaluates it: a 4-way choice of the region an image comes from.

Release: UBC-VL/GlobalRG-Retrieval (CC-BY-4.0), split `test`, columns `image`, `region`, `universal`
(3,000 images of 20 universal concepts from 50 countries). Protocol of the authors' evaluator, seed 42:
only universals present in at least 4 regions; options "The picture depicts a kind of {universal} in
{region}" for the true region and 3 other regions with the same universal, shuffled.
"""

from cultureclip.config import DatasetSpec
from cultureclip.eval.datasets import register
from cultureclip.eval.datasets.base import EvalDataset
from cultureclip.eval.datasets.questions import Benchmark, n_way_questions, question_dataset

TEMPLATE = "The picture depicts a kind of {universal} in {region}"

GLOBALRG_RETRIEVAL = Benchmark(
    name="globalrg_retrieval",
    source="UBC-VL/GlobalRG-Retrieval",
    columns=("universal", "region"),
    questions=lambda rows, rng: n_way_questions(rows, "universal", "region", TEMPLATE, rng),
)


@register("globalrg_retrieval")
def load_globalrg_retrieval(spec: DatasetSpec) -> EvalDataset:
    """`--data globalrg_retrieval:PATH`: the GlobalRG-Retrieval questions on the release at PATH."""
    return question_dataset(GLOBALRG_RETRIEVAL, spec)
