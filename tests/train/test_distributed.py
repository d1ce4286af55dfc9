"""Two gloo processes on the CPU give the loss and gradients of one process on the same global batch."""

import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from conftest import synthetic_dataset
from cultureclip.backends.clip import create_clip
from cultureclip.config import LossConfig, TrainConfig
from cultureclip.train.data import load_train_data
from cultureclip.train.distributed import DistInfo, gather_rows, rank_slice
from cultureclip.train.loop import Trainer

# 3 twin groups of 2 plus one of 3: 9 pairs, so the ranks' shares differ in size (5 and 4)
CFG = TrainConfig(steps=2, batch_size=16, lr=0.01, warmup=1, loss=LossConfig(clip=0.5, siglip=True))  # sigmoid terms


def _data(folder: Path):
    if not (folder / "b").exists():  # the ranks reuse the folders the single process wrote
        synthetic_dataset(folder / "a", groups=3, members=2, images=2)
        synthetic_dataset(folder / "b", groups=1, members=3, images=2, seed=1, prefix="x")
    return load_train_data(folder / "a", extra=[folder / "b"])


def _step(folder: Path):
    """One batch's loss terms and gradients, then two optimizer steps' metrics."""
    torch.manual_seed(0)
    trainer = Trainer(create_clip("config:test-clip"), _data(folder), CFG, seed=3)
    terms = trainer.forward_backward(0)
    grads = {n: p.grad.clone() for n, p in trainer.model.model.named_parameters() if p.grad is not None}
    history = [trainer.optimizer_step(s) for s in range(2)]
    return {k: v.item() for k, v in terms.items()}, grads, history


def _worker(rank: int, world_size: int, port: int, folder: Path, out: str):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world_size), RANK=str(rank))
    torch.set_num_threads(1)
    try:
        result = _step(folder)
        if rank == 0:
            torch.save(result, out)
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_ranks_match_one_process(tmp_path):
    terms, grads, history = _step(tmp_path)  # first, so the forked ranks inherit warm imports and caches
    out = str(tmp_path / "ddp.pt")
    mp.start_processes(_worker, args=(2, _free_port(), tmp_path, out), nprocs=2, start_method="fork")
    ddp_terms, ddp_grads, ddp_history = torch.load(out, weights_only=False)
    assert set(ddp_terms) == {"loss", "caption", "concept", "clip", "preserve"}
    for key, value in terms.items():
        assert ddp_terms[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
    assert set(ddp_grads) == set(grads) and len(grads) > 10
    for name, grad in grads.items():
        # atol 1e-5: float32 summation order (one of the 1.6M token-embedding entries differs by 1.9e-6)
        torch.testing.assert_close(ddp_grads[name], grad, rtol=1e-4, atol=1e-5, msg=name)
    for a, b in zip(ddp_history, history, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)


def test_rank_shares_cover_the_batch_in_order():
    shares = [rank_slice(9, DistInfo(rank, 2))[0] for rank in range(2)]
    assert shares == [slice(0, 5), slice(5, 9)]
    assert rank_slice(9, DistInfo(1, 2))[1] == [5, 4]
    x = torch.arange(6.0).reshape(3, 2)
    assert gather_rows(x, [3]) is x  # one process: nothing to gather
    assert np.array_equal(np.concatenate([np.arange(9)[s] for s in shares]), np.arange(9))
