"""The training data path per CPU core: today's PNG path against JPEG shards with the fast decode, and open_clip_train.

Photo-like images (random crops of the photos shipped with matplotlib and scikit-learn, flipped, colour
jittered, sigma-2 noise; not flat drawings, which PNG compresses unrealistically well) are written at each
size by our writer twice: as PNG (what main at 3ec4d60 wrote) and in the new default format (JPEG q95).
With one thread (`torch.set_num_threads(1)`), all methods alternated within each of `--rounds` rounds
(medians), images/s of:
- png: main's sample path on the PNG shards (pread, PNG decode, the model's float transform, the row's JSON),
  reproduced here as it was (`TodaySamples`);
- new: `ShardSamples` on the JPEG shards (pread, DCT-downscaled decode, the model's transform to uint8, JSON);
  also with the training crop (`augment`) as an extra line;
- open_clip_train: its webdataset stages (tar parse, PIL decode, its training transform, tokenizer) on the
  same JPEG shards, in this process;
- the decode choice, on JPEG bytes in memory: PIL `draft` + the model's transform against
  `torchvision.io.decode_jpeg` + a tensor resize and crop;
- each of png and new through a DataLoader with 1 worker (worker start, IPC, collate included; the new
  path also plans and tokenizes its steps in the worker, which main did in the main process).
Also: the main process's CPU ms per 2,048-pair step (ViT-B/32's tokenizer, new captions every step: main's
plan + second sampler call + tokenization, against the new `Trainer.load`), loader bytes per image in
flight (float32 pixels before; uint8 pixels and token ids after) and stored bytes per image.

    python benchmarks/data_path.py [--sizes 224 512] [--images 200] [--rounds 5] [--steps 4]

Prints lines with the ratios (targets: new >= 3x png at 512 px and >= 2.5x at 224 px through the loader;
new >= 1.0x open_clip_train; <= 20 ms per step; bytes in flight <= 1/3), the load average, and last one
JSON object: {"sizes", "per_core": {"png", "new", "open_clip_train"}, "loader_1_worker": {"png", "new"},
"main_ms_per_step", "bytes_in_flight_per_image": {"before", "after"}, "shard_bytes_per_image": {"png", "new"}}.
"""

import argparse
import io
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from cultureclip.backends.clip import create_clip
from cultureclip.config import LossConfig, ShardImageConfig, TrainConfig
from cultureclip.data.decode import decode_at_least
from cultureclip.data.shards import Sample, ShardReader, write_manifest, write_split
from cultureclip.train.data import TrainData, index_rows, load_train_data
from cultureclip.train.loop import StepTexts, TextTokens, Trainer
from cultureclip.train.stream import TEXT_FIELDS, BatchPlan, ShardSamples, Step, batch_loader

MODEL = "open_clip:ViT-B-32"
STEP_PAIRS = 2048


def sources() -> list[Image.Image]:
    """The photos that ship with matplotlib and scikit-learn."""
    from matplotlib import cbook
    from sklearn.datasets import load_sample_images

    return [Image.open(cbook.get_sample_data("grace_hopper.jpg")).convert("RGB")] + [
        Image.fromarray(a) for a in load_sample_images().images
    ]


def photos(count: int, size: int, seed: int = 0) -> list[Image.Image]:
    """`count` square photo-like images: random crops (half to all of the short side), flips, colour
    gains of 0.8-1.2 per channel and sigma-2 noise, resized to `size`."""
    rng, found = np.random.default_rng(seed), sources()
    out = []
    for _ in range(count):
        photo = found[rng.integers(len(found))]
        side = int(min(photo.size) * rng.uniform(0.5, 1.0))
        x, y = rng.integers(photo.size[0] - side + 1), rng.integers(photo.size[1] - side + 1)
        crop = photo.crop((x, y, x + side, y + side)).resize((size, size), Image.Resampling.BICUBIC)
        pixels = np.asarray(crop, dtype=np.float32)[:, :: rng.choice([1, -1])] * rng.uniform(0.8, 1.2, 3)
        pixels += rng.normal(0, 2, pixels.shape)
        out.append(Image.fromarray(pixels.clip(0, 255).astype(np.uint8)))
    return out


