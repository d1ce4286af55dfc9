"""The `cultureclip catalog` jobs, from a config to files on disk: check, twins, expand, stats."""

import json
import re
from pathlib import Path

from cultureclip.backends.chat import ChatModel, create_chat_model
from cultureclip.backends.embed import create_text_embedder
from cultureclip.catalog.check import check_rows
from cultureclip.catalog.expand import expand, expand_prompt
from cultureclip.catalog.image_similarity import image_similarity
from cultureclip.catalog.load import TWIN_GROUPS_SUFFIX, catalog_rows, load_catalog
from cultureclip.catalog.schema import CATEGORIES, ConceptSketch
from cultureclip.catalog.stats import catalog_stats
from cultureclip.catalog.twins import Mined, mine_twins
from cultureclip.config import RunConfig
from cultureclip.errors import ConfigError, DataError
from cultureclip.io import atomic_path, claim_output, within

PACKAGE = Path(__file__).resolve().parents[1]
"""The installed cultureclip package: its shipped files are never rewritten."""


def check_catalog(cfg: RunConfig) -> list[str]:
    """Every problem of the configured catalogue, one line each (empty when it passes)."""
    return check_rows(catalog_rows(cfg.catalog.path, cfg.catalog.mode), categories=cfg.catalog.categories)[1]


def mine_catalog_twins(
    cfg: RunConfig, out: Path, generator: ChatModel | None = None, overwrite: bool = False
) -> tuple[Path, Mined]:
    """Mine twins of the configured catalogue (only id, name, culture, category, visual required).

    Writes one JSON line per concept to `out` ({"id", "twins": [{"id", "score"}, ...]}, best first)
    and the twin groups, curated and mined, with scores and reasons, next to the catalogue (or to
    mining.groups_out); returns that file and the result. Neither may be a folder (unless `overwrite`).
    Nothing is written into the installed package: the shipped catalogue's groups go next to `out`.
    """
    catalog = load_catalog(cfg.catalog.path, cfg.catalog.mode, ConceptSketch, cfg.catalog.categories)
    groups_file = cfg.mining.groups_out or catalog.twin_groups_file
    if within(PACKAGE, groups_file):
        if cfg.mining.groups_out is not None:
            raise ConfigError(f"mining.groups_out {groups_file}: inside the installed cultureclip package")
        groups_file = Path(out).with_suffix(TWIN_GROUPS_SUFFIX)
    for path in (out, groups_file):
        claim_output(path, None, overwrite)
    if generator is None and cfg.mining.generator is not None:
        generator = create_chat_model(cfg.mining.generator)
    images = None
    if cfg.mining.images is not None:
        if not cfg.mining.images.is_dir():
            raise DataError(f"{cfg.mining.images}: no such folder of concept images (mining.images)")
        ids = [c.id for c in catalog.concepts]
        images = image_similarity(ids, cfg.mining.images, cfg.mining.image_model, cfg.model.device)
    mined = mine_twins(catalog, cfg.mining, create_text_embedder(cfg.mining.embedder), generator, images)
    lines = [
        {"id": concept_id, "twins": [{"id": t, "score": s} for t, s in twins]}
        for concept_id, twins in mined.neighbours.items()
    ]
    _write_jsonl(out, lines)
    _write_jsonl(groups_file, mined.groups)
    return groups_file, mined


def expand_catalog(
    cfg: RunConfig, category: str, culture: str, generator: ChatModel | None = None
) -> tuple[Path, list[dict], list[str]]:
    """Ask the configured generator for new concepts; returns (output file, added rows, rejections)."""
    vocabulary = cfg.catalog.categories or CATEGORIES
    if category not in vocabulary:
        raise ConfigError(f"category {category!r}: expected one of {', '.join(vocabulary)} (catalog.categories)")
    if generator is None:
        if cfg.expand.generator is None:
            raise ConfigError("expand.generator: name a text generator to write new concepts")
        generator = create_chat_model(cfg.expand.generator)
    catalog = load_catalog(cfg.catalog.path, cfg.catalog.mode, categories=cfg.catalog.categories)
    slug = re.sub(r"[^a-z0-9]+", "-", culture.lower()).strip("-")
    out = cfg.expand.out or Path(f"expanded-{category}-{slug}.yaml")
    prompt = expand_prompt(catalog, category, culture, cfg.expand.n)
    rows = catalog_rows(cfg.catalog.path, cfg.catalog.mode)
    added, rejected = expand(rows, out, generator, prompt, category, culture, cfg.catalog.categories)
    return out, added, rejected


def stats_of_catalog(cfg: RunConfig) -> dict[str, int]:
    """The configured catalogue's counts (`catalog stats`)."""
    return catalog_stats(load_catalog(cfg.catalog.path, cfg.catalog.mode, ConceptSketch, cfg.catalog.categories))


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    try:
        with atomic_path(path) as tmp:
            tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    except OSError as err:
        raise DataError(
            f"{path}: cannot write ({err.strerror}); choose another file (--out, mining.groups_out)"
        ) from None
