"""Training-step benchmarks of the CultureCLIP trainer, each a ratio measured in one run:

1. samples/s of our trainer vs open_clip's own training loop (open_clip_train.train.train_one_epoch) on the
   same model, batch, precision, tensors in memory and plain CLIP loss (target: ratio >= 1.0); each side
   keeps its own optimizer implementation (open_clip_train's main builds torch's default AdamW, our trainer
   the fused one) and its own text forward (ours stops at the batch's last EOT token, which is exact);
2. time per step of the twin-aware objective vs the plain CLIP loss with as many images per step
   (target: at most 1.15), with and without the feature-distillation preservation term (the frozen start
   embeds each batch's images and generic captions: one more forward pass, without gradients);
3. peak memory of LoRA training vs full fine-tuning on the same model (GPU: max allocated; CPU: the
   growth of the process's peak RSS over the loaded model, each mode in a fresh process).

Both sides read the same tensors from memory (our trainer through `InMemorySamples`, in its own process):
this times the step, not the data loading (see benchmarks/scale.py for that). Timed rounds alternate
between the contenders and the median is kept, so load on a shared machine hits both alike (on an
oversubscribed CPU, `--threads 1` keeps thread contention out of the comparison).
Usage: python benchmarks/train_step.py [--model config:world-clip] [--batch 64] [--device cpu] [--threads 1]
(`open_clip:ViT-B-32` without a tag is the real architecture with random weights: no download.)
"""

import argparse
import copy
import json
import resource
import statistics
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import torch

from cultureclip.backends.clip import create_clip
from cultureclip.config import LossConfig, TrainConfig, TuneConfig
from cultureclip.train.data import TrainData, index_rows
from cultureclip.train.loop import Trainer
from cultureclip.train.stream import TEXT_FIELDS, InMemorySamples

PLAIN = LossConfig(caption=0, concept=0, clip=1, preserve=0)
TWIN = LossConfig(caption=0.7, concept=0.3, preserve=0)
TWIN_PRESERVE = LossConfig(caption=0.7, concept=0.3, preserve=5)
OPEN_CLIP_PRECISION = {"fp32": "fp32", "bf16": "amp_bf16", "fp16": "amp"}


def synthetic_data(model, images: int, members: int = 2) -> tuple[TrainData, InMemorySamples]:
    """`images` random images with unique captions, in twin groups of `members` concepts of 2 images each."""
    g = torch.Generator().manual_seed(0)
    rows = []
    for i in range(images):
        concept = f"c{i // 2}"
        rows.append(
            {
                "concept_id": concept,
                "twin_group": f"g{i // (2 * members)}",
                "name": f"concept number {i // 2}",
                "generic": "thing",
                "caption": f"picture {i} of concept number {i // 2}, in its own setting number {i * 7 % 101}.",
                "generic_caption": f"a photo of a thing {i // (2 * members)}.",
            }
        )
    columns = {k: [r[k] for r in rows] for k in ("concept_id", "twin_group", "generic")}
    columns |= {"shard": ["memory"] * images, "offset": [0] * images, "length": [0] * images}
    pixels = torch.randint(0, 256, (images, 3, model.image_size, model.image_size), generator=g, dtype=torch.uint8)
    texts = [{k: r[k] for k in TEXT_FIELDS} for r in rows]
    return index_rows(columns, "synthetic"), InMemorySamples(pixels, texts)


def our_trainer(model, data, loss: LossConfig, batch: int, args, tune: TuneConfig | None = None) -> Trainer:
    data, samples = data
    sampler = "random" if loss.clip else "twins"
    cfg = TrainConfig(
        steps=2 + args.rounds * args.steps,  # what the benchmark runs (the distillation embeds their rows)
        batch_size=batch if sampler == "random" else batch // 2,
        lr=1e-5,
        warmup=1,
        sampler=sampler,
        precision=args.precision,
        loss=loss,
        tune=tune or TuneConfig(),
        workers=0,
    )
    trainer = Trainer(model, data, cfg, seed=0, device=args.device, samples=samples)
    texts = samples.texts
    trainer.texts.tokens({"all": [t["caption"] for t in texts] + [t["name"] for t in texts]})  # pre-tokenized,
    trainer.texts.tokens({"generic": [t["generic_caption"] for t in texts]})  # as open_clip's loader gives them
    model.model.train()
    return trainer


def time_ours(trainer: Trainer, steps: int, start: int) -> float:
    _sync(trainer.device.type)
    t = time.perf_counter()
    for step in range(start, start + steps):
        trainer.optimizer_step(step)
    _sync(trainer.device.type)
    return time.perf_counter() - t


