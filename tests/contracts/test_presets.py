"""Every shipped preset loads and validates, and its cross-field rules hold at load time."""

import pytest

from cultureclip.config import RunConfig, list_presets, load_config


def test_presets_are_shipped():
    assert {"ablation", "lite-towers", "paper", "paper-build", "smollm2", "tiny"} <= set(list_presets())


@pytest.mark.parametrize("name", list_presets())
def test_preset_loads_and_round_trips(name):
    cfg = load_config(name)
    assert isinstance(cfg, RunConfig)
    again = RunConfig.model_validate(cfg.model_dump(mode="json"))
    assert again == cfg