def write_dataset(folder: Path, images: list[Image.Image], kind: str) -> TrainData:
    rows = [
        {
            "key": f"k{i:05d}",
            "split": "train",
            "concept_id": f"c{i // 2}",
            "twin_group": f"g{i // 4}",
            "name": f"concept {i // 2}",
            "generic": "thing",
            "caption": f"photo {i} of concept {i // 2}.",
            "generic_caption": "a photo of a thing.",
        }
        for i in range(len(images))
    ]
    folder.mkdir(parents=True)
    samples = [Sample(row, image) for row, image in zip(rows, images, strict=True)]
    write_manifest(folder, write_split(folder, "train", samples, 100, images=ShardImageConfig(format=kind)))
    return load_train_data(folder)


class TodaySamples(Dataset):
    """main's (3ec4d60) `ShardSamples`: a PNG sample read, decoded in full and preprocessed to float32."""

    def __init__(self, data: TrainData, model):
        self.data, self.model, self.reader = data, model, ShardReader()

    def __getitem__(self, item):
        index, row, _ = item
        d = self.data
        members = self.reader.read(d.shards[d.shard[row]], int(d.offset[row]), int(d.length[row]))
        meta = json.loads(members["json"])
        pixels = self.model.images_to_tensor([Image.open(io.BytesIO(members["png"]))])[0]
        return index, row, pixels, {k: meta.get(k) for k in TEXT_FIELDS}

    def __len__(self) -> int:
        return len(self.data)


def today_collate(samples):
    """main's collate: float32 pixels stacked in the worker."""
    index, rows, pixels, texts = zip(*samples, strict=True)
    return index[0], np.array(rows), torch.stack(pixels), {k: [t[k] for t in texts] for k in TEXT_FIELDS}


def open_clip_train_stages(folder: Path, model):
    """open_clip_train's webdataset stages (`get_wds_dataset`, one process, no shuffle) on `folder`'s shards."""
    import open_clip
    import webdataset as wds
    from open_clip_train.data import filter_no_caption_or_no_image, log_and_continue, tarfile_to_samples_nothrow

    preprocess = open_clip.image_transform(model.image_size, is_train=True)
    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    return wds.DataPipeline(
        wds.SimpleShardList(sorted(str(p) for p in folder.glob("train-*.tar"))),
        tarfile_to_samples_nothrow,
        wds.select(filter_no_caption_or_no_image),
        wds.decode("pilrgb", handler=log_and_continue),
        wds.rename(image="jpg;png;jpeg;webp", text="txt"),
        wds.map_dict(image=preprocess, text=lambda text: tokenizer(text)[0]),
        wds.to_tuple("image", "text"),
    )


def rate(run, count: int) -> float:
    start = time.perf_counter()
    run()
    return count / (time.perf_counter() - start)


