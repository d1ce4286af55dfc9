"""Where the builder's stages run (section `executor`): every job that writes a dataset (build, import,
score-captions, recaption) opens its executor from these settings alone."""

from typing import Literal

from pydantic import Field

from cultureclip.config.base import Strict


class ExecutorConfig(Strict):
    kind: Literal["local", "ray"] = "local"
    """local: in this process; ray: a pool of Ray model actors kept for the whole job (ray_address, ray_workers)."""
    chunk_rows: int = Field(default=64, ge=1)
    """Rows per unit of work: each finished chunk is saved, so a killed job resumes from the next one."""
    row_retries: int = Field(default=2, ge=0)
    """Times a row whose generation failed is retried alone before it is recorded as failed."""
    ray_address: str | None = None
    """Ray cluster to join; None starts a local one."""
    ray_workers: int = Field(default=1, ge=1)
    """Model actors, started once per job and reused by every stage (one per GPU on a cluster)."""
    ray_gpus_per_worker: float | None = Field(default=None, ge=0)
    """GPUs each actor asks Ray for. None: one card of its own when the cluster has GPUs (more workers than GPUs is
    an error), none otherwise; a fraction (0.5) shares cards between actors, 0 keeps every actor on the CPU."""
