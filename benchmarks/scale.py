"""The pipeline at 1x, 4x and 16x the images: does any stage's memory or per-image time grow with the data?

Each size is the offline world on its first `--groups` twin groups (all: every curated one), with
`--images` x size training images per concept (a third of that held out), rendered at 224 px. Each
stage runs in a fresh process, whose peak RSS (the largest of it and its DataLoader workers, from wait4)
and wall time are measured from outside:
- build: `cultureclip build` of the tiny preset at that size;
- train: our trainer on the built shards for a fixed number of steps (`--model`, random weights, plain
  CLIP loss on random batches of `--batch` images, `--workers` loader processes): seconds from start to
  the first step (reading the index), and images/s delivered to the training step (median step, data
  loading included, first steps left out);
- eval: the evaluator's zero-shot classification of every image of the dataset (both splits), cold cache.
At the smallest size it also trains (a) from the same images preloaded into memory (`InMemorySamples`,
the loader's cost without reading shards) and (b) with open_clip's own trainer (`open_clip_train.main`,
its webdataset loader, the same model, batch, workers, steps and precision), each in its own process.

    python benchmarks/scale.py [--scales 1 4 16 64] [--images 2] [--steps 10] [--batch 32] [--workers 1]

Prints a line per size and stage, the ratios against their targets (peak RSS at the largest size at most
1.25x the smallest's, seconds per image within 1.2x, stream >= 0.9x in-memory, >= 1.0x open_clip_train)
and, as its last line, a JSON object: {"scales", "peak_rss_mib": {stage: [per scale]},
"seconds_per_image": {stage: [...]}, "stream_vs_memory", "vs_open_clip_train", "images", "load_average"}.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAGE_OPTIONS = ("model", "steps", "batch", "workers", "images", "groups")
WARM_STEPS = 2
"""Steps left out of the images/s figure (the loader filling, first allocations)."""


def run_stage(args: argparse.Namespace, stage: str, size: int, folder: Path) -> dict:
    """Run `stage` on `folder` in a fresh process; its JSON report with its peak RSS (MiB) and wall time."""
    cmd = [sys.executable, __file__, "--stage", stage, "--folder", str(folder), f"--scales={size}"]
    cmd += [f"--{k}={getattr(args, k)}" for k in STAGE_OPTIONS]
    start = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if status:
        raise SystemExit(f"stage {stage} on {folder} failed (status {status})")
    report = json.loads(out.strip().splitlines()[-1])
    return report | {"wall_s": time.perf_counter() - start, "peak_rss_mib": usage.ru_maxrss / 1024}


def build(args: argparse.Namespace, folder: Path) -> dict:
    from cultureclip.cli import main
    from cultureclip.data.shards import read_manifest

    train = args.images * args.sizes[0]
    overrides = ["build.image_size=224", "build.catalog.groups=all", f"build.catalog.train_images={train}"]
    overrides += [
        f"build.catalog.test_images={max(1, train // 3)}",
        f"build.catalog.max_groups={'null' if args.groups == 'all' else args.groups}",
    ]
    start = time.perf_counter()
    assert main(["build", "--preset", "tiny", "--out", str(folder), *overrides]) == 0
    seconds = time.perf_counter() - start
    images = sum(r["shard"] is not None for r in read_manifest(folder / "data"))
    return {"images": images, "s_per_image": seconds / images}


def train(args: argparse.Namespace, folder: Path, source: str = "shards") -> dict:
    import torch

    from cultureclip.backends.clip import create_clip
    from cultureclip.config import LossConfig, TrainConfig
    from cultureclip.train.data import load_train_data
    from cultureclip.train.loop import Trainer

    start = time.perf_counter()
    data = load_train_data(folder / "data")
    index_s = time.perf_counter() - start
    torch.manual_seed(0)
    model = create_clip(args.model)
    loss = LossConfig(caption=0, concept=0, clip=1, preserve=0)
    cfg = TrainConfig(steps=args.steps, batch_size=args.batch, lr=1e-5, warmup=1, sampler="random", loss=loss)
    cfg = cfg.model_copy(update={"workers": args.workers if source == "shards" else 0})
    samples = in_memory(data, model, cfg) if source == "memory" else None
    trainer = Trainer(model, data, cfg, seed=0, samples=samples)
    model.model.train()
    steps = []
    for step in range(args.steps):
        t = time.perf_counter()
        trainer.optimizer_step(step)
        steps.append(time.perf_counter() - t)
    seconds = time.perf_counter() - start
    images = args.steps * args.batch
    rate = args.batch / statistics.median(steps[WARM_STEPS:])
    return {"index_s": index_s, "images": images, "s_per_image": seconds / images, "images_per_s": rate}


def in_memory(data, model, cfg):
    """The images the run's steps use, decoded and preprocessed up front (every other row: a blank)."""
    import torch

    from cultureclip.train.sampler import SAMPLERS
    from cultureclip.train.stream import InMemorySamples, ShardSamples

    shards = ShardSamples(data, model.images_to_uint8, 0, model.image_size)
    sampler = SAMPLERS[cfg.sampler](data, cfg.batch_size, 0)
    used = sorted({int(r) for step in range(cfg.steps) for r in sampler(step).pos})
    first = shards[0, used[0], 0]
    pixels = torch.zeros(len(data), *first[2].shape, dtype=torch.uint8)
    texts = [first[3]] * len(data)
    for row in used:
        _, _, pixels[row], texts[row] = shards[0, row, 0]
    return InMemorySamples(pixels, texts)


