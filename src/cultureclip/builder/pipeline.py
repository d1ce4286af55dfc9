"""Run the builder: plan rows, render their images, write shards and manifest, atomically."""

import logging
from pathlib import Path

from rich.progress import Progress

from cultureclip.backends.captions import create_caption_writer
from cultureclip.backends.images import RenderRequest, create_image_generator
from cultureclip.builder.rows import SPLITS, plan_rows
from cultureclip.catalog.select import dataset_catalog
from cultureclip.config import BuildConfig, CatalogConfig, dump_config
from cultureclip.io import atomic_path, is_finished, mark_done
from cultureclip.shards import Sample, write_manifest, write_split

log = logging.getLogger(__name__)
RENDER_BATCH = 64
RECORD = "build_config.yaml"


def build_dataset(catalog_cfg: CatalogConfig, cfg: BuildConfig, seed: int, out: Path) -> Path:
    """Build the dataset into `out` (skipped when a finished one is already there)."""
    out = Path(out)
    record = f"seed: {seed}\n" + dump_config(catalog_cfg) + dump_config(cfg)
    if is_finished(out, RECORD, record):
        log.info("dataset %s already built, skipping", out)
        return out
    catalog = dataset_catalog(catalog_cfg)
    attributes = {c.id: c.attributes.model_dump() for c in catalog.concepts}
    counts = {"train": cfg.train_images, "test": cfg.test_images}
    rows = plan_rows(catalog, create_caption_writer(cfg.caption_writer), cfg.captions_per_concept, counts, seed)
    renderer = create_image_generator(cfg.renderer, cfg.image_size)
    with atomic_path(out) as tmp, Progress() as progress:
        tmp.mkdir(parents=True)
        (tmp / RECORD).write_text(record)
        task = progress.add_task("rendering images", total=len(rows))
        manifest = []
        for split in SPLITS:
            split_rows = [r for r in rows if r["split"] == split]
            samples = []
            for start in range(0, len(split_rows), RENDER_BATCH):
                batch = split_rows[start : start + RENDER_BATCH]
                requests = [RenderRequest(r["caption"], r["seed"], attributes[r["concept_id"]]) for r in batch]
                samples += [Sample(r, im) for r, im in zip(batch, renderer.render(requests), strict=True)]
                progress.advance(task, len(batch))
            manifest += write_split(tmp, split, samples, cfg.shard_size)
        write_manifest(tmp, manifest)
        mark_done(tmp)
    log.info("built %d images of %d concepts into %s", len(rows), len(catalog.concepts), out)
    return out
