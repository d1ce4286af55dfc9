"""torchrun / DDP plumbing: the process group (NCCL on GPUs, gloo on CPUs) and gathers for the global batch.

Without torchrun's environment everything degrades to one process: `dist_info()` is rank 0 of 1 and the
gathers return their input, so the same loop runs under `python` and under `torchrun --nproc_per_node N`.
"""

import os
import warnings
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the torchrun process group: its rank, the group size, its local GPU."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def dist_info(device: str = "cpu") -> DistInfo:
    """Join the process group torchrun describes (once); one process when there is none.

    On CUDA each rank first binds its own GPU (`LOCAL_RANK`), and NCCL is told that device, so no rank
    opens a context on another rank's GPU (pinned-memory threads and the first barrier use the current one).
    """
    if "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) == 1:
        return DistInfo()
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if not dist.is_initialized():
        if device.startswith("cuda"):
            torch.cuda.set_device(local_rank)
            dist.init_process_group("nccl", device_id=torch.device("cuda", local_rank))
        else:
            dist.init_process_group("gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(), local_rank)


def device_for(device: str, info: DistInfo) -> str:
    """A plain 'cuda' means this process's own GPU under torchrun."""
    return f"cuda:{info.local_rank}" if device == "cuda" and info.size > 1 else device


def rank_slice(n: int, info: DistInfo) -> tuple[slice, list[int]]:
    """This rank's contiguous share of n global rows, and every rank's share size (ranks may differ by one)."""
    sizes = [len(part) for part in np.array_split(np.arange(n), info.size)]
    start = sum(sizes[: info.rank])
    return slice(start, start + sizes[info.rank]), sizes


def gather_rows(x: Tensor, sizes: list[int]) -> Tensor:
    """All ranks' rows in rank order, keeping the gradient path to this rank's rows.

    The backward of the differentiable all-gather sums every rank's gradient into the local rows; with
    DDP's gradient averaging this gives exactly the gradient of the loss on the global batch.
    """
    if len(sizes) == 1:
        return x
    from torch.distributed.nn.functional import all_gather  # differentiable (open_clip's gather_with_grad uses it)

    padded = F.pad(x, (0, 0) * (x.ndim - 1) + (0, max(sizes) - len(x)))
    with warnings.catch_warnings():  # torch 2.15 deprecates it for a functional collective older torches lack
        warnings.simplefilter("ignore", FutureWarning)
        parts = all_gather(padded)
    return torch.cat([part[:n] for part, n in zip(parts, sizes, strict=True)])


def barrier(info: DistInfo) -> None:
    if info.size > 1:
        dist.barrier()