def open_clip_runner(model, data: tuple[TrainData, InMemorySamples], batch: int, steps: int, args):
    """A closure running open_clip_train's train_one_epoch over `steps` batches of the same tensors."""
    import open_clip
    from open_clip_train.data import DataInfo
    from open_clip_train.scheduler import cosine_lr
    from open_clip_train.train import train_one_epoch

    samples = data[1]
    tokens = model.tokenize([t["caption"] for t in samples.texts])
    n = batch * steps
    dataset = torch.utils.data.TensorDataset(model.normalize_pixels(samples.pixels[:n]), tokens[:n])
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=True, drop_last=True)
    loader.num_batches, loader.num_samples = steps, n
    params = [p for p in model.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-5, weight_decay=0.1)
    run = SimpleNamespace(
        device=args.device,
        precision=OPEN_CLIP_PRECISION[args.precision],
        distill=False,
        accum_freq=1,
        skip_scheduler=False,
        horovod=False,
        grad_clip_norm=None,
        log_every_n_steps=10**9,
        world_size=1,
        batch_size=batch,
        wandb=False,
        rank=0,
        local_rank=0,
        save_logs=False,
        gather_with_grad=False,
        local_loss=False,
    )
    scheduler = cosine_lr(optimizer, 1e-5, 1, 10**6)
    loss = open_clip.ClipLoss()
    scaler = torch.amp.GradScaler(enabled=args.precision == "fp16")
    model.model.output_dict = True  # what open_clip_train's loop expects of the model
    model.model.train()
    epoch = iter(range(10**6))

    def timed() -> float:
        _sync(args.device)
        t = time.perf_counter()
        train_one_epoch(
            model.model, {"train": DataInfo(loader)}, loss, next(epoch), optimizer, scaler, scheduler, model.model, run
        )
        _sync(args.device)
        return time.perf_counter() - t

    return timed


def _sync(device: str) -> None:
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def vs_open_clip(args) -> dict:
    torch.manual_seed(0)
    ours_model = create_clip(args.model, args.device)
    theirs_model = copy.deepcopy(ours_model)
    data = synthetic_data(ours_model, args.batch * args.steps)
    trainer = our_trainer(ours_model, data, PLAIN, args.batch, args)
    theirs = open_clip_runner(theirs_model, data, args.batch, args.steps, args)
    time_ours(trainer, 2, 0)  # warm-up
    theirs()
    ours_t, theirs_t = [], []
    for r in range(args.rounds):
        ours_t.append(time_ours(trainer, args.steps, 2 + r * args.steps))
        theirs_t.append(theirs())
    samples = args.batch * args.steps
    ours_rate, theirs_rate = samples / statistics.median(ours_t), samples / statistics.median(theirs_t)
    return {
        "ours_samples_per_s": ours_rate,
        "open_clip_train_samples_per_s": theirs_rate,
        "ratio": ours_rate / theirs_rate,
    }


def twin_overhead(args) -> dict:
    torch.manual_seed(0)
    base = create_clip(args.model, args.device)
    data = synthetic_data(base, args.batch * args.steps)
    trainers = {
        name: our_trainer(copy.deepcopy(base), data, loss, args.batch, args)
        for name, loss in (("plain", PLAIN), ("twin", TWIN), ("twin+preserve", TWIN_PRESERVE))
    }
    times: dict[str, list[float]] = {name: [] for name in trainers}
    for trainer in trainers.values():
        time_ours(trainer, 2, 0)
    for r in range(args.rounds):
        for name, trainer in trainers.items():
            times[name].append(time_ours(trainer, args.steps, 2 + r * args.steps) / args.steps)
    per_step = {name: statistics.median(t) for name, t in times.items()}
    return {
        "seconds_per_step": per_step,
        "twin_vs_plain": per_step["twin"] / per_step["plain"],
        "twin_preserve_vs_plain": per_step["twin+preserve"] / per_step["plain"],
    }


def peak_memory(args, mode: str) -> float:
    """Peak training memory of one mode, in MiB (run in this process; call it in a fresh one)."""
    torch.manual_seed(0)
    model = create_clip(args.memory_model, args.device)
    data = synthetic_data(model, args.memory_batch * 4)
    tune = TuneConfig(mode=mode, lora_targets=args.lora_targets, heads=False)
    cuda = str(args.device).startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated() if cuda else _rss()
    sampler = RssSampler()
    with sampler:
        trainer = our_trainer(model, data, PLAIN, args.memory_batch, args, tune)
        for step in range(3):
            trainer.optimizer_step(step)
    peak = torch.cuda.max_memory_allocated() if cuda else sampler.peak
    return (peak - before) / 2**20


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


class RssSampler(threading.Thread):
    """The process's peak resident memory while the block runs, sampled every millisecond."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak = _rss()
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.001):
            self.peak = max(self.peak, _rss())

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self.join()
        self.peak = max(self.peak, _rss())


def lora_memory(args) -> dict:
    result = {}
    for mode in ("full", "lora"):
        cmd = [sys.executable, __file__, "--peak-memory", mode, *sys.argv[1:]]
        result[f"{mode}_peak_mib"] = float(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    result["lora_vs_full"] = result["lora_peak_mib"] / result["full_peak_mib"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="config:world-clip")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10, help="optimizer steps per timed round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    parser.add_argument(
        "--lora-targets",
        nargs="+",
        default=["attn"],
        help="LoRA targets for the memory comparison (open_clip towers: attn; transformers: q v)",
    )
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--memory-model", default="open_clip:ViT-B-32", help="model of the memory comparison")
    parser.add_argument("--memory-batch", type=int, default=16)
    parser.add_argument("--peak-memory", choices=["full", "lora"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.peak_memory:
        print(peak_memory(args, args.peak_memory))
        return
    report = {
        "threads": torch.get_num_threads(),
        "memory_model": args.memory_model,
        "model": args.model,
        "batch": args.batch,
        "precision": args.precision,
        "device": args.device,
        "vs_open_clip_train": vs_open_clip(args),
        "twin_objective_overhead": twin_overhead(args),
        "lora_vs_full_memory": lora_memory(args),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
