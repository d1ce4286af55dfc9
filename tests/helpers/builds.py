"""Tiny builds for builder tests: the `tiny` preset's config at small sizes, a build of it, and a killed stage."""

from pathlib import Path

from cultureclip.builder.pipeline import BuildJob
from cultureclip.builder.pipeline import build as build_recipe
from cultureclip.builder.recipes import BUILD_RECIPES
from cultureclip.config import load_config


def config(*overrides: str):
    base = [
        "build.catalog.max_groups=2",
        "build.catalog.train_images=3",
        "build.catalog.test_images=1",
        "executor.chunk_rows=4",
    ]
    return load_config("tiny", [*base, *overrides])


def build(cfg, out: Path) -> Path:
    job = BuildJob(cfg.build, cfg.seed, cfg.model.name, cfg.catalog, cfg.executor, cfg.judge)
    return build_recipe(BUILD_RECIPES.create(cfg.build.recipe), job, out)


def kill_at_the_third_chunk(monkeypatch, stage: type) -> None:
    """Make `stage` stop the run (a bug, not a backend error) when it is given its third chunk."""
    process, calls = stage.process, []

    def killed(self, rows):
        calls.append(len(rows))
        if len(calls) == 3:
            raise RuntimeError("killed")
        return process(self, rows)

    monkeypatch.setattr(stage, "process", killed)
