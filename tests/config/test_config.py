import pytest

from cultureclip.config import RunConfig, apply_overrides, load_config
from cultureclip.errors import ConfigError


def test_defaults_are_the_offline_world():
    cfg = load_config()
    assert cfg == RunConfig()
    assert cfg.model.name == "config:world-clip"
    assert cfg.pretrain.text == "generic" and cfg.finetune.sampler == "twins"
    assert (cfg.finetune.loss.caption, cfg.finetune.loss.concept) == (0.7, 0.3)


def test_preset_and_overrides_are_typed():
    cfg = load_config("tiny", ["finetune.steps=5", "finetune.loss.preserve=0.5", "eval.concept_template='{name}'"])
    assert cfg.finetune.steps == 5 and isinstance(cfg.finetune.steps, int)
    assert cfg.finetune.loss.preserve == 0.5
    assert cfg.eval.concept_template == "{name}"
    assert cfg.model.name == "config:test-clip"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["finetune.stepz=5"], "config error in override 'finetune.stepz=5': finetune.stepz: unknown key"),
        (["finetune.steps=many"], "override 'finetune.steps=many': finetune.steps: Input should be a valid integer"),
        (["finetune={steps: x}"], "override 'finetune={steps: x}': finetune.steps: Input should be a valid integer"),
        (["finetune.steps=[1"], "override 'finetune.steps=[1': the value is not valid YAML (quote it)"),
        (["finetune.steps=0"], "finetune.steps: Input should be greater than or equal to 1 (got 0)"),
        (["finetune.sampler=shuffle"], "finetune.sampler: Input should be 'random', 'twins' or 'twin_epochs'"),
        (["steps"], "override 'steps': expected key=value"),
        (["seed.x=1"], "override 'seed.x': 'seed' is not a section"),
    ],
)
def test_bad_overrides_are_one_line_errors(overrides, message):
    with pytest.raises(ConfigError) as err:
        load_config(None, overrides)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_an_override_error_blames_the_override_and_a_file_error_the_file(tmp_path):
    preset = tmp_path / "preset.yaml"
    preset.write_text("finetune:\n  steps: many\n")
    with pytest.raises(ConfigError, match=r"config error in .*preset\.yaml: finetune\.steps: Input should be"):
        load_config(preset, ["seed=3"])
    with pytest.raises(ConfigError, match=r"config error in override 'seed=x': seed: Input should be"):
        load_config("tiny", ["seed=x"])


def test_non_utf8_and_binary_config_files_are_one_line_errors(tmp_path):
    for name, data in [
        ("latin1.yaml", "seed: 1 # caf\xe9\n".encode("latin-1")),
        ("image.yaml", b"\x89PNG\r\n\x1a\n\x00"),
    ]:
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ConfigError, match=rf"config error in .*{name}: not a UTF-8 text file \(byte \d+\)"):
            load_config(tmp_path / name)


def test_bad_file_names_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("build:\n  image_size: [1, 2\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml line \d+: not valid YAML"):
        load_config(bad)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("build:\n  image_sise: 32\n")
    with pytest.raises(ConfigError, match=r"config error in .*wrong\.yaml: build\.image_sise: unknown key"):
        load_config(wrong)
    with pytest.raises(ConfigError, match="no such file and no such preset"):
        load_config(tmp_path / "missing.yaml")


def test_ablation_overrides_apply_to_a_copy():
    cfg = load_config()
    plain = apply_overrides(cfg.finetune, cfg.ablations["tuned_plain"], "ablations.tuned_plain")
    assert (plain.loss.caption, plain.loss.concept, plain.loss.clip) == (0, 0, 1)
    assert cfg.finetune.loss.caption == 0.7
    assert plain.steps == cfg.finetune.steps and plain.sampler == cfg.finetune.sampler


def test_setting_one_key_keeps_the_rest_of_its_section(tmp_path):
    cfg = load_config(None, ["pretrain.steps=5"])
    assert cfg.pretrain.steps == 5
    assert (cfg.pretrain.text, cfg.pretrain.sampler, cfg.pretrain.loss.clip) == ("generic", "random", 1)
    file = tmp_path / "c.yaml"
    file.write_text("finetune:\n  loss:\n    preserve: 2.0\n")
    cfg = load_config(file, ["ablations.no_concept={loss.concept: 0}"])
    assert cfg.finetune.loss.preserve == 2.0 and cfg.finetune.loss.caption == 0.7
    assert set(cfg.ablations) == {"tuned_plain", "no_concept"}
    assert load_config(None, ["pretrain=null"]).pretrain is None
