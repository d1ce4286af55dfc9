"""The root of the config: one run (build, train, evaluate) and the catalogue jobs, section by section."""

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator

from cultureclip.config.base import Strict
from cultureclip.config.build import BuildConfig
from cultureclip.config.catalog import CatalogConfig, ExpandConfig, MiningConfig
from cultureclip.config.eval import BenchConfig, EvalConfig, WiseConfig
from cultureclip.config.executor import ExecutorConfig
from cultureclip.config.judge import JudgeConfig
from cultureclip.config.models import ModelConfig
from cultureclip.config.overrides import first_error, overridden
from cultureclip.config.score import RecaptionConfig, ScoreConfig
from cultureclip.config.train import TrainConfig, pretrain_default
from cultureclip.config.view import ViewConfig


class RunConfig(Strict):
    seed: int = 0
    out: Path | None = None
    """Run folder; None means runs/<timestamp>."""
    catalog: CatalogConfig = Field(default_factory=CatalogConfig)
    build: BuildConfig = Field(default_factory=BuildConfig)
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    """Where the stages of every job that writes a dataset run (build, import, score-captions, recaption)."""
    judge: JudgeConfig = Field(default_factory=JudgeConfig)
    """The vision-language judge of the paper and bottom-up recipes and of `import cultwin --judge`."""
    model: ModelConfig = Field(default_factory=ModelConfig)
    pretrain: TrainConfig | None = Field(default_factory=pretrain_default)
    """Train the base model on generic captions first; null when model.name is already pretrained."""
    finetune: TrainConfig = Field(default_factory=TrainConfig)
    ablations: dict[str, dict[str, Any] | None] = Field(
        default_factory=lambda: {"tuned_plain": {"loss.caption": 0, "loss.concept": 0, "loss.clip": 1}}
    )
    """Extra fine-tunings, each the finetune config with these dotted overrides (same data, steps, seed);
    null removes one (e.g. `tuned_plain: null` in a preset drops the default ablation)."""
    eval: EvalConfig = Field(default_factory=EvalConfig)
    bench: BenchConfig = Field(default_factory=BenchConfig)
    """The paper's benchmarks (`cultureclip bench`)."""
    wise: WiseConfig = Field(default_factory=WiseConfig)
    """Weight-space interpolation of a tuned model with its base (`cultureclip wise`)."""
    score: ScoreConfig = Field(default_factory=ScoreConfig)
    """Caption-quality scores of a dataset (`cultureclip score-captions`)."""
    recaption: RecaptionConfig = Field(default_factory=RecaptionConfig)
    """Rewriting a dataset's low-scoring captions (`cultureclip recaption`)."""
    view: ViewConfig = Field(default_factory=ViewConfig)
    """The static HTML view of a dataset (`cultureclip view`)."""
    mining: MiningConfig = Field(default_factory=MiningConfig)
    expand: ExpandConfig = Field(default_factory=ExpandConfig)
    resume: bool = False
    """Continue each unfinished training from its latest checkpoint (`--resume`)."""

    @field_validator("ablations")
    @classmethod
    def _drop_removed_ablations(cls, value: dict[str, dict[str, Any] | None]) -> dict[str, dict[str, Any] | None]:
        return {name: overrides for name, overrides in value.items() if overrides is not None}

    @model_validator(mode="after")
    def _ablations_apply(self) -> "RunConfig":
        for name in self.ablations:
            self.training(name)
        return self

    def training(self, name: str) -> TrainConfig:
        """The training config of fine-tuning `name`: `tuned` (finetune) or an ablation (finetune + its overrides)."""
        if name == "tuned":
            return self.finetune
        try:
            return TrainConfig.model_validate(overridden(self.finetune, self.ablations[name]))
        except ValidationError as err:
            raise ValueError(f"ablations.{name}: {first_error(err)}") from None
