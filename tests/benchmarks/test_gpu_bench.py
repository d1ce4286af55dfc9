"""benchmarks/gpu.py runs on a CPU at tiny sizes and ends with the JSON line a GPU user reads."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[2] / "benchmarks" / "gpu.py"
TINY = ["--device", "cpu", "--images", "24", "--batches", "4", "--steps", "4", "--pairs", "4", "--workers", "0"]


@pytest.mark.timeout(900)  # two trainers, two evaluations, three pipelines and two memory steps: minutes on 2 cores
def test_the_gpu_benchmark_on_a_cpu_prints_its_json_last():
    done = subprocess.run([sys.executable, str(BENCH), *TINY], capture_output=True, text=True, timeout=840)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert (report["device"], report["precision"], report["model"]) == ("cpu", "fp32", "open_clip:ViT-S-32")
    train = report["train"]
    assert train["batches"] == [4] and len(train["ours_images_per_s"]) == len(train["ours_vs_open_clip_train"]) == 1
    ours, theirs = train["ours_images_per_s"][0], train["open_clip_train_images_per_s"][0]
    assert ours > 0 and theirs > 0 and train["ours_vs_open_clip_train"][0] == ours / theirs
    assert 0 <= train["data_wait_share"][0] < 1 and 0 <= report["data_wait_share_512"] < 1
    assert set(report["eval_images_per_s"]) == {"224", "512"} and min(report["eval_images_per_s"].values()) > 0
    auto = report["diffusers"]["auto"]
    assert auto["ok"] and auto["weights"] == "float32"  # auto is float32 on a CPU, bfloat16 on a GPU that has it
    assert auto["batch_vs_alone_max_diff"] <= 1  # a row's image is the same alone and in a batch
    assert report["diffusers"]["bfloat16"]["weights"] == "bfloat16"
    assert report["memory_gib"] == {"pairs": 4, "plain": None, "checkpointing": None}  # GPU memory: none here
    assert report["versions"]["torch"] and "ours vs open_clip_train at batch 4" in done.stdout
