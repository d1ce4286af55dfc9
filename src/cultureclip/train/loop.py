"""The training engine: twin batches -> embeddings (one DDP forward) -> global batch -> named loss terms -> AdamW.

Runs as one process or under torchrun (see `distributed`): each rank embeds its share of the global batch,
the embeddings are all-gathered with their gradient, and every rank computes the loss of the whole batch,
so N processes give the loss and gradients of one process on the same global batch. Mixed precision,
gradient accumulation, gradient checkpointing, warm-up + cosine/linear schedule, checkpoints every N
steps with bit-exact resume, metrics as JSON lines (and TensorBoard).
"""

import contextlib
import logging
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset

from cultureclip.backends.clip import ClipModel
from cultureclip.config import TrainConfig
from cultureclip.data.decode import default_workers
from cultureclip.io import write_json
from cultureclip.runtime import autocast, resolve_precision
from cultureclip.train.base_features import BaseFeatures
from cultureclip.train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from cultureclip.train.data import TrainData
from cultureclip.train.distributed import DistInfo, barrier, dist_info, gather_rows, rank_slice
from cultureclip.train.losses import objective_terms, weight_distance, weighted_sum
from cultureclip.train.metrics import MetricsLog
from cultureclip.train.sampler import SAMPLERS
from cultureclip.train.stream import BatchPlan, Loaded, ShardSamples, batch_loader
from cultureclip.train.trainable import merge_lora, select_trainable

log = logging.getLogger(__name__)
LOG_FILE = "train_log.jsonl"
PARAMS_FILE = "parameters.json"
WHOLE_KEYS = ("image_all", "generic", "base_image", "base_generic")
TOKEN_CACHE = 16384
"""Distinct texts whose tokens are kept (the captions of a large dataset would not fit)."""


def lr_factor(step: int, warmup: int, total: int, kind: str = "cosine") -> float:
    """Linear warm-up to 1, then cosine or linear decay to 0 (or constant)."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return {"cosine": 0.5 * (1 + math.cos(math.pi * progress)), "linear": 1 - progress, "constant": 1.0}[kind]


class Towers(nn.Module):
    """Both towers as one module whose forward DDP can wrap: (pixels, token sets) -> (image, text) embeddings."""

    def __init__(self, clip: ClipModel, normalize: bool):
        super().__init__()
        self.clip = clip
        self.model = clip.model  # registered, so DDP sees the parameters
        self.normalize = normalize

    def forward(self, pixels: Tensor, token_sets: list[Tensor]) -> tuple[Tensor, Tensor]:
        return self.clip.encode_images(pixels, self.normalize), self.clip.encode_text_sets(token_sets, self.normalize)


class TextTokens:
    """Tokenizes each distinct text once; a batch's distinct texts of each kind go through the text tower once.

    A group's kind is its key without 'neg_' (captions, concept names, generic captions): texts of a kind have
    similar lengths, so each kind's pass is only as long as its own texts (see `OpenClipModel.encode_texts`).
    """

    def __init__(self, model: ClipModel, limit: int = TOKEN_CACHE):
        self.model, self.limit = model, limit
        self._tokens: dict[str, Tensor] = {}

    def __call__(self, groups: dict[str, list[str]]) -> tuple[list[Tensor], dict[str, list[int]]]:
        """Token sets of each kind's distinct texts, and for each group the row of each text in their concatenation."""
        kinds: dict[str, list[str]] = {}
        for key, texts in groups.items():
            kinds.setdefault(key.removeprefix("neg_"), []).extend(texts)
        kinds = {kind: list(dict.fromkeys(texts)) for kind, texts in kinds.items()}
        wanted = list(dict.fromkeys(t for texts in kinds.values() for t in texts))
        new = [t for t in wanted if t not in self._tokens]
        if len(self._tokens) + len(new) > self.limit:  # start afresh: tokens are a pure function of the text
            self._tokens.clear()
            new = wanted
        if new:
            self._tokens.update(zip(new, self.model.tokenize(new), strict=True))
        where: dict[str, dict[str, int]] = {}
        offset = 0
        for kind, texts in kinds.items():
            where[kind] = {t: offset + i for i, t in enumerate(texts)}
            offset += len(texts)
        rows = {k: [where[k.removeprefix("neg_")][t] for t in v] for k, v in groups.items()}
        return [torch.stack([self._tokens[t] for t in texts]) for texts in kinds.values()], rows


