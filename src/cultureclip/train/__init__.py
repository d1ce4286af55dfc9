"""The CultureCLIP trainer: twin-aware objective, twin-group sampling, training loop.

The package is also the entry point `cultureclip.train(cfg, out)` (the run's `train_models`: the base,
tuned and ablation models of the run folder OUT), so `from cultureclip import train` gives the same
callable whether or not a module of this package was imported first.
"""

import sys
import types


class _CallablePackage(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from cultureclip import ENTRY_POINTS

        return ENTRY_POINTS.get("train")(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
