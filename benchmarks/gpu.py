"""What a GPU box gets from cultureclip, measured in one run: run it on your machine before a long job.

No hub: random weights (open_clip's architectures) and a tiny diffusers pipeline saved to disk. It measures
- training: our trainer against `open_clip_train.main` on the same shards, model, batch, precision and loader
  workers, end to end (plain CLIP loss, full fine-tune, random batches), images/s and the share of our step time
  spent waiting for data, at each `--batches`;
- the data path at 512 px: the share of step time waiting for data when the shards hold the reference's renders;
- evaluation: the evaluator's images/s over the 224- and 512-px shards (cold cache);
- diffusers: a pipeline loaded in float16, bfloat16 and auto through the `diffusers:` path (images finite and not
  flat, images/s);
- memory: the peak GPU memory of one step of a `--pairs`-pair twin batch (LoRA, the twin objective), with and
  without gradient checkpointing.

    python benchmarks/gpu.py                      # the GPU: ViT-B-32, batches 256 and 1,024, 2,048 pairs
    python benchmarks/gpu.py --device cpu         # a smoke run on the CPU at tiny sizes (a test runs this)

Prints a line per measurement and, as its last line, a JSON object: {"device", "gpu", "precision", "train":
{"batches", "ours_images_per_s", "open_clip_train_images_per_s", "ours_vs_open_clip_train", "data_wait_share"},
"data_wait_share_512", "eval_images_per_s": {"224", "512"}, "diffusers": {dtype: {...}}, "memory_gib": {"pairs",
"plain", "checkpointing"}, "versions", "load_average"}. Goals: ours >= 1.0x open_clip_train at batch 1,024 in
bf16, data wait < 5% of step time at 224 px, the 2,048-pair ViT-B/32 batch within an 80 GB card.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

OPEN_CLIP_PRECISION = {"bf16": "amp_bf16", "fp16": "amp", "fp32": "fp32"}
WARM = 3
"""Steps left out of every rate (the loader filling, cuDNN's autotuning, first allocations)."""
GPU_SIZES = {"model": "open_clip:ViT-B-32", "batches": [256, 1024], "steps": 20, "pairs": 2048, "images": 4096}
CPU_SIZES = {"model": "open_clip:ViT-S-32", "batches": [8], "steps": 5, "pairs": 8, "images": 48}


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def photos(count: int, size: int, seed: int = 0):
    """Photo-like images: random crops of the photos scikit-learn ships, colour-jittered with light noise (not flat
    drawings, which PNG and JPEG compress unrealistically well)."""
    from PIL import Image
    from sklearn.datasets import load_sample_images

    bases = [Image.fromarray(a) for a in load_sample_images().images]
    rng = np.random.default_rng(seed)
    for i in range(count):
        image = bases[i % len(bases)]
        side = rng.uniform(0.35, 1.0) * min(image.size)
        x, y = rng.uniform(0, image.width - side), rng.uniform(0, image.height - side)
        crop = image.crop((int(x), int(y), int(x + side), int(y + side))).resize((size, size), Image.BICUBIC)
        pixels = np.asarray(crop, np.float32) * rng.uniform(0.8, 1.2, 3) + rng.normal(0, 2.0, (size, size, 3))
        yield Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def write_dataset(folder: Path, count: int, size: int) -> Path:
    """`count` photo-like images in twin groups of two concepts, as our shards (what a build writes)."""
    from cultureclip.data.shards import Sample, write_manifest, write_split

    def samples():
        for i, image in enumerate(photos(count, size)):
            group, member = i // 4, i // 2 % 2
            row = {
                "key": f"k{i:06d}",
                "split": "train",
                "concept_id": f"c{group}-{member}",
                "twin_group": f"g{group}",
                "twin_ids": [f"c{group}-{1 - member}"],
                "name": f"dish {group} variant {member}",
                "generic": f"dish{group % 7}",
                "category": "Cuisine",
                "culture": f"culture {group % 13}",
                "caption": f"a photo of dish {group} variant {member}, picture {i}, served in region {group % 31}.",
                "generic_caption": f"a photo of a dish{group % 7}.",
            }
            yield Sample(row, image)

    folder.mkdir(parents=True, exist_ok=True)
    write_manifest(folder, write_split(folder, "train", samples(), shard_size=256))
    return folder


def ours(folder: Path, args, batch: int) -> dict:
    """Our trainer on the shards: images/s after the warm-up and the share of step time spent in `load`."""
    import torch

    from cultureclip.backends.clip import create_clip
    from cultureclip.config import LossConfig, TrainConfig
    from cultureclip.train.data import load_train_data
    from cultureclip.train.loop import Trainer

    torch.manual_seed(0)
    model = create_clip(args.model, args.device)
    loss = LossConfig(caption=0, concept=0, clip=1, preserve=0)
    cfg = TrainConfig(steps=args.steps, batch_size=batch, lr=1e-5, warmup=1, sampler="random", loss=loss)
    cfg = cfg.model_copy(update={"precision": args.precision, "workers": args.workers})
    trainer = Trainer(model, load_train_data(folder), cfg, seed=0)
    waits, load = [], trainer.load

    def timed_load(index):
        start = time.perf_counter()
        loaded = load(index)
        waits.append(time.perf_counter() - start)
        return loaded

    trainer.load = timed_load
    model.model.train()
    steps = []
    for step in range(args.steps):
        start = time.perf_counter()
        trainer.optimizer_step(step)  # ends with one host sync
        steps.append(time.perf_counter() - start)
    timed = sum(steps[WARM:])
    return {"images_per_s": batch * (len(steps) - WARM) / timed, "data_wait_share": sum(waits[WARM:]) / timed}


def open_clip_train(folder: Path, args, batch: int) -> dict:
    """`open_clip_train.main` (its webdataset loader) on the same shards, in its own process; images/s from its log."""
    shards = sorted(folder.glob("train-*.tar"))
    with tempfile.TemporaryDirectory() as logs:
        cmd = [sys.executable, "-m", "open_clip_train.main", "--model", args.model.partition(":")[2]]
        cmd += ["--dataset-type", "webdataset", "--dataset-resampled"]
        cmd += ["--train-data", str(folder / f"train-{{00000..{len(shards) - 1:05d}}}.tar")]
        cmd += ["--train-num-samples", str(batch * args.steps), "--batch-size", str(batch), "--epochs", "1"]
        cmd += ["--workers", str(args.workers), "--precision", OPEN_CLIP_PRECISION[args.precision]]
        cmd += ["--lr", "1e-5", "--warmup", "1", "--wd", "0.1", "--seed", "0", "--logs", logs, "--name", "run"]
        cmd += ["--report-to", "", "--save-frequency", "0", "--zeroshot-frequency", "0", "--val-frequency", "0"]
        cmd += ["--log-every-n-steps", "1", "--device", args.device.split(":")[0]]
        done = subprocess.run(cmd, capture_output=True, text=True)
        log_file = Path(logs) / "run" / "out.log"
        log = log_file.read_text() if log_file.is_file() else ""
    rates = [float(r) for r in re.findall(r"Batch \(t\): [\d.]+, ([\d.]+)/s,", log)]
    if done.returncode or len(rates) <= WARM:
        raise SystemExit(f"open_clip_train failed (exit {done.returncode}): {(done.stderr or log)[-800:]}")
    seconds = [batch / r for r in rates[WARM:]]
    return {"images_per_s": batch * len(seconds) / sum(seconds)}


def evaluate(folder: Path, args) -> float:
    """The evaluator's images/s over every image of the shards (cold cache, default workers and precision)."""
    import torch

    from cultureclip.backends.clip import create_clip
    from cultureclip.config import DatasetSpec, EvalConfig
    from cultureclip.eval.cache import EmbeddingCache
    from cultureclip.eval.datasets import load_dataset
    from cultureclip.eval.embed import Encoder
    from cultureclip.runtime import resolve_precision

    torch.manual_seed(0)
    model = create_clip(args.model, args.device)
    cfg = EvalConfig()
    refs = [item.image for item in load_dataset(DatasetSpec(kind="shards", path=folder, split="train")).items]
    encoder = Encoder(model, EmbeddingCache(None, "gpu-bench"), cfg.batch_size, cfg.workers,
                      resolve_precision(cfg.precision, args.device))  # fmt: skip
    encoder.images(refs[: cfg.batch_size])  # warm-up (workers, kernels), then a fresh cache
    encoder.cache = EmbeddingCache(None, "gpu-bench")
    start = time.perf_counter()
    encoder.images(refs)
    sync(args.device)
    return len(refs) / (time.perf_counter() - start)


def diffusers_dtypes(args, root: Path) -> dict:
    """A tiny Stable Diffusion saved to disk, loaded through `diffusers:PATH` in each dtype: images finite and not
    flat, the same seed giving the same image alone and in a batch, images/s."""
    from cultureclip.backends.image.base import RenderRequest, create_image_generator
    from cultureclip.backends.image.diffusers import tiny_sd_pipeline
    from cultureclip.backends.loaded import release
    from cultureclip.config import ImageGeneratorConfig

    tiny_sd_pipeline().save_pretrained(root / "tiny-sd")
    requests = [RenderRequest(f"a photo of dish {i}", seed=100 + i) for i in range(8)]
    out = {}
    for dtype in ("float16", "bfloat16", "auto"):
        options = ImageGeneratorConfig(device=args.device, dtype=dtype, steps=4, batch_size=4, guidance_scale=0)
        try:
            generator = create_image_generator(f"diffusers:{root / 'tiny-sd'}", 64, options)
            generator.render(requests[:4])
            start = time.perf_counter()
            images = [np.asarray(im, np.float32) for im in generator.render(requests)]
            seconds = time.perf_counter() - start
            alone = np.asarray(generator.render(requests[5:6])[0], np.float32)
            out[dtype] = {
                "ok": all(np.isfinite(a).all() and a.std() > 1 for a in images),
                "weights": str(generator.pipe.unet.dtype).removeprefix("torch."),
                "images_per_s": len(images) / seconds,
                "batch_vs_alone_max_diff": float(np.abs(alone - images[5]).max()),
            }
        except (RuntimeError, TypeError) as err:  # a dtype the device lacks kernels for
            out[dtype] = {"ok": False, "error": f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"}
        release()
    return out


def twin_batch_memory(args, checkpointing: bool) -> float | None:
    """Peak GPU memory (GiB) of one optimizer step on a `--pairs`-pair twin batch: LoRA on attention, the twin
    objective, resident pixels (the loader's memory is not the GPU's). None on a CPU."""
    import torch

    from cultureclip.backends.clip import create_clip
    from cultureclip.config import LossConfig, TrainConfig, TuneConfig
    from cultureclip.train.data import index_rows
    from cultureclip.train.loop import Trainer
    from cultureclip.train.stream import InMemorySamples

    torch.manual_seed(0)
    model = create_clip(args.model, args.device)
    n = 2 * args.pairs
    columns = {"shard": ["x"] * n, "offset": [0] * n, "length": [0] * n, "generic": ["dish"] * n}
    columns |= {"concept_id": [f"c{i}" for i in range(n)], "twin_group": [f"g{i // 2}" for i in range(n)]}
    texts = [
        {"caption": f"a photo of dish {i // 2} variant {i % 2}, picture {i}.", "generic_caption": "a photo of a dish.",
         "name": f"dish {i // 2} variant {i % 2}"}
        for i in range(n)
    ]  # fmt: skip
    side = model.image_size
    pixels = torch.randint(0, 256, (n, 3, side, side), dtype=torch.uint8)  # as the loader's workers ship them
    samples = InMemorySamples(pixels, texts)
    tune = TuneConfig(mode="lora", lora_targets=["attn"], heads=False)
    cfg = TrainConfig(steps=2, batch_size=args.pairs, lr=1e-5, warmup=1, precision=args.precision, workers=0,
                      grad_checkpointing=checkpointing, tune=tune, loss=LossConfig(preserve=0))  # fmt: skip
    trainer = Trainer(model, index_rows(columns, "synthetic"), cfg, seed=0, samples=samples)
    model.model.train()
    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(args.device)
    trainer.optimizer_step(0)
    sync(args.device)
    return torch.cuda.max_memory_allocated(args.device) / 2**30 if args.device.startswith("cuda") else None


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("torch", "open_clip_torch", "transformers", "diffusers", "peft", "webdataset"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help="auto (the best present), cuda, cuda:N or cpu")
    parser.add_argument("--precision", default="auto", help="auto (bf16 on GPUs that have it), bf16, fp16, fp32")
    parser.add_argument("--model", help="open_clip:ARCH, random weights (default: ViT-B-32 on a GPU)")
    parser.add_argument("--batches", type=int, nargs="+", help="training batches (default: 256 1024 on a GPU)")
    parser.add_argument("--steps", type=int, help="training steps per measurement (default 20 on a GPU)")
    parser.add_argument("--pairs", type=int, help="twin pairs of the memory step (default 2048 on a GPU)")
    parser.add_argument("--images", type=int, help="images of each dataset (default 4096 on a GPU)")
    parser.add_argument("--workers", type=int, help="loader workers, ours and open_clip_train's (default: ours)")
    args = parser.parse_args()

    from cultureclip.data.decode import default_workers
    from cultureclip.runtime import describe, enable_tf32, resolve_device, resolve_precision

    args.device = resolve_device(args.device)
    args.precision = resolve_precision(args.precision, args.device)
    sizes = GPU_SIZES if args.device.startswith("cuda") else CPU_SIZES
    for key, value in sizes.items():
        setattr(args, key, getattr(args, key) or value)
    args.workers = default_workers() if args.workers is None else args.workers
    args.images = max(args.images, max(args.batches) * (args.steps + 1))  # random batches never run short
    enable_tf32()
    load = os.getloadavg()
    report = describe(args.device, args.precision) | {"model": args.model, "workers": args.workers}
    print(f"{report}, {args.images} images", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = {size: write_dataset(root / f"d{size}", args.images, size) for size in (224, 512)}
        train = {"batches": args.batches, "ours_images_per_s": [], "open_clip_train_images_per_s": []}
        train["data_wait_share"] = []
        for batch in args.batches:
            mine, theirs = ours(data[224], args, batch), open_clip_train(data[224], args, batch)
            train["ours_images_per_s"].append(mine["images_per_s"])
            train["data_wait_share"].append(mine["data_wait_share"])
            train["open_clip_train_images_per_s"].append(theirs["images_per_s"])
            wait, rate = mine["data_wait_share"], theirs["images_per_s"]
            print(f"train batch {batch}: ours {mine['images_per_s']:.1f} images/s (waiting for data {wait:.1%}), "
                  f"open_clip_train {rate:.1f}", flush=True)  # fmt: skip
        train["ours_vs_open_clip_train"] = [
            a / b for a, b in zip(train["ours_images_per_s"], train["open_clip_train_images_per_s"], strict=True)
        ]
        report["train"] = train
        report["data_wait_share_512"] = ours(data[512], args, args.batches[-1])["data_wait_share"]
        print(f"data wait at 512 px, batch {args.batches[-1]}: {report['data_wait_share_512']:.1%}", flush=True)
        report["eval_images_per_s"] = {str(size): evaluate(folder, args) for size, folder in data.items()}
        print(f"eval images/s: {report['eval_images_per_s']}", flush=True)
        report["diffusers"] = diffusers_dtypes(args, root)
        print(f"diffusers: {report['diffusers']}", flush=True)
    report["memory_gib"] = {"pairs": args.pairs}
    for label, checkpointing in (("plain", False), ("checkpointing", True)):
        try:
            report["memory_gib"][label] = twin_batch_memory(args, checkpointing)
        except RuntimeError as err:  # torch.OutOfMemoryError is one
            report["memory_gib"][label] = f"{type(err).__name__}: {str(err).splitlines()[0][:160]}"
    print(f"twin batch of {args.pairs} pairs, peak GPU memory: {report['memory_gib']}", flush=True)
    ratio = train["ours_vs_open_clip_train"][-1]
    print(f"ours vs open_clip_train at batch {args.batches[-1]}: {ratio:.2f}x (goal >= 1.0); data wait at 224 px "
          f"{train['data_wait_share'][-1]:.1%} (goal < 5%)")  # fmt: skip
    report |= {"versions": versions(), "load_average": [load, os.getloadavg()]}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
