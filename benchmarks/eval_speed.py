"""Zero-shot classification speed: our evaluator vs. CLIP_benchmark, same tiny model, same image folder.

Both evaluate one open_clip checkpoint (config:test-clip weights saved as an open_clip local-dir model)
on one image folder (`class/xxx.jpg`), with the same prompt-template ensemble (CLIP_benchmark's
ImageNet templates), batch size and dataloader workers, and must give the same image-class similarities.
Timed: from the image folder to the accuracy, models already loaded (both load them the same way).
CLIP_benchmark: torchvision ImageFolder + DataLoader + its `zero_shot_classifier` and `run_classification`.
Ours: folder dataset + embedding cache + the classification task, first with an empty cache
(cold) and then again with the cache the first run filled (warm: keyed by each file's path, size and
mtime, it reads no image). Each dataset size is its own folder; CLIP_benchmark and ours cold run
interleaved, best of two each, ours warm best of two.

    python benchmarks/eval_speed.py [--sizes 1000 20000] [--classes 10] [--size 256] [--batch 64] [--workers 2]

Prints, per size, images/s for each and the ratios (targets: >= 1.0 cold and >= 5 warm at 20,000
images), the load average, and as its last line one JSON object:
`{"sizes": [...], "images_per_s": {"clip_benchmark": [...], "cold": [...], "warm": [...]},
"ratio_cold": [...], "ratio_warm": [...], "load_average": [1, 5, 15 min]}` (lists in the order of `sizes`).
"""

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cultureclip.backends.clip import create_clip
from cultureclip.config import DatasetSpec
from cultureclip.eval.cache import EmbeddingCache, model_fingerprint
from cultureclip.eval.datasets import load_dataset
from cultureclip.eval.embed import Encoder
from cultureclip.eval.runner import evaluate_dataset
from cultureclip.eval.tasks import class_embeddings


def make_folder(root: Path, classes: int, per_class: int, size: int) -> None:
    """Noisy images whose colour and stripe direction depend on the class."""
    rng = np.random.default_rng(0)
    for c in range(classes):
        folder = root / f"class_{c:02d}"
        folder.mkdir(parents=True)
        base = rng.integers(0, 255, 3)
        for i in range(per_class):
            pixels = rng.normal(base, 40, (size, size, 3))
            pixels[:: 4 + c % 5] += 60
            Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(folder / f"{i:04d}.jpg", quality=90)


def clip_benchmark_run(model_dir: Path, folder: Path, templates: list[str], batch: int, workers: int) -> dict:
    from clip_benchmark.metrics import zeroshot_classification
    from clip_benchmark.models.open_clip import load_open_clip
    from torchvision.datasets import ImageFolder

    model, transform, tokenizer = load_open_clip(f"local-dir:{model_dir}", pretrained=None)
    model.eval()
    start = time.perf_counter()
    dataset = ImageFolder(str(folder), transform=transform)
    classnames = [c.replace("_", " ") for c in dataset.classes]
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, num_workers=workers)
    # its own two steps; its `evaluate` wrapper then fails in `accuracy` under NumPy 2 (float() of a 1-d
    # array), and the sklearn report it adds would only slow it down
    classifier = zeroshot_classification.zero_shot_classifier(model, tokenizer, classnames, templates, "cpu", amp=False)
    logits, target = zeroshot_classification.run_classification(model, classifier, loader, "cpu", amp=False)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "similarity": logits / 100.0, "top1": (logits.argmax(1) == target).float().mean()}


def ours_run(model_id: str, folder: Path, templates: list[str], cache: Path, batch: int, workers: int) -> dict:
    model = create_clip(model_id)
    start = time.perf_counter()
    data = load_dataset(DatasetSpec(kind="folder", path=folder, templates=templates))
    encoder = Encoder(model, EmbeddingCache(cache, model_fingerprint(model)), batch, workers)
    results, unreadable = evaluate_dataset(data, ["classification"], encoder)
    seconds = time.perf_counter() - start
    assert not unreadable, unreadable
    encoded = dict(encoder.encoded)
    features, _ = encoder.images([it.image for it in data.items])  # from the cache, to compare with theirs
    similarity = features @ class_embeddings(encoder, data.classes, data.templates).T
    return {
        "seconds": seconds,
        "similarity": similarity,
        "top1": results["classification"].metrics["top1"],
        "encoded": encoded,
    }


