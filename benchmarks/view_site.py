"""`cultureclip view` at 1x and 16x the default run's data: how big is the site per 1,000 images, how long
does it take to write, and does its memory grow with the data?

1x is the default config's dataset (`cultureclip build`, or `--data` to reuse one); each larger size is
that dataset's samples written again that many times over, each copy as new twin groups (keys, concept
ids and twin groups suffixed), so the index pages over size x the groups. Each site is written by
`cultureclip view` in a fresh process: its wall time measured from outside, its peak RSS (VmHWM) by itself.

    python benchmarks/view_site.py [--sizes 1 16] [--data DATA]

Prints a line per size, the ratio of seconds per 1,000 images and of peak RSS at the largest size against
the smallest, and as its last line a JSON object: {"sizes", "images", "site_mib", "files",
"mib_per_1000_images", "seconds", "seconds_per_1000_images", "peak_rss_mib", "load_average"}.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def default_data(root: Path) -> Path:
    """The default run's dataset, built into `root`."""
    from cultureclip.cli import main

    if main(["build", "--out", str(root / "run")]) != 0:
        raise SystemExit("cultureclip build failed")
    return root / "run" / "data"


def replicated(data: Path, copies: int, folder: Path) -> Path:
    """`data`'s samples written `copies` times (copy k's keys, concept ids and twin groups suffixed `-k`),
    streamed one sample at a time."""
    from cultureclip.data.shards import Sample, iter_split, read_manifest, write_manifest, write_split

    splits = sorted({r["split"] for r in read_manifest(data) if r.get("shard")})
    folder.mkdir(parents=True)
    rows, first = [], 0
    for split in splits:
        for k in range(copies):

            def samples(k=k, split=split):
                for row, png in iter_split(data, split):
                    renamed = {f: f"{row[f]}-{k}" for f in ("key", "concept_id", "twin_group") if row.get(f)}
                    yield Sample(row | renamed, png)

            written = write_split(folder, split, samples(), shard_size=1000, first_shard=first)
            first += len({r["shard"] for r in written})
            rows += written
    write_manifest(folder, rows)
    return folder


CHILD = (
    "import sys; from cultureclip.cli import main; code = main(sys.argv[1:]); "
    "print(next(line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM:'))); sys.exit(code)"
)
"""`cultureclip view` in-process, then its peak RSS in KiB: VmHWM counts this process's own pages only (the
rusage of a child started by vfork or fork also counts the parent's peak before the exec)."""


def measure(data: Path, site: Path) -> dict:
    """Write the site of `data` with `cultureclip view` in a fresh process: wall seconds, peak RSS, bytes."""
    start = time.perf_counter()
    child = subprocess.run(
        [sys.executable, "-c", CHILD, "view", str(data), "--out", str(site)], stdout=subprocess.PIPE, text=True
    )
    seconds = time.perf_counter() - start
    if child.returncode:
        raise SystemExit(f"cultureclip view {data} failed (status {child.returncode})")
    files = [p for p in site.rglob("*") if p.is_file()]
    return {
        "seconds": seconds,
        "peak_rss_mib": int(child.stdout.split()[-1]) / 1024,
        "site_mib": sum(p.stat().st_size for p in files) / 2**20,
        "files": len(files),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--data", type=Path, help="The default run's dataset, if built already.")
    args = parser.parse_args()
    from cultureclip.data.shards import read_manifest

    report: dict = {"sizes": args.sizes}
    with tempfile.TemporaryDirectory(prefix="view-bench-") as tmp:
        root = Path(tmp)
        base = args.data or default_data(root)
        for size in args.sizes:
            data = base if size == 1 else replicated(base, size, root / f"data-{size}x")
            images = sum(bool(r.get("shard")) for r in read_manifest(data))
            result = measure(data, root / f"site-{size}x")
            per = {"mib_per_1000_images": result["site_mib"] * 1000 / images}
            per["seconds_per_1000_images"] = result["seconds"] * 1000 / images
            for key, value in {"images": images, **result, **per}.items():
                report.setdefault(key, []).append(value)
            print(
                f"{size}x: {images} images, site {result['site_mib']:.1f} MiB in {result['files']} files "
                f"({per['mib_per_1000_images']:.2f} MiB per 1,000 images), written in {result['seconds']:.1f} s "
                f"({per['seconds_per_1000_images']:.2f} s per 1,000 images), peak RSS {result['peak_rss_mib']:.0f} MiB"
            )
    first, last = 0, len(args.sizes) - 1
    print(
        f"{args.sizes[last]}x against {args.sizes[first]}x: seconds per 1,000 images "
        f"{report['seconds_per_1000_images'][last] / report['seconds_per_1000_images'][first]:.2f}x, "
        f"peak RSS {report['peak_rss_mib'][last] / report['peak_rss_mib'][first]:.2f}x"
    )
    report["load_average"] = os.getloadavg()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
