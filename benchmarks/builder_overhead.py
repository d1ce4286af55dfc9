"""Builder orchestration overhead: the builder vs calling the same generator backends in a plain loop.

Backends of a fixed, known cost (`fixed:SECONDS`: a text generator and an image generator that wait a
fixed time per item) make the backends' work the same in every arm. Arms, in one run:
  direct  the backends called in a loop (captions in batches, then images in chunks), nothing saved
  local   the builder (`run_job.build`) with the local executor: stages, saved chunks, shards, manifest, card
  ray     the same with `executor=ray`, on a local Ray cluster already started (actor start-up counted)
Prints each arm's rows/s and the ratio builder/direct; the target is >= 0.90 for local and for Ray.

    python benchmarks/builder_overhead.py [--text-cost 0.05] [--image-cost 0.03] [--groups 27]
"""

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

from cultureclip import run as run_job
from cultureclip.backends.chat import create_chat_model
from cultureclip.backends.image.base import RenderRequest, create_image_generator
from cultureclip.builder.rows import plan_rows
from cultureclip.builder.stages.captions import caption_rows
from cultureclip.catalog.select import dataset_catalog
from cultureclip.config import load_config

PROMPTS = """version: echo-v1
styles:
  short: "A photo of {name}, {a} {generic} from {culture}."
reask: "{prompt}"
"""


def direct(cfg, catalog, seed: int, chunk_rows: int) -> int:
    """The backends alone: every caption, then every image, in the builder's batch sizes."""
    recipe = cfg.catalog
    text = create_chat_model(recipe.captions.generator)
    images = create_image_generator(cfg.renderer, cfg.image_size, cfg.images)
    units = caption_rows(catalog, recipe.captions, recipe.captions_per_concept)
    prompts = [f"A photo of {u['name']}, a {u['generic']} from {u['culture']}." for u in units]
    size = recipe.captions.generator.batch_size
    texts = [t for i in range(0, len(prompts), size) for t in text.generate(prompts[i : i + size])]
    captions = {c.id: [] for c in catalog.concepts}
    for unit, caption in zip(units, texts, strict=True):
        captions[unit["id"]].append({"caption": caption})
    rows = plan_rows(catalog, captions, {"train": recipe.train_images, "test": recipe.test_images}, seed)
    requests = [RenderRequest(r["caption"], r["seed"]) for r in rows]
    for i in range(0, len(requests), chunk_rows):
        images.render(requests[i : i + chunk_rows])
    return len(rows)


def import_libraries() -> None:
    """Import what the builder uses before timing: a one-off import is not orchestration overhead."""
    import open_clip  # noqa: F401  (the caption rules' tokenizer)
    import pyarrow.parquet  # noqa: F401
    import webdataset  # noqa: F401


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--text-cost", type=float, default=0.05, help="seconds per caption")
    parser.add_argument("--image-cost", type=float, default=0.03, help="seconds per image")
    parser.add_argument("--groups", type=int, default=27, help="twin groups of the offline world")
    parser.add_argument("--ray-workers", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="builder-overhead-"))
    (work / "prompts.yaml").write_text(PROMPTS)
    captions = f"{{generator: {{name: 'fixed:{args.text_cost}'}}, prompts: '{work / 'prompts.yaml'}', styles: [short]}}"
    overrides = [f"build.catalog.max_groups={args.groups}", f"build.renderer=fixed:{args.image_cost}"]
    overrides.append(f"build.catalog.captions={captions}")
    cfg = load_config(None, overrides)
    import_libraries()
    catalog = dataset_catalog(cfg.catalog, cfg.build.catalog)
    seconds, rows = {}, 0
    start = time.perf_counter()
    rows = direct(cfg.build, catalog, cfg.seed, cfg.executor.chunk_rows)
    seconds["direct"] = time.perf_counter() - start
    for arm, extra in [("local", []), ("ray", ["executor.kind=ray", f"executor.ray_workers={args.ray_workers}"])]:
        arm_cfg = load_config(None, overrides + extra)
        if arm == "ray":
            import ray

            ray.init(include_dashboard=False, log_to_driver=False)  # the cluster's start is not the builder's
        start = time.perf_counter()
        out = run_job.build(arm_cfg, work / arm)
        seconds[arm] = time.perf_counter() - start
        assert json.loads((out / "card.json").read_text())["status"] == {"kept": rows}
    backend_seconds = (
        len(catalog.concepts) * cfg.build.catalog.captions_per_concept * args.text_cost
    ) + rows * args.image_cost
    print(
        f"{rows} images, {len(catalog.concepts) * cfg.build.catalog.captions_per_concept} captions; "
        f"backend cost {backend_seconds:.1f} s"
    )
    for arm, s in seconds.items():
        print(f"{arm:>6}: {s:7.1f} s  {rows / s:7.1f} rows/s  ratio to direct {seconds['direct'] / s:.3f}")
    print(
        json.dumps(
            {
                "ratio_local": round(seconds["direct"] / seconds["local"], 3),
                "ratio_ray": round(seconds["direct"] / seconds["ray"], 3),
            }
        )
    )


if __name__ == "__main__":
    main()
