"""Where and in what precision models run: `auto` means the best device present and the precision it is good at.

Every command resolves its settings here, so a GPU user gets the GPU without saying so, and the tests can pin
the whole suite to one device (`CULTURECLIP_DEVICE`, which `auto` obeys; see `tests/conftest.py`).
"""

import logging
import os

log = logging.getLogger(__name__)
DEVICE_ENV = "CULTURECLIP_DEVICE"
"""Environment variable that `auto` devices resolve to when set (cpu, cuda, cuda:N, mps): pins a whole process,
and the Ray actors that have no GPU of their own (see `builder.executors`)."""
PRECISIONS = ("fp32", "bf16", "fp16")


def resolve_device(device: str = "auto") -> str:
    """`auto`: $CULTURECLIP_DEVICE if set, else cuda when a GPU is visible, then mps, then cpu; others kept."""
    if device != "auto":
        return device
    if os.environ.get(DEVICE_ENV):
        return os.environ[DEVICE_ENV]
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def bf16_supported(device: str) -> bool:
    """Whether `device` runs bfloat16 at speed (CUDA from Ampere on; the CPU only emulates it slowly)."""
    import torch

    return device.startswith("cuda") and torch.cuda.is_bf16_supported()


def resolve_precision(precision: str, device: str) -> str:
    """`auto`: bf16 on a CUDA device that supports it, fp16 on other CUDA devices, fp32 elsewhere."""
    if precision != "auto":
        return precision
    if device.startswith("cuda"):
        return "bf16" if bf16_supported(device) else "fp16"
    return "fp32"


def autocast(device, precision: str):
    """The autocast context of `precision` (fp32, bf16, fp16) on `device`; fp32 is none."""
    import torch

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    return torch.autocast(torch.device(device).type, dtype, enabled=dtype is not None)


def resolve_dtype(dtype: str, device: str):
    """A torch dtype for a whole model's weights (diffusers pipelines): `auto` is bfloat16 where the GPU supports
    it (SD 3.5's model card and its T5 encoder want it: float16 overflows there), float16 on other GPUs, float32
    on the CPU."""
    import torch

    if dtype != "auto":
        return getattr(torch, dtype)
    if device.startswith("cuda"):
        return torch.bfloat16 if bf16_supported(device) else torch.float16
    return torch.float16 if device.startswith("mps") else torch.float32


def enable_tf32(enabled: bool = True) -> None:
    """Let float32 matmuls and convolutions use TensorFloat-32 on GPUs that have it (as open_clip_train does)."""
    import torch

    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled


def describe(device: str, precision: str | None = None) -> dict:
    """What a record says of where a job ran: the device (and its card's name), the precision, torch's version."""
    import torch

    out: dict = {"device": device, "torch": torch.__version__}
    if precision is not None:
        out["precision"] = precision
    if device.startswith("cuda"):
        out["gpu"] = torch.cuda.get_device_name(torch.device(device))
        out["tf32"] = torch.backends.cuda.matmul.allow_tf32
    return out


def announce(job: str, device: str, precision: str | None = None) -> dict:
    """Log where `job` runs (one line, at its start) and return the record of it."""
    info = describe(device, precision)
    extra = [f"{k} {v}" for k, v in info.items() if k not in ("device", "torch")]
    log.info("%s on %s%s", job, device, f" ({', '.join(extra)})" if extra else "")
    return info