def steps_of(n: int, batch: int) -> list[Step]:
    rows = np.random.default_rng(1).permutation(n)
    return [Step(i, batch, [(i, int(r), 0) for r in rows[i * batch : (i + 1) * batch]]) for i in range(n // batch)]


def measure_size(size: int, args, model, root: Path) -> dict:
    images = photos(args.images, size, seed=size)
    png = write_dataset(root / f"png-{size}", images, "png")
    new = write_dataset(root / f"new-{size}", images, "jpeg")
    today = TodaySamples(png, model)
    fast = ShardSamples(new, model.images_to_uint8, 0, model.image_size)
    crop = ShardSamples(new, model.images_to_uint8, model.image_size, model.image_size)
    plan = steps_of(args.images, args.batch)
    texts = StepTexts(model, TrainConfig(), generic=False)  # captions and concept prompts, as training tokenizes
    n = len(plan) * args.batch
    jpegs = [_encoded(image) for image in images]
    methods = {
        "draft": lambda: [draft_decode(data, model) for data in jpegs],
        "torchvision": lambda: [torchvision_decode(data, model.image_size) for data in jpegs],
        "png": lambda: [today[0, r, 0] for r in range(args.images)],
        "new": lambda: [fast[0, r, 0] for r in range(args.images)],
        "new_augment": lambda: [crop[0, r, 0] for r in range(args.images)],
        "open_clip_train": lambda: list(open_clip_train_stages(root / f"new-{size}", model)),
        "loader_png": lambda: list(
            DataLoader(today, batch_sampler=[s.items for s in plan], num_workers=1, collate_fn=today_collate)
        ),
        "loader_new": lambda: list(batch_loader(fast, plan, 1, False, texts)),
    }
    counts = {k: n if k.startswith("loader") else args.images for k in methods}
    rates: dict[str, list[float]] = {k: [] for k in methods}
    for _ in range(args.rounds):
        for name, run in methods.items():
            rates[name].append(rate(run, counts[name]))
    medians = {k: statistics.median(v) for k, v in rates.items()}
    loaded = next(iter(batch_loader(fast, plan[:1], 0, False, texts)))
    token_bytes = sum(t.numel() * t.element_size() for t in loaded.tokens[0])
    before = today[0, 0, 0][2]
    return medians | {
        "bytes_before": before.numel() * before.element_size(),
        "bytes_after": (loaded.pixels.numel() * loaded.pixels.element_size() + token_bytes) / len(loaded.rows),
        "stored": {k: _image_bytes(d) for k, d in (("png", png), ("new", new))},
    }


def _encoded(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def draft_decode(data: bytes, model) -> torch.Tensor:
    """The chosen decode: PIL with `draft` (DCT downscale), then the model's own transform to uint8."""
    return model.images_to_uint8([decode_at_least(Image.open(io.BytesIO(data)), model.image_size)])[0]


def torchvision_decode(data: bytes, size: int) -> torch.Tensor:
    """The alternative: `torchvision.io.decode_jpeg`, then a tensor resize (bicubic, antialiased) and crop."""
    from torchvision.io import decode_jpeg
    from torchvision.transforms.v2 import functional as F

    pixels = decode_jpeg(torch.frombuffer(bytearray(data), dtype=torch.uint8))
    resized = F.resize(pixels, size, interpolation=F.InterpolationMode.BICUBIC, antialias=True)
    return F.center_crop(resized, size)


def _image_bytes(data: TrainData) -> float:
    """Mean bytes of the stored image member per sample."""
    reader = ShardReader()
    sizes = []
    for row in range(len(data)):
        members = reader.read(data.shards[data.shard[row]], int(data.offset[row]), int(data.length[row]))
        sizes.append(next(len(v) for k, v in members.items() if k in ("png", "jpg", "webp")))
    return float(np.mean(sizes))


class PooledPixels(Dataset):
    """`rows` samples with small uint8 pixels from a pool (tensors reach the main process through shared
    memory: its cost does not depend on their size) and distinct captions."""

    def __init__(self, rows: int, size: int = 16):
        self.pool = torch.randint(0, 256, (64, 3, size, size), dtype=torch.uint8)
        self.rows = rows

    def __getitem__(self, item):
        index, row, _ = item
        texts = {
            "caption": f"picture {row} of concept {row // 2}, seen at step {index}, setting {row * 7 % 101}.",
            "generic_caption": f"a photo of a thing {row // 4}.",
            "name": f"concept {row // 2}",
        }
        return index, row, self.pool[row % 64], texts

    def __len__(self) -> int:
        return self.rows


def main_ms_per_step(model, steps: int) -> tuple[float, float]:
    """(before, after): main's main-process ms per 2,048-pair twin step with new captions (its plan,
    its second sampler call, its tokenization), and CPU ms of the new `Trainer.load` (receiving the step)."""
    rows = 4 * STEP_PAIRS * 2
    columns = {
        "concept_id": [f"c{i // 2}" for i in range(rows)],
        "twin_group": [f"g{i // 4}" for i in range(rows)],
        "generic": [f"thing{i // 4}" for i in range(rows)],
        "shard": ["memory"] * rows,
        "offset": [0] * rows,
        "length": [0] * rows,
    }
    data = index_rows(columns, "synthetic")
    samples = PooledPixels(rows)
    loss = LossConfig(caption=0.7, concept=0.3, preserve=0)  # twin terms: captions and concept prompts per side
    cfg = TrainConfig(batch_size=STEP_PAIRS, steps=steps + 1, workers=1, loss=loss)
    trainer = Trainer(model, data, cfg, seed=0, samples=samples)
    plan = BatchPlan(trainer.sampler, trainer.dist, 0, 0, steps + 1)
    before = []
    for index in range(1, steps + 1):
        tokens = TextTokens(model)  # new captions: nothing cached
        start = time.process_time()
        step = plan[index]  # main's batch plan, in the main process
        trainer.sampler(index)  # main's second sampler call (its batch sizes)
        planned = time.process_time() - start
        texts = [samples[item][3] for item in step.items]  # read in main's workers: not timed
        n = len(texts) // 2
        names = [cfg.concept_template.format(name=t["name"]) for t in texts]
        start = time.process_time()
        groups = {"caption": [t["caption"] for t in texts[:n]], "neg_caption": [t["caption"] for t in texts[n:]]}
        tokens(groups | {"concept": names[:n], "neg_concept": names[n:]})
        before.append(planned + time.process_time() - start)
    after = []
    trainer.load(0)  # the loader and its worker start
    for index in range(1, steps + 1):
        start = time.process_time()
        trainer.load(index)
        after.append(time.process_time() - start)
    return 1000 * statistics.median(before), 1000 * statistics.median(after)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, 512])
    parser.add_argument("--images", type=int, default=200, help="distinct images per size")
    parser.add_argument("--batch", type=int, default=20, help="images per loader batch")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=4, help="2,048-pair steps timed for the main process")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = create_clip(MODEL)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        found = {size: measure_size(size, args, model, Path(tmp)) for size in args.sizes}
    before_ms, after_ms = main_ms_per_step(model, args.steps)
    for size, f in found.items():
        print(
            f"{size} px, images/s per core: png {f['png']:.0f}, new {f['new']:.0f} ({f['new'] / f['png']:.2f}x), "
            f"new + training crop {f['new_augment']:.0f}, open_clip_train {f['open_clip_train']:.0f} "
            f"(new {f['new'] / f['open_clip_train']:.2f}x, "
            f"with the crop {f['new_augment'] / f['open_clip_train']:.2f}x)"
        )
        print(
            f"{size} px, JPEG decode to the model's uint8 pixels per core: PIL draft + its transform "
            f"{f['draft']:.0f}, torchvision decode_jpeg + tensor resize {f['torchvision']:.0f}"
        )
        print(
            f"{size} px, through the loader with 1 worker: png {f['loader_png']:.0f}, new {f['loader_new']:.0f} "
            f"({f['loader_new'] / f['loader_png']:.2f}x; target >= {3 if size >= 512 else 2.5}x); stored bytes per "
            f"image: png {f['stored']['png']:.0f}, new {f['stored']['new']:.0f}"
        )
    first = next(iter(found.values()))
    print(
        f"main process per {STEP_PAIRS:,}-pair step, new captions: before {before_ms:.1f} ms, after {after_ms:.1f} ms"
    )
    print(
        f"loader bytes per image in flight: before {first['bytes_before']:.0f}, after {first['bytes_after']:.0f} "
        f"({first['bytes_after'] / first['bytes_before']:.2f}x)"
    )
    print(f"load average before {load[0]:.2f}, after {os.getloadavg()[0]:.2f}")
    sizes = list(found)
    print(
        json.dumps(
            {
                "sizes": sizes,
                "per_core": {k: [round(found[s][k], 1) for s in sizes] for k in ("png", "new", "open_clip_train")},
                "loader_1_worker": {k: [round(found[s][f"loader_{k}"], 1) for s in sizes] for k in ("png", "new")},
                "main_ms_per_step": round(after_ms, 2),
                "bytes_in_flight_per_image": {"before": first["bytes_before"], "after": round(first["bytes_after"])},
                "shard_bytes_per_image": {k: [round(found[s]["stored"][k]) for s in sizes] for k in ("png", "new")},
            }
        )
    )


if __name__ == "__main__":
    main()
