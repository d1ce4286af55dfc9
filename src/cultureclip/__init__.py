"""cultureclip: make CLIP-style vision-language models culturally aware.

The common entry points are importable from here; each loads its module (and torch) on first use, so
`import cultureclip` stays light:

    cfg = load_config("tiny", ["finetune.steps=20"])   # a preset or YAML file, then key=value overrides
    data = build(cfg, out)                             # the dataset of cfg.build.recipe into OUT/data
    models = train(cfg, out)                           # base, tuned, ablations: {name: model id}
    comparison = compare_models(models, datasets, cfg.eval, "auto", cfg.seed)   # the one scorer
    model = create_clip("open_clip:ViT-B-32@openai")   # any CLIP by its model id

`train` is also the trainer's package (`cultureclip.train.loop`, ...): the package is callable.
"""

import importlib

from cultureclip.registry import Registry

__version__ = "0.1.0"

ENTRY_POINTS = Registry(
    "entry point",
    {
        "create_clip": "cultureclip.backends.clip:create_clip",
        "load_config": "cultureclip.config:load_config",
        "build": "cultureclip.run:build",
        "train": "cultureclip.run:train_models",
        "compare_models": "cultureclip.eval.runner:compare_models",
    },
)
"""The functions the package root offers, by name."""
__all__ = [*ENTRY_POINTS.list(), "ENTRY_POINTS", "__version__"]


def __getattr__(name: str):
    if name == "train":  # the subpackage of that name (callable): imported, it would replace a function here
        return importlib.import_module("cultureclip.train")
    if name in ENTRY_POINTS:
        return ENTRY_POINTS.get(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
