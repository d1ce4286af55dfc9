import json

import pytest

from cultureclip.cli import main

METRIC_KEYS = {"concept_acc", "twin_acc", "general_acc"}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(["run", "--config", "tiny", "--out", str(out)]) == 0
    return out


def test_run_writes_metrics_report_and_models(tiny_run):
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert set(metrics) == {"base", "tuned", "tuned_plain"}
    for values in metrics.values():
        assert METRIC_KEYS <= set(values)
        assert all(0.0 <= values[k] <= 1.0 for k in METRIC_KEYS)
        assert values["n_images"] == 14 * 3  # the first 4 shipped twin groups hold 14 concepts; 3 images each
    report = (tiny_run / "report.md").read_text()
    assert "| tuned |" in report and "![per-category accuracy](per_category.png)" in report
    for name in ("per_category.png", "twins.png", "config.yaml", "data/manifest.parquet", "data/train-00000.tar"):
        assert (tiny_run / name).is_file(), name
    for model in ("base", "tuned", "tuned_plain"):
        folder = tiny_run / "models" / model
        assert (folder / "open_clip_model.safetensors").is_file()
        log = [json.loads(line) for line in (folder / "train_log.jsonl").read_text().splitlines()]
        assert [r["step"] for r in log] == list(range(len(log)))
    tuned_log = (tiny_run / "models" / "tuned" / "train_log.jsonl").read_text().splitlines()
    assert {"caption", "concept"} <= set(json.loads(tuned_log[0]))
    assert "clip" in json.loads((tiny_run / "models" / "tuned_plain" / "train_log.jsonl").read_text().splitlines()[0])


def test_stages_one_by_one_reproduce_the_run_exactly(tiny_run, tmp_path):
    for command in ("build", "train", "eval"):
        assert main([command, "--config", "tiny", "--out", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "metrics.json").read_text()) == json.loads((tiny_run / "metrics.json").read_text())


def test_rerun_skips_finished_stages_and_refuses_changed_settings(tiny_run, capsys):
    before = (tiny_run / "models" / "tuned" / "open_clip_model.safetensors").stat().st_mtime_ns
    assert main(["run", "--config", "tiny", "--out", str(tiny_run)]) == 0
    assert (tiny_run / "models" / "tuned" / "open_clip_model.safetensors").stat().st_mtime_ns == before
    capsys.readouterr()
    assert main(["train", "--config", "tiny", "--out", str(tiny_run), "finetune.lr=0.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert "models/tuned: made with other settings than now (train_config.yaml differs)" in err.replace("\n", "")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "finetune.stepz=3"], "finetune.stepz: unknown key"),
        (["build", "--config", "nope"], "no such file and no such preset"),
        (["train", "--config", "tiny"], "--out is required"),
        (["eval", "--config", "tiny", "--out", "/nonexistent/run"], "no finished dataset"),
    ],
)
def test_errors_are_one_line_with_exit_code_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err.replace("\n", " ")
    assert err.startswith("error:")


@pytest.mark.parametrize("command", ["build", "train", "eval", "run"])
def test_every_subcommand_explains_itself(command, capsys):
    assert main([command, "--help"]) == 0
    text = capsys.readouterr().out
    assert "--config" in text and "--out" in text and "key=value" in text


def test_a_lora_target_matching_nothing_stops_train_with_one_line(tiny_run, tmp_path, capsys):
    import shutil

    shutil.copytree(tiny_run / "data", tmp_path / "data")
    argv = ["train", "--config", "tiny", "--out", str(tmp_path), "pretrain=null"]
    argv += [f"model.name=local:{tiny_run / 'models' / 'base'}", "finetune.tune.mode=lora"]
    argv += ["finetune.tune.lora_targets=[q]"]
    assert main(argv) == 2
    err = capsys.readouterr().err.replace("\n", " ")
    assert err.startswith("error: tune.lora_targets: 'q' matches no module in the image/text tower(s) of local:")
