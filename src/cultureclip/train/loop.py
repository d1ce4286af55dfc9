"""The training loop: batches -> embeddings -> named loss terms -> AdamW with warm-up and cosine decay."""

import json
import logging
import math
from pathlib import Path

import numpy as np
import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from torch import Tensor

from cultureclip.backends.clip import ClipModel
from cultureclip.config import TrainConfig
from cultureclip.io import write_json
from cultureclip.train.data import TrainData
from cultureclip.train.losses import objective_terms, weighted_sum
from cultureclip.train.sampler import Batch, random_batch, twin_batch
from cultureclip.train.trainable import merge_lora, select_trainable

log = logging.getLogger(__name__)


class TextEncoder:
    """Encodes a batch's texts once each: repeated strings (names, generic captions) share one forward."""

    def __init__(self, model: ClipModel):
        self.model = model
        self._tokens: dict[str, Tensor] = {}

    def __call__(self, groups: dict[str, list[str]], encode) -> dict[str, Tensor]:
        unique = list(dict.fromkeys(t for texts in groups.values() for t in texts))
        new = [t for t in unique if t not in self._tokens]
        if new:
            self._tokens.update(zip(new, self.model.tokenize(new), strict=True))
        features = encode(torch.stack([self._tokens[t] for t in unique]))
        where = {t: i for i, t in enumerate(unique)}
        return {k: features[[where[t] for t in texts]] for k, texts in groups.items()}


def lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up to 1, then cosine decay to 0."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def _optimizer(model: ClipModel, cfg: TrainConfig) -> torch.optim.AdamW:
    params = [p for p in model.model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr)


def row_labels(data: TrainData, cfg: TrainConfig) -> Tensor:
    """Per-row class ids for false-negative masking: what the paired text names (generic noun or concept)."""
    key = "generic" if cfg.text == "generic" else "concept_id"
    ids = {v: i for i, v in enumerate(sorted({r[key] for r in data.rows}))}
    return torch.tensor([ids[r[key]] for r in data.rows])


def _batch_features(
    model: ClipModel,
    base: ClipModel | None,
    data: TrainData,
    labels: Tensor,
    batch: Batch,
    cfg: TrainConfig,
    texts: TextEncoder,
) -> dict[str, Tensor]:
    sides = {"": batch.pos} if batch.neg is None else {"": batch.pos, "neg_": batch.neg}
    index = np.concatenate(list(sides.values()))
    text_field = "generic_caption" if cfg.text == "generic" else "caption"
    want: dict[str, list[str]] = {}
    f: dict[str, Tensor] = {}
    for prefix, idx in sides.items():
        rows = [data.rows[i] for i in idx]
        want[f"{prefix}caption"] = [r[text_field] for r in rows]
        want[f"{prefix}concept"] = [cfg.concept_template.format(name=r["name"]) for r in rows]
        f[f"{prefix}label"] = labels[idx]
    if cfg.loss.preserve:
        want["generic"] = [data.rows[i]["generic_caption"] for i in index]
    normalize = cfg.loss.normalize
    pixels = data.pixels[index]
    images = model.encode_images(pixels, normalize=normalize)
    f["image_all"] = images
    for k, prefix in enumerate(sides):
        f[f"{prefix}image"] = images[k * len(batch.pos) : (k + 1) * len(batch.pos)]
    f.update(texts(want, lambda tok: model.encode_texts(tok, normalize=normalize)))
    if base is not None:
        with torch.no_grad():
            f["base_image"] = base.encode_images(pixels, normalize=normalize)
            f["base_generic"] = texts({"g": want["generic"]}, lambda tok: base.encode_texts(tok, normalize))["g"]
    return f


def train(model: ClipModel, data: TrainData, cfg: TrainConfig, seed: int, log_path: Path) -> list[dict]:
    """Train `model` in place for `cfg.steps`; append one JSON line per step to `log_path`."""
    torch.manual_seed(seed)
    base = None
    if cfg.loss.preserve:
        base = model.frozen_copy()
    counts = select_trainable(model, cfg.tune, train_logit_scale=not cfg.freeze_logit_scale)
    write_json(log_path.with_name("parameters.json"), counts)
    optimizer = _optimizer(model, cfg)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, cfg.warmup, cfg.steps))
    texts = TextEncoder(model)
    labels = row_labels(data, cfg)
    make_batch = twin_batch if cfg.sampler == "twins" else random_batch
    history = []
    model.model.train()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("loss {task.fields[loss]:.3f}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns) as progress, open(log_path, "a") as log_file:
        task = progress.add_task(f"training {log_path.parent.name}", total=cfg.steps, loss=float("nan"))
        for step in range(cfg.steps):
            batch = make_batch(data, cfg.batch_size, seed, step)
            f = _batch_features(model, base, data, labels, batch, cfg, texts)
            terms = objective_terms(f, model.logit_scale, cfg.loss)
            loss = weighted_sum(terms, cfg.loss)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            record = {
                "step": step,
                "loss": loss.item(),
                **{k: v.item() for k, v in terms.items()},
                "lr": optimizer.param_groups[0]["lr"],
                "logit_scale": model.logit_scale.item(),
            }
            history.append(record)
            log_file.write(json.dumps(record) + "\n")
            progress.update(task, advance=1, loss=record["loss"])
    merge_lora(model)
    model.model.eval()
    return history