def open_clip_train(args: argparse.Namespace, folder: Path) -> dict:
    import open_clip
    import open_clip_train.main

    from cultureclip.backends.clip.base import MODEL_CONFIGS

    shards = sorted(p.name for p in (folder / "data").glob("train-*.tar"))
    with tempfile.TemporaryDirectory() as logs:
        source, _, name = args.model.partition(":")
        if source == "config":  # one of ours: registered with open_clip under its name
            config = json.loads((MODEL_CONFIGS / name / "open_clip_config.json").read_text())["model_cfg"]
            (Path(logs) / f"{name}.json").write_text(json.dumps(config))
            open_clip.add_model_config(Path(logs) / f"{name}.json")
        argv = ["--model", name, "--dataset-type", "webdataset"]
        argv += ["--train-data", str(folder / "data" / f"train-{{00000..{len(shards) - 1:05d}}}.tar")]
        argv += ["--train-num-samples", str(args.steps * args.batch), "--batch-size", str(args.batch)]
        argv += ["--epochs", "1", "--workers", str(args.workers), "--precision", "fp32", "--lr", "1e-5"]
        argv += ["--warmup", "1", "--logs", logs, "--name", "run", "--report-to", "", "--save-frequency", "0"]
        argv += ["--log-every-n-steps", "1"]
        start = time.perf_counter()
        open_clip_train.main.main(argv)
        seconds = time.perf_counter() - start
        log = (Path(logs) / "run" / "out.log").read_text()
    rates = [float(r) for r in re.findall(r"Batch \(t\): [\d.]+, ([\d.]+)/s,", log)]
    images = args.steps * args.batch
    return {"images": images, "s_per_image": seconds / images, "images_per_s": statistics.median(rates[WARM_STEPS:])}


def evaluate(args: argparse.Namespace, folder: Path) -> dict:
    import torch

    from cultureclip.backends.clip import create_clip
    from cultureclip.config import DatasetSpec
    from cultureclip.eval.cache import EmbeddingCache, model_fingerprint
    from cultureclip.eval.datasets import load_dataset
    from cultureclip.eval.embed import Encoder
    from cultureclip.eval.runner import evaluate_dataset

    torch.manual_seed(0)
    model = create_clip(args.model)
    start = time.perf_counter()
    images = 0
    with tempfile.TemporaryDirectory() as cache:
        encoder = Encoder(model, EmbeddingCache(Path(cache), model_fingerprint(model)), args.batch, args.workers)
        for split in ("train", "test"):
            data = load_dataset(DatasetSpec(kind="shards", path=folder / "data", split=split))
            evaluate_dataset(data, ["classification"], encoder)
            images += len(data.items)
    return {"images": images, "s_per_image": (time.perf_counter() - start) / images}


STAGES = {"build": build, "train": train, "train_in_memory": lambda a, f: train(a, f, "memory")}
STAGES |= {"open_clip_train": open_clip_train, "eval": evaluate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", "--sizes", dest="sizes", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--images", type=int, default=2, help="training images per concept at 1x")
    parser.add_argument("--groups", default="24", help="twin groups of the world (a number, or all)")
    parser.add_argument("--model", default="open_clip:ViT-B-32", help="CLIP of train and eval (random weights)")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", type=Path, help="keep the datasets here (default: a temporary folder)")
    parser.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        print(json.dumps(STAGES[args.stage](args, args.folder)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        report: dict = {"sizes": {}, "load_average": os.getloadavg()}
        for size in args.sizes:
            folder = root / f"{size}x"
            stages = ["build", "train", "eval"]
            stages += ["train_in_memory", "open_clip_train"] if size == args.sizes[0] else []
            report["sizes"][size] = {stage: run_stage(args, stage, size, folder) for stage in stages}
            for stage, r in report["sizes"][size].items():
                rate = f"  {r['images_per_s']:7.1f} images/s" if "images_per_s" in r else ""
                print(f"{size:3d}x {stage:16s} {r['images']:6d} images  peak RSS {r['peak_rss_mib']:7.0f} MiB  "
                      f"{r['s_per_image'] * 1000:8.2f} ms/image{rate}", flush=True)  # fmt: skip
    sizes, first = report["sizes"], report["sizes"][args.sizes[0]]
    summary = {"scales": args.sizes}
    for key, name in (("peak_rss_mib", "peak_rss_mib"), ("s_per_image", "seconds_per_image")):
        summary[name] = {stage: [sizes[k][stage][key] for k in args.sizes] for stage in ("build", "train", "eval")}
    summary["stream_vs_memory"] = first["train"]["images_per_s"] / first["train_in_memory"]["images_per_s"]
    summary["vs_open_clip_train"] = first["train"]["images_per_s"] / first["open_clip_train"]["images_per_s"]
    for stage in ("build", "train", "eval"):
        rss, seconds = summary["peak_rss_mib"][stage], summary["seconds_per_image"][stage]
        print(f"{stage}: peak RSS {rss[-1] / rss[0]:.2f}x (target <= 1.25), seconds per image "
              f"{seconds[-1] / seconds[0]:.2f}x (target <= 1.2) at {args.sizes[-1]}x vs {args.sizes[0]}x")  # fmt: skip
    print(f"train images/s: stream {summary['stream_vs_memory']:.2f}x in-memory (target >= 0.9), "
          f"{summary['vs_open_clip_train']:.2f}x open_clip_train (target >= 1.0)")  # fmt: skip
    print(f"load average: {report['load_average']} before, {os.getloadavg()} after")
    summary["images"] = {stage: [sizes[k][stage]["images"] for k in args.sizes] for stage in ("build", "train", "eval")}
    summary["load_average"] = [report["load_average"], os.getloadavg()]
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