def compare(tmp: Path, model_dir: Path, images: int, templates: list[str], args: argparse.Namespace) -> dict:
    """Time CLIP_benchmark, ours cold and ours warm on a fresh folder of `images` images; print and return
    images/s and ratios."""
    folder = tmp / f"images-{images}"
    make_folder(folder, args.classes, images // args.classes, args.size)
    model_id = f"local:{model_dir}"
    theirs, cold, warm = [], [], []
    for k in range(2):  # interleaved, best of two each, so neither side gets the quieter moment
        theirs.append(clip_benchmark_run(model_dir, folder, templates, args.batch, args.workers))
        cold.append(ours_run(model_id, folder, templates, tmp / f"cache-{images}-{k}", args.batch, args.workers))
    for _ in range(2):
        warm.append(ours_run(model_id, folder, templates, tmp / f"cache-{images}-1", args.batch, args.workers))
    shutil.rmtree(folder)
    theirs, cold, warm = (min(runs, key=lambda r: r["seconds"]) for runs in (theirs, cold, warm))
    gap = (cold["similarity"] - theirs["similarity"]).abs().max().item()
    same = (cold["similarity"].argmax(1) == theirs["similarity"].argmax(1)).float().mean().item()
    assert gap < 1e-4 and torch.equal(cold["similarity"], warm["similarity"]), gap
    assert warm["encoded"] == {"images": 0, "texts": 0}, warm["encoded"]
    print(
        f"{images} images ({args.classes} classes, {args.size}px JPEG), {len(templates)} templates, batch "
        f"{args.batch}, {args.workers} workers; image-class similarities agree to {gap:.1e} (same prediction on "
        f"{same:.1%}); top-1 {cold['top1']:.3f} ours, {theirs['top1']:.3f} clip_benchmark"
    )
    runs = {"clip_benchmark": theirs, "cold": cold, "warm": warm}
    for label, run in zip(("clip_benchmark", "ours, cold cache", "ours, warm cache"), runs.values(), strict=True):
        note = f"; encoded {run['encoded']}" if "encoded" in run else ""
        print(f"{label + ':':18s}{images / run['seconds']:8.1f} images/s ({run['seconds']:.2f} s{note})")
    ratios = {"cold": theirs["seconds"] / cold["seconds"], "warm": theirs["seconds"] / warm["seconds"]}
    print(f"ratio cold: {ratios['cold']:.2f} (target >= 1.0)   ratio warm: {ratios['warm']:.2f} (target >= 5)")
    return {"images_per_s": {name: images / run["seconds"] for name, run in runs.items()}, "ratios": ratios}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000], help="dataset sizes (images), one run each")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--size", type=int, default=256, help="image side (px)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if any(n < args.classes or n % args.classes for n in args.sizes):
        parser.error(f"--sizes: each must be a positive multiple of --classes ({args.classes})")
    templates = json.loads(
        (
            Path(__import__("clip_benchmark").__file__).parent / "datasets/en_zeroshot_classification_templates.json"
        ).read_text()
    )["imagenet1k"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        torch.manual_seed(0)
        create_clip("config:test-clip").save(tmp / "model")
        results = [compare(tmp, tmp / "model", n, templates, args) for n in args.sizes]
    load = [round(x, 2) for x in os.getloadavg()]
    print(f"load average (1, 5, 15 min) at the end: {load[0]}, {load[1]}, {load[2]}")
    summary = {
        "sizes": args.sizes,
        "images_per_s": {
            k: [round(r["images_per_s"][k], 1) for r in results] for k in ("clip_benchmark", "cold", "warm")
        },
        "ratio_cold": [round(r["ratios"]["cold"], 2) for r in results],
        "ratio_warm": [round(r["ratios"]["warm"], 2) for r in results],
        "load_average": load,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
