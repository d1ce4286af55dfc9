"""One typed configuration: pydantic models by section, YAML files, and dotted `key=value` overrides.

Defaults are the offline default run; shipped presets (`tiny`, ...) live in `cultureclip/config/presets/`.
A wrong key or type, or settings that contradict each other, are a ConfigError naming the file and the
dotted key when the config loads. No module here imports torch.
"""

from cultureclip.config.base import Strict
from cultureclip.config.build import (
    BottomUpRecipeConfig,
    BuildConfig,
    CaptionConfig,
    CatalogRecipeConfig,
    ClipFilterConfig,
    CorpusConfig,
    PaperRecipeConfig,
    ShardImageConfig,
    TwinPairConfig,
)
from cultureclip.config.catalog import CatalogConfig, ExpandConfig, MiningConfig
from cultureclip.config.eval import BenchConfig, DatasetSpec, EvalConfig, ProbeSpec, WiseConfig
from cultureclip.config.executor import ExecutorConfig
from cultureclip.config.judge import JudgeConfig
from cultureclip.config.loading import PRESETS, dump_config, list_presets, load_config, read_yaml, yaml_error_line
from cultureclip.config.models import ChatModelConfig, ImageGeneratorConfig, ModelConfig, TowersConfig
from cultureclip.config.overrides import apply_overrides, deep_merge, set_dotted, validate
from cultureclip.config.run import RunConfig
from cultureclip.config.score import RecaptionConfig, ScoreConfig
from cultureclip.config.train import ExtraDataConfig, LossConfig, TrainConfig, TuneConfig, pretrain_default
from cultureclip.config.view import ViewConfig

__all__ = [
    "PRESETS",
    "BenchConfig",
    "BottomUpRecipeConfig",
    "BuildConfig",
    "CaptionConfig",
    "CatalogConfig",
    "CatalogRecipeConfig",
    "ChatModelConfig",
    "ClipFilterConfig",
    "CorpusConfig",
    "DatasetSpec",
    "EvalConfig",
    "ExecutorConfig",
    "ExpandConfig",
    "ExtraDataConfig",
    "ImageGeneratorConfig",
    "JudgeConfig",
    "LossConfig",
    "MiningConfig",
    "ModelConfig",
    "PaperRecipeConfig",
    "ProbeSpec",
    "RecaptionConfig",
    "RunConfig",
    "ScoreConfig",
    "ShardImageConfig",
    "TwinPairConfig",
    "Strict",
    "TowersConfig",
    "TrainConfig",
    "TuneConfig",
    "ViewConfig",
    "WiseConfig",
    "apply_overrides",
    "deep_merge",
    "dump_config",
    "list_presets",
    "load_config",
    "pretrain_default",
    "read_yaml",
    "set_dotted",
    "validate",
    "yaml_error_line",
]
