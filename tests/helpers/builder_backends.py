"""Image generators for builder tests, registered by importing this module: the procedural renderer
made slow (for kill-and-resume), failing on chosen seeds (for bad-row handling) or buggy; a stage that says
which process ran it (for the Ray executor's actor reuse)."""

import os
import time

from cultureclip.backends.image.base import IMAGE_GENERATORS
from cultureclip.backends.image.procedural import ProceduralRenderer
from cultureclip.builder.stage import Stage
from cultureclip.errors import ConfigError, GenerationError

CALLS: list[int] = []  # seeds rendered by the flaky renderer, in order


class SlowRenderer(ProceduralRenderer):
    def render(self, requests):
        time.sleep(0.02 * len(requests))
        return super().render(requests)


class FlakyRenderer(ProceduralRenderer):
    """Fails on every request whose seed is divisible by 5, and once on seeds divisible by 3."""

    def render(self, requests):
        for r in requests:
            CALLS.append(r.seed)
            if r.seed % 5 == 0 or (r.seed % 3 == 0 and CALLS.count(r.seed) == 1):
                raise GenerationError(f"cannot render seed {r.seed}")
        return super().render(requests)


class BuggyRenderer(ProceduralRenderer):
    """Has a bug: fails on every request with a TypeError (a code error, not a backend failure)."""

    def render(self, requests):
        raise TypeError("a bug in the renderer")


IMAGE_GENERATORS.register("test-slow")(lambda ref, image_size, options: SlowRenderer(image_size))
IMAGE_GENERATORS.register("test-flaky")(lambda ref, image_size, options: FlakyRenderer(image_size))
IMAGE_GENERATORS.register("test-buggy")(lambda ref, image_size, options: BuggyRenderer(image_size))


class WorkerProbe(Stage):
    """Outputs the process that ran each row and how often that process set this stage up."""

    outputs = ("pid", "setups", "stage")

    def __init__(self, name: str):
        self.name, self.setups = name, 0

    def setup(self) -> None:
        self.setups += 1

    def process(self, rows: list[dict]) -> list[dict]:
        return [{"pid": os.getpid(), "setups": self.setups, "stage": self.name} for _ in rows]


class BadSetting(Stage):
    """A stage whose set-up finds a bad setting."""

    name = "bad"

    def setup(self) -> None:
        raise ConfigError("build.x: bad")

    def process(self, rows: list[dict]) -> list[dict]:
        return rows


class Buggy(Stage):
    """A stage with a bug: every batch fails with a TypeError (a code error, not a backend failure)."""

    name, outputs = "buggy", ("x",)

    def process(self, rows: list[dict]) -> list[dict]:
        raise TypeError("a bug in the stage")


class DeviceProbe(Stage):
    """Outputs the process that ran each row, the GPUs Ray made visible to it and where its `auto` models go."""

    name = "device"
    outputs = ("pid", "visible", "device")

    def process(self, rows: list[dict]) -> list[dict]:
        from cultureclip.runtime import resolve_device

        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        return [{"pid": os.getpid(), "visible": visible, "device": resolve_device()} for _ in rows]