class StepTexts:
    """A batch's texts that the loss terms embed (each side's captions, concept prompts where a term uses
    them, generic captions for the distillation term) -> `TextTokens`' token sets and rows. Runs in the
    loader workers, so the main process never tokenizes."""

    def __init__(self, model: ClipModel, cfg: TrainConfig, generic: bool):
        self.tokens, self.cfg, self.generic = TextTokens(model), cfg, generic

    def __call__(self, loaded: Loaded) -> tuple[list[Tensor], dict[str, list[int]]]:
        prefixes = ["", "neg_"] if self.cfg.sampler != "random" else [""]
        n = len(loaded.rows) // len(prefixes)
        field = "generic_caption" if self.cfg.text == "generic" else "caption"
        want: dict[str, list[str]] = {}
        for i, prefix in enumerate(prefixes):
            part = slice(i * n, (i + 1) * n)
            want[f"{prefix}caption"] = loaded.texts[field][part]
            if self.cfg.loss.concept:  # concept names cost a text-tower pass: embed them only when a term uses them
                names = loaded.texts["name"][part]
                want[f"{prefix}concept"] = [self.cfg.concept_template.format(name=name) for name in names]
        if self.generic:
            want["generic"] = loaded.texts["generic_caption"]
        return self.tokens(want)


def row_labels(data: TrainData, cfg: TrainConfig) -> Tensor:
    """Per-row class ids for false-negative masking: what the paired text names (generic noun or concept)."""
    return torch.from_numpy(data.generic if cfg.text == "generic" else data.concept).long()


class Trainer:
    """The state of one training run; `forward_backward` is one batch, `optimizer_step` one update.

    Batches stream from `samples` (by default the shards `data` indexes, see `stream`).
    """

    def __init__(
        self,
        model: ClipModel,
        data: TrainData,
        cfg: TrainConfig,
        seed: int,
        device: str | None = None,
        samples: Dataset | None = None,
    ):
        self.model, self.data, self.cfg, self.seed = model, data, cfg, seed
        device = str(model.device) if device is None else device
        self.dist: DistInfo = dist_info(device)
        self.device = torch.device(device)
        self.precision = resolve_precision(cfg.precision, device)
        torch.manual_seed(seed)
        keep_features = cfg.loss.preserve and cfg.loss.preserve_kind == "features"
        base = model.frozen_copy() if keep_features else None
        self.counts = select_trainable(model, cfg.tune, train_logit_scale=not cfg.freeze_logit_scale)
        sigmoid = cfg.loss.sigmoid_for(model.logit_bias is not None)
        log.info("objective: %s", "sigmoid (SigLIP)" if sigmoid else "softmax (CLIP)")
        if model.logit_bias is not None and not sigmoid:
            model.logit_bias.requires_grad_(False)  # only the sigmoid loss uses it
        self.params = [p for p in model.model.parameters() if p.requires_grad]
        self.start = [p.detach().clone() for p in self.params] if cfg.loss.preserve_kind == "weights" else []
        model.set_grad_checkpointing(cfg.grad_checkpointing)
        towers = Towers(model, cfg.loss.normalize)
        self.net = DistributedDataParallel(towers) if self.dist.size > 1 else towers
        decay = [p for p in self.params if p.ndim >= 2]
        groups = [{"params": decay, "weight_decay": cfg.weight_decay}]
        groups.append({"params": [p for p in self.params if p.ndim < 2], "weight_decay": 0.0})
        self.optimizer = torch.optim.AdamW(groups, lr=cfg.lr, fused=True)  # one kernel for all tensors, not one each
        self.schedule = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_factor(s, cfg.warmup, cfg.steps, cfg.schedule)
        )
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")
        self.labels = row_labels(data, cfg)
        self.sampler = SAMPLERS[cfg.sampler](data, cfg.batch_size, seed)
        augment = model.image_size if cfg.augment else 0
        if samples is None:
            samples = ShardSamples(data, model.images_to_uint8, augment, model.image_size)
        self.samples = samples
        self.workers = default_workers() if cfg.workers is None else cfg.workers
        self._batches: Iterator[Loaded] | None = None
        self._next = -1  # the micro-step `_batches` yields next
        self.base = None  # the frozen start's embeddings of the rows, for the distillation term
        if keep_features:
            plan = BatchPlan(self.sampler, self.dist, seed, 0, cfg.steps * cfg.accumulate)
            rows = np.unique(np.fromiter((row for step in plan for _, row, _ in step.items), dtype=np.int64))
            plain = ShardSamples(data, model.images_to_uint8, 0, model.image_size) if augment else self.samples
            self.base = BaseFeatures(base, plain, rows, cfg.loss.normalize, self.device, cfg.batch_size, self.workers)
        self.texts = StepTexts(model, cfg, generic=self.base is not None)

    def load(self, index: int) -> Loaded:
        """This rank's share of micro-step `index`, from the running loader (started afresh where needed)."""
        if index != self._next:
            stop = max(index + 1, self.cfg.steps * self.cfg.accumulate)
            plan = BatchPlan(self.sampler, self.dist, self.seed, index, stop)
            loader = batch_loader(self.samples, plan, self.workers, self.device.type == "cuda", self.texts)
            self._batches = iter(loader)
        loaded = next(self._batches)
        self._next = index + 1
        return loaded

    def features(self, loaded: Loaded, twins: bool) -> dict[str, Tensor]:
        """Embeddings of this rank's share of a batch, gathered into the global batch.

        Per-side keys ('image', 'neg_caption', ...) come back in the global batch's order; the
        preservation term's keys over all of a rank's images ('image_all', 'generic', 'base_*') come
        back rank by rank, which the (row-wise mean) distillation term does not see.
        """
        prefixes = ["", "neg_"] if twins else [""]
        n = len(loaded.rows) // len(prefixes)
        _, sizes = rank_slice(loaded.pairs, self.dist)  # every rank's share of the batch
        f: dict[str, Tensor] = {}
        for i, prefix in enumerate(prefixes):
            f[f"{prefix}label"] = self.labels[loaded.rows[i * n : (i + 1) * n]].to(self.device)
        pixels = self.model.normalize_pixels(loaded.pixels.to(self.device, non_blocking=True))
        token_sets, rows_of = loaded.tokens  # made in the loader's workers (`StepTexts`)
        images, texts = self.net(pixels, [t.to(self.device) for t in token_sets])
        f |= {f"{prefix}image": part for prefix, part in zip(prefixes, images.split(n), strict=True)}
        f |= {"image_all": images} | {k: texts[rows] for k, rows in rows_of.items()}
        if self.base is not None:
            f["base_image"], f["base_generic"] = self.base(loaded.rows)
        whole = [size * len(prefixes) for size in sizes]
        return {k: gather_rows(v, whole if k in WHOLE_KEYS else sizes) for k, v in f.items()}

    def forward_backward(self, index: int, scale: float = 1.0) -> dict[str, Tensor]:
        """Loss terms of batch `index` (a pure function of seed and index); backward of `scale` x the total."""
        loaded = self.load(index)
        with autocast(self.device, self.precision):
            f = self.features(loaded, twins=self.cfg.sampler != "random")
        terms = objective_terms(f, self.model.logit_scale, self.cfg.loss, self.model.logit_bias)  # in fp32
        if self.start:
            terms["preserve"] = weight_distance(self.params, self.start)
        loss = weighted_sum({k: v.float() for k, v in terms.items()}, self.cfg.loss)
        self.scaler.scale(loss * scale).backward()
        return {"loss": loss.detach(), **{k: v.detach() for k, v in terms.items()}}

    def optimizer_step(self, step: int) -> dict[str, float]:
        """One update from `cfg.accumulate` batches; the step's metrics."""
        n = self.cfg.accumulate
        self.optimizer.zero_grad(set_to_none=True)
        sums: dict[str, Tensor] = {}
        for micro in range(n):
            sync = self.net.no_sync() if self.dist.size > 1 and micro < n - 1 else contextlib.nullcontext()
            with sync:
                for k, v in self.forward_backward(step * n + micro, 1 / n).items():
                    sums[k] = sums.get(k, 0.0) + v.double() / n
        self.scaler.step(self.optimizer)
        self.scaler.update()
        lr = self.optimizer.param_groups[0]["lr"]
        self.schedule.step()
        scale = self.model.logit_scale.detach().double()
        *values, scale = torch.cat([v.reshape(1) for v in (*sums.values(), scale)]).tolist()  # one host sync a step
        return {"step": step, **dict(zip(sums, values, strict=True)), "lr": lr, "logit_scale": scale}

    def state(self) -> tuple:
        return self.model.model, self.optimizer, self.schedule, self.scaler


