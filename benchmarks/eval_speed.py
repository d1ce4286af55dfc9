"""Zero-shot classification speed: our evaluator vs. CLIP_benchmark, same tiny model, same image folder.

Both evaluate one open_clip checkpoint (tiny:test-clip weights saved as an open_clip local-dir model)
on one image folder (`class/xxx.jpg`), with the same prompt-template ensemble (CLIP_benchmark's
ImageNet templates), batch size and dataloader workers, and must give the same top-1 accuracy.
Timed: from the image folder to the accuracy, models already loaded (both load them the same way).
CLIP_benchmark: torchvision ImageFolder + DataLoader + its `zero_shot_classifier` and `run_classification`.
Ours: folder dataset + embedding cache + the classification task, first with an empty cache
(cold) and then again with the cache the first run filled (warm).

    python benchmarks/eval_speed.py [--classes 10] [--per-class 100] [--size 256] [--batch 64] [--workers 2]

Prints images/s for each and the ratios; the targets are >= 1.0 cold and >= 5 warm.
"""

import argparse
import json
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


def clip_benchmark_run(model_dir: Path, folder: Path, templates: list[str], batch: int, workers: int) -> tuple:
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
    elapsed = time.perf_counter() - start
    return elapsed, [classnames[i] for i in logits.argmax(dim=1).tolist()], (logits.argmax(dim=1) == target).tolist()


def ours_run(model_id: str, folder: Path, templates: list[str], cache: Path, batch: int, workers: int) -> tuple:
    model = create_clip(model_id)
    start = time.perf_counter()
    data = load_dataset(DatasetSpec(kind="folder", path=folder, templates=templates))
    encoder = Encoder(model, EmbeddingCache(cache, model_fingerprint(model)), batch, workers)
    results, unreadable = evaluate_dataset(data, ["classification"], encoder)
    assert not unreadable, unreadable
    result = results["classification"]
    elapsed = time.perf_counter() - start
    preds, hits = [r["pred"] for r in result.records], [bool(r["top1"]) for r in result.records]
    return elapsed, preds, hits, dict(encoder.encoded)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    templates = json.loads(
        (
            Path(__import__("clip_benchmark").__file__).parent / "datasets/en_zeroshot_classification_templates.json"
        ).read_text()
    )["imagenet1k"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_folder(tmp / "images", args.classes, args.per_class, args.size)
        torch.manual_seed(0)
        create_clip("tiny:test-clip").save(tmp / "model")
        model_id, images = f"local:{tmp / 'model'}", tmp / "images"
        theirs, cold = [], []
        for k in range(2):  # interleaved, best of two each, so neither side gets the quieter moment
            theirs.append(clip_benchmark_run(tmp / "model", images, templates, args.batch, args.workers))
            cold.append(ours_run(model_id, images, templates, tmp / f"cache-{k}", args.batch, args.workers))
        warm = ours_run(model_id, images, templates, tmp / "cache-1", args.batch, args.workers)
    their_time, their_preds, their_hits = min(theirs, key=lambda r: r[0])
    cold, preds_cold, hits, enc_cold = min(cold, key=lambda r: r[0])
    warm, preds_warm, _, enc_warm = warm
    n = len(preds_cold)
    same = sum(a == b for a, b in zip(preds_cold, their_preds, strict=True)) / n
    assert preds_cold == preds_warm and same >= 0.99, same
    print(
        f"{n} images ({args.classes} classes, {args.size}px JPEG), {len(templates)} templates, "
        f"batch {args.batch}, {args.workers} workers; same prediction on {same:.1%} of images; "
        f"top-1 {sum(hits) / n:.3f} ours, {sum(their_hits) / n:.3f} clip_benchmark"
    )
    print(f"clip_benchmark:   {n / their_time:8.1f} images/s ({their_time:.2f} s, best of 2)")
    print(f"ours, cold cache: {n / cold:8.1f} images/s ({cold:.2f} s, best of 2; encoded {enc_cold})")
    print(f"ours, warm cache: {n / warm:8.1f} images/s ({warm:.2f} s; encoded {enc_warm})")
    print(f"ratio cold: {their_time / cold:.2f} (target >= 1.0)   ratio warm: {their_time / warm:.2f} (target >= 5)")


if __name__ == "__main__":
    main()
