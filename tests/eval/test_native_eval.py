"""The native-name evaluation: names from the catalogue by concept id, the reports' "Native names" section, and
the run and `cultureclip compare` scoring a dataset with them."""

import json

import pytest
import torch
from test_tasks import E, TextTable, _named_dumplings

from cultureclip.cli import main
from cultureclip.config import CatalogConfig, DatasetSpec
from cultureclip.errors import ConfigError, DataError
from cultureclip.eval.datasets.base import EvalDataset, NativeNames
from cultureclip.eval.native import attach_native_names
from cultureclip.eval.reports.native import native_section
from cultureclip.eval.runner import Comparison
from cultureclip.eval.tasks import run_task


def test_names_come_from_the_catalogue_by_concept_id(mini_catalog):
    data = EvalDataset("d", [], ["jiaozi", "gyoza", "torii", "ghost"], class_ids=["jiaozi", "gyoza", "torii", "x"])
    catalog = CatalogConfig(path=mini_catalog)
    attach_native_names(data, "native", catalog)
    assert data.native_names == NativeNames("native", ["饺子", "餃子", "鳥居", None])
    attach_native_names(data, "zh", catalog)
    assert data.native_names == NativeNames("zh", ["饺子", None, None, None])
    with pytest.raises(DataError, match=f"dataset d: none of its 4 concepts has a name in 'ko' in {mini_catalog}"):
        attach_native_names(data, "ko", catalog)
    with pytest.raises(ConfigError, match="dataset m: names needs classes that are catalogue concepts"):
        attach_native_names(EvalDataset("m", [], ["a"]), "native", catalog)


def test_a_spec_names_another_language_than_english():
    with pytest.raises(ValueError, match="en: the English names are what every task already uses"):
        DatasetSpec(kind="shards", names="en")
    assert DatasetSpec(kind="shards", names="ja").names == "ja"


def test_the_section_shows_english_and_native_side_by_side_per_model():
    data = _named_dumplings()
    encoders = {
        "base": TextTable({"jiaozi": E[0], "gyoza": E[2], "naan": E[3], "饺子": E[0], "餃子": E[1], "नान": E[3]}),
        "other": TextTable(
            {"jiaozi": E[0], "gyoza": E[1], "naan": E[3], "饺子": 0.8 * E[0] + 0.6 * E[2], "餃子": E[1], "नान": E[3]}
        ),
    }
    features = torch.stack([E[0], E[1] + 0.1 * E[0], E[2], E[3], E[2] + 0.1 * E[1]])
    comparison = Comparison({}, {"d": data}, {})
    comparison.results = {
        m: {"d": {"native_names": run_task("native_names", data, features, e)}} for m, e in encoders.items()
    }
    assert native_section(comparison, "d") == [
        "",
        "## Native names: d",
        "",
        "The same images with each concept named in its own language in the prompts instead of in English, among "
        "the 3 of 4 concepts that have such a name (4 images; the twin task on the 3 whose twins have one too). "
        "Change: native minus English.",
        "",
        "| model | concept_acc en | concept_acc native | change | twin_acc en | twin_acc native | change |",
        "|---|---:|---:|---:|---:|---:|---:|",
        "| base | 0.750 | 1.000 | +0.250 | 0.667 | 1.000 | +0.333 |",
        "| other | 1.000 | 0.750 | -0.250 | 1.000 | 0.667 | -0.333 |",  # its 饺子 is near gyoza images
    ]


def test_no_twin_with_a_name_reads_n_a():
    data = _named_dumplings()
    data.native_names = NativeNames("hi", [None, None, None, "नान"])
    encoder = TextTable({"naan": E[3], "नान": E[3]})
    comparison = Comparison({}, {"d": data}, {})
    comparison.results = {
        "m": {"d": {"native_names": run_task("native_names", data, torch.eye(4)[[0, 1, 2, 3, 2]], encoder)}}
    }
    lines = native_section(comparison, "d")
    assert "named in language hi" in lines[3] and "the 1 of 4 concepts" in lines[3]
    assert lines[-1] == "| m | 1.000 | 1.000 | +0.000 | n/a | n/a | n/a |"


RUN = [
    "-c",
    "tiny",
    "build.catalog.max_groups=2",
    "build.catalog.train_images=2",
    "build.catalog.test_images=2",
    "pretrain=null",
    "finetune.steps=2",
    "finetune.batch_size=4",
    "ablations={}",
    "wise.model=null",
    "eval.workers=0",
    "eval.bootstrap=20",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny run on the shipped catalogue's dumpling and flatbread groups (8 concepts, each with a native name),
    its held-out split also scored with native names."""
    out = tmp_path_factory.mktemp("native") / "run"
    assert main(["run", "--out", str(out), *RUN, "eval.names=native"]) == 0
    return out


def test_the_run_scores_its_held_out_split_with_native_names_and_reports_them(run):
    metrics = json.loads((run / "metrics.json").read_text())
    for model in ("base", "tuned"):
        m = metrics["results"][model]["held-out"]["native_names"]
        assert (m["language"], m["concepts"], m["n"], m["n_twin"]) == ("native", 8, 16, 16)
        assert m["concept_acc_gain"] == pytest.approx(m["concept_acc_native"] - m["concept_acc_en"])
    assert set(metrics["deltas"]["tuned"]["held-out"]["native_names"]) == {
        "concept_acc_en",
        "concept_acc_native",
        "twin_acc_en",
        "twin_acc_native",
    }
    report = (run / "report.md").read_text()
    assert "## Native names: held-out" in report and "the 8 of 8 concepts that have such a name (16 images" in report
    section = report.split("## Native names: held-out")[1].split("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    assert [r.split(" | ")[0] for r in rows] == ["| model", "| base", "| tuned"], "a row per model"
    assert "| held-out | native_names |" not in report, "not repeated among the other datasets' tables"


def test_compare_scores_a_dataset_spec_with_names_in_a_language(run, tmp_path):
    spec = {"kind": "shards", "path": str(run / "data"), "names": "zh"}
    argv = [
        "compare",
        "--out",
        str(tmp_path / "cmp"),
        "--models",
        f"a=config:test-clip,b=local:{run / 'models' / 'tuned'}",
    ]
    assert main([*argv, f"eval.datasets=[{json.dumps(spec)}]", "eval.workers=0", "eval.bootstrap=20"]) == 0
    metrics = json.loads((tmp_path / "cmp" / "metrics.json").read_text())
    m = metrics["results"]["b"]["run-test"]["native_names"]
    assert (m["language"], m["concepts"], m["n"], m["n_twin"]) == ("zh", 1, 2, 0), "only jiaozi has a zh name"
    report = (tmp_path / "cmp" / "report.md").read_text()
    assert "## Native names: run-test" in report and "named in language zh" in report
    assert "| b | " in report and "| n/a | n/a | n/a |" in report
