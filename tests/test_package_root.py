"""The entry points at the package root: importable from `cultureclip`, each the library's own function,
and `import cultureclip` stays light (no torch until one is used)."""

import subprocess
import sys

import pytest

import cultureclip

NAMES = ["build", "compare_models", "create_clip", "load_config", "train"]
LIGHT = """
import sys
import cultureclip
from cultureclip import load_config, train
print(sorted(cultureclip.ENTRY_POINTS.list()), "torch" in sys.modules, callable(train))
"""


def test_import_cultureclip_and_its_light_entry_points_import_no_torch():
    done = subprocess.run([sys.executable, "-c", LIGHT], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"{NAMES} False True"


def test_each_entry_point_is_the_function_of_its_module():
    from cultureclip import build, compare_models, create_clip, load_config, run
    from cultureclip.backends.clip import base
    from cultureclip.config import loading
    from cultureclip.eval import runner

    assert set(NAMES) <= set(cultureclip.__all__) and set(NAMES) <= set(dir(cultureclip))
    assert (build, compare_models, create_clip, load_config) == (
        run.build,
        runner.compare_models,
        base.create_clip,
        loading.load_config,
    )
    assert load_config("tiny", ["seed=3"]).seed == 3


def test_train_is_the_trainer_package_and_calls_the_runs_training(monkeypatch):
    import cultureclip.train.loop  # the subpackage imported first: `train` is still the entry point
    from cultureclip import train

    assert train is sys.modules["cultureclip.train"] and train.loop is cultureclip.train.loop
    calls = []
    monkeypatch.setattr(cultureclip.ENTRY_POINTS, "get", lambda name: lambda *a, **k: calls.append((name, a, k)))
    train("cfg", "out", seconds={})
    assert calls == [("train", ("cfg", "out"), {"seconds": {}})]


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="module 'cultureclip' has no attribute 'trian'"):
        cultureclip.trian  # noqa: B018
    with pytest.raises(ImportError):
        from cultureclip import trian  # noqa: F401
