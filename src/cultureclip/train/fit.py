"""One training into one model folder: skip if done, train on every rank, publish the folder atomically.

The folder appears only when the model is complete (with a completion marker), and holds the config it
was trained with; `NAME.work` beside it keeps the log and checkpoints while training, for `--resume`.
Under torchrun every rank trains and the main rank alone writes.
"""

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

import torch

from cultureclip.backends.clip import create_clip
from cultureclip.config import ModelConfig, TrainConfig, dump_config
from cultureclip.data.shards import MANIFEST
from cultureclip.errors import DataError
from cultureclip.io import (
    atomic_path,
    claim_output,
    input_record,
    is_finished,
    mark_done,
    record_difference,
    refuse_link,
    write_json,
    write_text,
)
from cultureclip.runtime import announce, enable_tf32, resolve_device, resolve_precision
from cultureclip.train.data import load_train_data
from cultureclip.train.distributed import barrier, device_for, dist_info
from cultureclip.train.loop import LOG_FILE, PARAMS_FILE, train

log = logging.getLogger(__name__)
TRAIN_RECORD = "train_config.yaml"
RESOLVED_RECORD = "train_config.resolved.yaml"
"""The training config as trained, beside the checkpoint: TRAIN_RECORD with `epochs` resolved to `steps` and
`precision` to the one used."""
RUNTIME_RECORD = "runtime.json"
"""Where the model trained: device (and card), precision, torch version, ranks."""


def fit_to_folder(
    start_id: str, data: Sequence[Path], cfg: TrainConfig, folder: Path, resume: bool, model_cfg: ModelConfig
) -> Path:
    """Train `start_id` on the train splits of `data` (concatenated, in order) into `folder`; return it.

    `cfg.seed` must be set (the caller resolves it). A folder finished with the same start and config is
    kept as it is; with `resume`, an interrupted training continues from its latest checkpoint.
    """
    if cfg.seed is None:
        raise ValueError("fit_to_folder needs cfg.seed set")
    record = training_record(start_id, cfg) + input_record(training_inputs(start_id, data))
    if is_finished(folder, TRAIN_RECORD, record):
        log.info("%s already trained, skipping", folder)
        return folder
    claim_output(folder, "train")
    device = resolve_device(model_cfg.device)
    info = dist_info(device)
    device = device_for(device, info)
    enable_tf32(model_cfg.tf32)
    torch.manual_seed(cfg.seed)  # a model built from a config draws its initial weights here
    model = create_clip(start_id, device, model_cfg.towers)
    train_data = load_train_data(data[0], extra=data[1:])
    resolved = cfg.resolved(len(train_data))  # epochs -> steps, now that the data size is known
    sigmoid = cfg.loss.sigmoid_for(model.logit_bias is not None)  # loss.siglip auto: the model's own objective
    loss = resolved.loss.model_copy(update={"siglip": sigmoid})
    resolved = resolved.model_copy(update={"precision": resolve_precision(cfg.precision, device), "loss": loss})
    runtime = announce(f"training {folder.name}", device, resolved.precision)
    work = folder.with_name(f"{folder.name}.work")
    if info.is_main:
        _prepare_work(work, record, resume)
    barrier(info)
    train(model, train_data, resolved, cfg.seed, work, resume=resume)
    if info.is_main:
        with atomic_path(folder) as tmp:
            tmp.mkdir(parents=True)
            (tmp / TRAIN_RECORD).write_text(record)
            (tmp / RESOLVED_RECORD).write_text(training_record(start_id, resolved))
            for name in (LOG_FILE, PARAMS_FILE):
                shutil.copy(work / name, tmp / name)
            write_json(tmp / RUNTIME_RECORD, runtime | {"ranks": info.size})
            model.save(tmp)
            mark_done(tmp, "train")
        shutil.rmtree(work)
    barrier(info)
    return folder


def training_record(start_id: str, cfg: TrainConfig) -> str:
    """The starting model and the training config (with its seed): what a model folder was made with."""
    return f"start: {start_id}\n" + dump_config(cfg)


def training_inputs(start_id: str, data: Sequence[Path]) -> dict[str, Path]:
    """The files a training reads whose content its record fingerprints: each dataset's manifest and a
    local starting model's weights (a rebuilt dataset or retrained base makes a finished model stale)."""
    manifests = [Path(folder) / MANIFEST for folder in data]
    files = {f"data {i}": m for i, m in enumerate(manifests) if m.is_file()}  # a missing one: the loader says so
    if start_id.startswith("local:"):
        folder = Path(start_id.removeprefix("local:"))
        files |= {f"start {p.name}": p for p in sorted(folder.glob("*.safetensors"))}
    return files


def _prepare_work(work: Path, record: str, resume: bool) -> None:
    """A fresh work folder, or with `resume` the existing one if it was made with the same settings."""
    refuse_link(work)
    saved = work / TRAIN_RECORD
    if resume and saved.is_file() and saved.read_text() != record:
        difference = record_difference(saved.read_text(), record)
        raise DataError(f"{work}: cannot resume, made with other settings or inputs than now ({difference})")
    if not resume:
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    write_text(saved, record)