def train(
    model: ClipModel, data: TrainData, cfg: TrainConfig, seed: int, work: Path, resume: bool = False
) -> list[dict]:
    """Train `model` in place for `cfg.steps` optimizer steps, logging and checkpointing into `work`.

    With `resume`, continue from the latest checkpoint in `work` (the same loss curve as an uninterrupted run).
    """
    trainer = Trainer(model, data, cfg, seed)
    work = Path(work)
    start = _restore(trainer, work) if resume else 0
    metrics = MetricsLog(work / LOG_FILE, cfg.tensorboard, trainer.dist.is_main, keep_before=start)
    if trainer.dist.is_main:
        write_json(work / PARAMS_FILE, trainer.counts)
    model.model.train()
    with metrics:
        title = work.name.removesuffix(".work")
        for step in metrics.progress(range(start, cfg.steps), total=cfg.steps, start=start, title=title):
            metrics.write(trainer.optimizer_step(step))
            done = step + 1
            if cfg.checkpoint_every and done % cfg.checkpoint_every == 0 and done < cfg.steps:
                if trainer.dist.is_main:
                    save_checkpoint(work, done, *trainer.state())
                barrier(trainer.dist)
    merge_lora(model)
    model.set_grad_checkpointing(False)
    model.model.eval()
    return metrics.history


def _restore(trainer: Trainer, work: Path) -> int:
    path = latest_checkpoint(work)
    if path is None:
        log.info("%s: no checkpoint to resume from; starting at step 0", work)
        return 0
    step = load_checkpoint(path, *trainer.state())
    log.info("resuming %s at step %d", work, step)
    return step
