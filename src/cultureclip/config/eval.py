"""How models are evaluated: the datasets and their specs, the report, the paper's benchmarks, WiSE-FT."""

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator

from cultureclip.config.base import Strict
from cultureclip.config.catalog import check_language


def other_language(language: str) -> str:
    """`language` when it names other names than the English ones: native or an ISO 639-1 code but en."""
    if language == "en":
        raise ValueError("en: the English names are what every task already uses; give native or another code")
    return check_language(language)


OtherLanguage = Annotated[str, AfterValidator(other_language)]
"""A language of names other than the English ones (a setting `names`)."""


class ProbeSpec(Strict):
    """The linear probe (task `linear_probe`): logistic regression on frozen image features."""

    train_split: str | None = "train"
    """Split the probe fits on, for kinds with splits (shards, fashion_mnist, clip_benchmark); None, or a kind
    without splits (folder, manifest, ...): a seeded stratified share of the evaluated items (`test_share`)."""
    train_sample: int | None = Field(default=None, ge=1)
    """Fit on this many training items drawn at random (seeded by `seed`); None: all."""
    test_share: float = Field(default=0.5, gt=0.0, lt=1.0)
    """Share of the items scored when the probe splits the evaluated items itself."""
    C: float = Field(default=10.0, gt=0.0)
    """Inverse L2 regularisation strength of scikit-learn's LogisticRegression (features are L2-normalised)."""
    max_iter: int = Field(default=1000, ge=1)
    bootstrap: int = Field(default=1000, ge=0)
    """Resamples of the test items for the 95% interval of the probe's accuracy (0: none)."""
    seed: int = 0
    """Seed of the split, the training sample and the bootstrap."""


class DatasetSpec(Strict):
    kind: str
    """Dataset kind (see `cultureclip.eval.datasets`): folder, manifest, shards, globalrg_retrieval,
    globalrg_grounding, crope, geode, fashion_mnist, clip_benchmark."""
    path: Path | None = None
    """The image folder, manifest file, shard folder, benchmark folder, or CLIP_benchmark root; only
    fashion_mnist may leave it out (it then reads the CULTURECLIP_FASHION_MNIST folder)."""
    name: str | None = None
    """Name in the report; default: the file or folder name (the dataset name for clip_benchmark)."""
    dataset: str | None = None
    """CLIP_benchmark dataset name (cifar10, imagenet1k, ...); kind clip_benchmark only."""
    split: str = "test"
    tasks: list[str] | None = None
    """Tasks to run (classification, choice, retrieval, general, linear_probe); default: those the data
    supports except linear_probe, which fits a classifier and runs only when asked for."""
    templates: list[str] | None = None
    """Prompt templates with {c} for the class name, averaged as an ensemble; default: the dataset's."""
    generic_templates: list[str] | None = None
    """Prompt templates of the general task's generic kinds ({c} or {generic}); default: the dataset's."""
    sample: int | None = Field(default=None, ge=1)
    """Evaluate this many items drawn at random (seeded by `seed`, kept in dataset order); None: all."""
    seed: int | None = None
    """Seed of the dataset's random draws: the `sample` draw (None: 0) and a benchmark's option draws and
    shuffles (None: 42, the paper's evaluators')."""
    classnames: Path | None = None
    """Text file, one display name per line in class order (kind folder: sorted folder names)."""
    probe: ProbeSpec = Field(default_factory=ProbeSpec)
    """Settings of the linear_probe task on this dataset."""
    names: OtherLanguage | None = None
    """Also score the concept and twin tasks with each class's name in this language beside its English name
    (task native_names): native (each concept's own language) or an ISO 639-1 code. The names come from the
    catalogue (`catalog`), by concept id, so kind shards only; a concept without such a name is left out."""


class EvalConfig(Strict):
    concept_template: str = "a photo of {name}."
    generic_template: str = "a photo of {article} {generic}."
    batch_size: int = Field(default=256, ge=1)
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    """Autocast precision of the towers (embeddings are compared in fp32); auto: bf16 on GPUs that support it,
    fp16 on other GPUs, fp32 elsewhere. The embedding cache keeps each precision's vectors apart."""
    grid_groups: int = Field(default=4, ge=1)
    """Twin groups shown in the report's image grid."""
    models: dict[str, str] = Field(default_factory=dict)
    """Models to compare with `cultureclip compare`: report name -> model id; the first is the reference."""
    datasets: list[DatasetSpec] = Field(default_factory=list)
    """Datasets for `cultureclip compare` (its --data are added to them)."""
    held_out_tasks: list[str] = Field(default_factory=list)
    """Tasks the run also scores on its held-out split besides the three accuracies (linear_probe,
    retrieval), shown in the run report with the other datasets."""
    probe: ProbeSpec = Field(default_factory=ProbeSpec)
    """Settings of linear_probe on the run's held-out split (fitted on the dataset's train split)."""
    extra_datasets: list[DatasetSpec] = Field(default_factory=list)
    """Datasets the run evaluates besides its held-out split (Fashion-MNIST photos in lite-towers)."""
    workers: int | None = Field(default=None, ge=0)
    """Dataloader worker processes that decode and preprocess images; None: one per usable core, less one."""
    cache_dir: Path | None = None
    """Embedding cache, keyed by (model fingerprint, file hash); None: $XDG_CACHE_HOME/cultureclip/embeddings."""
    cache: bool = True
    """Read and write the embedding cache."""
    bootstrap: int = Field(default=1000, ge=0)
    """Bootstrap resamples for the 95% confidence intervals of the deltas (0: none)."""
    examples: int = Field(default=8, ge=0)
    """Images where the models disagree, shown in the report."""
    confusion_groups: int = Field(default=4, ge=0)
    """Worst twin groups whose confusion matrix the report plots."""
    reference: str = "base"
    """Model of the run the run report's deltas (with paired bootstrap 95% intervals) are against."""
    names: OtherLanguage | None = None
    """Also score the held-out split's concept and twin tasks with each concept's name in this language (native
    or an ISO 639-1 code) beside its English name: task native_names, the report's section "Native names".
    None: `catalog.language` when it is not en, else no such scoring."""


class BenchConfig(Strict):
    seed: int = 42
    """Seed of the benchmarks' option sampling and shuffling (the paper's evaluators use 42)."""
    batch_size: int = Field(default=64, ge=1)
    """Images and texts embedded per forward pass."""


class WiseConfig(Strict):
    alphas: list[float] = Field(default_factory=lambda: [0.0, 0.25, 0.5, 0.75, 1.0])
    """Mixing weights of WiSE-FT: 0 is the base model, 1 the tuned one."""
    model: str | None = "tuned"
    """Trained model of the run whose WiSE-FT mixes with the run's base are evaluated at each alpha (and drawn
    as a trade-off curve in the report); None: no sweep in the run."""

    @field_validator("alphas")
    @classmethod
    def _in_unit_interval(cls, alphas: list[float]) -> list[float]:
        if not alphas or any(not 0.0 <= a <= 1.0 for a in alphas):
            raise ValueError("each alpha must lie in [0, 1] (and the list must not be empty)")
        return alphas
