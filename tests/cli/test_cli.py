import json
import shutil

import pytest

from cultureclip.cli import main
from cultureclip.eval.reports.run import held_out_accuracy

METRIC_KEYS = {"concept_acc", "twin_acc", "general_acc"}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(["run", "--config", "tiny", "--out", str(out)]) == 0
    return out


def test_run_writes_metrics_report_and_models(tiny_run):
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert set(metrics) == {"models", "datasets", "results", "reference", "deltas", "stages", "wise"}
    assert list(metrics["results"]) == ["base", "tuned", "tuned_plain"] and metrics["reference"] == "base"
    assert metrics["datasets"]["held-out"]["items"] == 14 * 3  # the first 4 shipped twin groups: 14 concepts x 3
    for values in held_out_accuracy(metrics).values():
        assert set(values) == METRIC_KEYS and all(0.0 <= values[k] <= 1.0 for k in METRIC_KEYS)
    assert set(metrics["stages"]) == {"build", "base", "tuned", "tuned_plain", "eval", "total"}
    assert metrics["stages"]["total"] == pytest.approx(sum(v for k, v in metrics["stages"].items() if k != "total"))
    report = (tiny_run / "report.md").read_text()
    assert "| tuned |" in report and "![per-category accuracy](per_category.png)" in report
    assert "## Wall time per stage (this invocation)" in report and "| eval |" in report
    assert report.startswith("# cultureclip run report\n\nOffline world: images are procedurally rendered")
    assert "[the dataset's view](view/index.html)" in report and (tiny_run / "view" / "index.html").is_file()
    assert "## Where the models disagree" in report and "| image | truth | base | tuned |" in report
    html = (tiny_run / "report.html").read_text()
    assert "Wall time per stage" in html and "data:image/png;base64," in html
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
    alone, run = (json.loads((f / "metrics.json").read_text()) for f in (tmp_path, tiny_run))
    assert {k: alone[k] for k in ("results", "deltas", "wise")} == {k: run[k] for k in ("results", "deltas", "wise")}
    assert alone["stages"] == {}  # `eval` alone times no stages


def test_world_note_only_on_procedurally_rendered_data(tiny_run, tmp_path):
    """The note comes from the dataset card: not for diffusion-built images, nor for a dataset without a
    card (an imported one)."""
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run, ignore=shutil.ignore_patterns("*.png", "report.*"))
    card = json.loads((run / "data" / "card.json").read_text())
    assert card["models"]["renderer"] == "procedural"
    card["models"]["renderer"] = "diffusers:stabilityai/sd-turbo"
    (run / "data" / "card.json").write_text(json.dumps(card))
    assert main(["eval", "--config", "tiny", "--out", str(run)]) == 0
    assert "Offline world" not in (run / "report.md").read_text()
    (run / "data" / "card.json").unlink()
    assert main(["eval", "--config", "tiny", "--out", str(run)]) == 0
    report = (run / "report.md").read_text()
    assert (
        report.startswith("# cultureclip run report\n\n\n42 held-out images of 14 concepts") and "Offline" not in report
    )


def test_held_out_tasks_add_the_linear_probe_to_the_run_report(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run, ignore=shutil.ignore_patterns("*.png", "report.*"))
    args = ["eval.held_out_tasks=[linear_probe]", "eval.probe.bootstrap=100", "wise.model=null"]
    assert main(["eval", "--config", "tiny", "--out", str(run), *args]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    probe = metrics["results"]["tuned"]["held-out"]["linear_probe"]
    assert probe["n"] == 14 * 3 and probe["n_train"] == 14 * 6  # fitted on the train split, scored on held-out
    assert "probe_acc" in metrics["deltas"]["tuned"]["held-out"]["linear_probe"]
    report = (run / "report.md").read_text()
    assert f"| tuned | linear_probe | probe_acc | {probe['probe_acc']:.3f} [" in report


def test_eval_loads_each_model_once_for_scores_and_wise(tiny_run, tmp_path, monkeypatch):
    from cultureclip.eval import runner

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run, ignore=shutil.ignore_patterns("*.png", "report.*"))
    loaded, create = [], runner.create_clip
    monkeypatch.setattr(runner, "create_clip", lambda model_id, *a: loaded.append(model_id) or create(model_id, *a))
    assert main(["eval", "--config", "tiny", "--out", str(run)]) == 0
    assert sorted(loaded) == sorted(f"local:{run / 'models' / n}" for n in ("base", "tuned", "tuned_plain"))
    assert len(json.loads((run / "wise.json").read_text())) == 5


def test_rerun_skips_finished_stages_and_refuses_changed_settings(tiny_run, capsys):
    before = (tiny_run / "models" / "tuned" / "open_clip_model.safetensors").stat().st_mtime_ns
    assert main(["run", "--config", "tiny", "--out", str(tiny_run)]) == 0
    assert (tiny_run / "models" / "tuned" / "open_clip_model.safetensors").stat().st_mtime_ns == before
    capsys.readouterr()
    assert main(["train", "--config", "tiny", "--out", str(tiny_run), "finetune.lr=0.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert "models/tuned: made with other settings than now (lr: 0.001 -> 0.5)" in err.replace("\n", "")


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
