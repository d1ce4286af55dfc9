"""The caption-quality experiment (issue 19), in one command, on the preset `caption-quality`: the same images,
the same base, the same fine-tune steps and seed, trained on captions of graded quality.

1. The world is built once (template captions) into OUT/data and the base trained (towers:lite aligned).
2. Caption variants of those images, each a dataset folder OUT/variants/NAME: `generic`, `no_details`,
   `template`, `wrong_details` (`builder/recipes/caption_variant.py`); `smollm2`: the same world built again with
   SmolLM2-135M writing `--smollm2-captions` captions per concept (its images are checked, by SHA-256, to be
   OUT/data's); `smollm2_recaptioned`: that dataset through `recaption`.
3. Each variant's captions scored as `cultureclip score-captions` does (the preset's scores plus the base as
   judge CLIP, offline); its quality is the mean caption_quality of its train split.
4. One fine-tune per variant from the base, evaluated with the base on OUT/data's held-out split (twin and
   concept accuracy, retrieval, the linear probe fitted on the world's train images) and Fashion-MNIST photos
   (linear probe): OUT/metrics.json and OUT/report.md (deltas against `generic`), and OUT/caption_quality.png,
   model quality against measured caption quality with the 95% intervals.

Prints the bars, the wall and CPU time, and as its last line one JSON object:
{"variants": {NAME: {"quality", "twin_acc", "twin_ci", "linear_probe", "linear_probe_ci", "retrieval_r1",
 "fmnist_linear_probe"}}, "order": [NAMES, lowest to highest intended quality], "spearman": rho}
where retrieval_r1 is the mean of image-to-text and text-to-image R@1 on the held-out split and rho is
Spearman's between quality and twin_acc over the variants (null when either is constant); the concept accuracy
and the rho with the linear probe are printed above it.

    python benchmarks/caption_quality.py [--out DIR] [--smollm2-captions N] [--share S] [key=value ...]
"""

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

ORDER = ("generic", "wrong_details", "no_details", "smollm2", "smollm2_recaptioned", "template")
"""The variants from the lowest to the highest intended caption quality (set before any run): no names;
names with a twin's look in half the captions (wrong is worse than absent); names without the look;
SmolLM2-135M's captions (names, some look, some of it vague or made up), re-captioned; the curated template."""
DETERMINISTIC = ("generic", "no_details", "template", "wrong_details")
FMNIST = "fashion-mnist"
KEYS = ("quality", "twin_acc", "twin_ci", "linear_probe", "linear_probe_ci", "retrieval_r1", "fmnist_linear_probe")


def summary(metrics: dict[str, dict], order: tuple[str, ...] = ORDER) -> dict:
    """The benchmark's JSON from each variant's figures ({name: {"quality", "twin_acc", "twin_ci", ...}}):
    the KEYS rounded, in `order`, with Spearman's rho between quality and twin accuracy."""
    names = [n for n in order if n in metrics]
    variants = {n: {k: _round(metrics[n][k]) for k in KEYS} for n in names}
    return {"variants": variants, "order": names, "spearman": spearman(metrics, names, "twin_acc")}


def spearman(metrics: dict[str, dict], names: list[str], key: str) -> float | None:
    """Spearman's rho between the variants' quality and `key` (None when either is constant)."""
    from scipy.stats import spearmanr

    quality, model = ([metrics[n][k] for n in names] for k in ("quality", key))
    if len(set(quality)) < 2 or len(set(model)) < 2:
        return None
    return _round(float(spearmanr(quality, model).statistic))


def _round(value):
    return [round(v, 4) for v in value] if isinstance(value, list) else round(value, 4)


def bars(result: dict) -> dict[str, bool]:
    """The issue's bars on the world."""
    v = result["variants"]
    generic, template, wrong = v["generic"], v["template"], v["wrong_details"]
    return {
        "twin_acc rises generic -> template, 95% intervals apart": generic["twin_ci"][1] < template["twin_ci"][0],
        "linear_probe rises generic -> template, 95% intervals apart": (
            generic["linear_probe_ci"][1] < template["linear_probe_ci"][0]
        ),
        "wrong_details below template on twin_acc": wrong["twin_acc"] < template["twin_acc"],
        "wrong_details below template on linear_probe": wrong["linear_probe"] < template["linear_probe"],
        "Spearman rho (quality vs twin_acc) > 0": (result["spearman"] or 0) > 0,
    }


def variant_figures(results: dict, quality: float) -> dict:
    """One model's figures from its results ({dataset: {task: TaskResult}}) and its training set's quality."""
    from cultureclip.eval.reports.run import HELD_OUT
    from cultureclip.eval.stats import bootstrap_interval

    held = results[HELD_OUT]
    twins = [r["twin_acc"] for r in held["choice"].records]
    probe = held["linear_probe"].metrics
    r1 = [held["retrieval"].metrics[f"{d}_R@1"] for d in ("image_to_text", "text_to_image")]
    return {
        "quality": quality,
        "twin_acc": held["choice"].metrics["twin_acc"],
        "twin_ci": bootstrap_interval(twins, 1000, 0),
        "linear_probe": probe["probe_acc"],
        "linear_probe_ci": probe["probe_acc_ci95"],
        "retrieval_r1": sum(r1) / 2,
        "fmnist_linear_probe": results[FMNIST]["linear_probe"].metrics["probe_acc"],
        "concept_acc": held["classification"].metrics["top1"],
    }


def plot(result: dict, path: Path) -> None:
    """Twin accuracy and the world's linear probe against measured caption quality, with 95% intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, (key, ci, label) in zip(
        axes,
        (("twin_acc", "twin_ci", "twin accuracy"), ("linear_probe", "linear_probe_ci", "linear probe")),
        strict=True,
    ):
        for name in result["order"]:
            v = result["variants"][name]
            err = [[v[key] - v[ci][0]], [v[ci][1] - v[key]]]
            ax.errorbar(v["quality"], v[key], yerr=err, fmt="o", capsize=4)
            ax.annotate(name, (v["quality"], v[key]), textcoords="offset points", xytext=(5, 5), fontsize=8)
        ax.set(xlabel="mean caption_quality of the training set", ylabel=f"{label} (held-out, 95% CI)")
    fig.suptitle(f"model quality vs measured caption quality (Spearman rho, twin accuracy: {result['spearman']})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def make_variants(cfg, out: Path, smollm2_captions: int, share: float) -> dict[str, Path]:
    """The variant dataset folders of OUT/data's images (see the module docstring, step 2)."""
    from cultureclip.builder.recipes.caption_variant import write_caption_variant
    from cultureclip.builder.recipes.recaption import recaption_dataset
    from cultureclip.catalog.select import dataset_catalog

    catalog = dataset_catalog(cfg.catalog, cfg.build.catalog)
    concepts = {c.id: c.model_dump(exclude={"attributes"}) for c in catalog.concepts}
    root, shard = out / "variants", cfg.build.shard_size
    folders = {
        n: write_caption_variant(out / "data", root / n, n, concepts, shard, share, cfg.seed) for n in DETERMINISTIC
    }
    folders["smollm2"] = _smollm2_build(cfg, out, root / "smollm2", smollm2_captions)
    folders["smollm2_recaptioned"] = recaption_dataset(
        folders["smollm2"], root / "smollm2_recaptioned", cfg.recaption, cfg.score, cfg.executor, cfg.model.name
    )
    return folders


def _smollm2_build(cfg, out: Path, folder: Path, per_concept: int) -> Path:
    """The world built again into `folder` with the re-caption model writing `per_concept` captions per
    concept; refused unless its images are OUT/data's, key for key."""
    from cultureclip.builder import pipeline
    from cultureclip.builder.recipes import BUILD_RECIPES
    from cultureclip.data.shards import read_manifest

    captions = cfg.build.catalog.captions.model_copy(update={"generator": cfg.recaption.generator})
    recipe = cfg.build.catalog.model_copy(update={"captions": captions, "captions_per_concept": per_concept})
    build = cfg.build.model_copy(update={"catalog": recipe})
    job = pipeline.BuildJob(build, cfg.seed, cfg.model.name, cfg.catalog, cfg.executor)
    pipeline.build(BUILD_RECIPES.create("catalog"), job, folder)
    images = [{r["key"]: r["sha256"] for r in read_manifest(f) if r.get("shard")} for f in (out / "data", folder)]
    if images[0] != images[1]:
        raise SystemExit(f"{folder}: its images are not those of {out / 'data'}")
    return folder


def score_quality(cfg, folders: dict[str, Path], judge: str) -> dict[str, float]:
    """Each variant's mean caption_quality over its train split, scored with `judge` as the judge CLIP."""
    from cultureclip.builder.recipes.caption_scores import score_dataset
    from cultureclip.data.finished import scored_rows

    score = cfg.score.model_copy(update={"judge": judge})
    quality = {}
    for name, folder in folders.items():
        rows = scored_rows(score_dataset(folder, score, cfg.executor))
        values = [r["caption_quality"] for r in rows if r["split"] == "train" and r["caption_quality"] is not None]
        quality[name] = sum(values) / len(values)
    return quality


def experiment(cfg, out: Path, smollm2_captions: int, share: float) -> tuple[dict, dict[str, float]]:
    """Build, train the base, make and score the variants, fine-tune and evaluate; the summary and the
    seconds of each step."""
    from cultureclip import run

    seconds, start = {}, time.perf_counter()

    def lap(step: str) -> None:
        seconds[step] = time.perf_counter() - start - sum(seconds.values())

    with run.run_folder(cfg, "caption-quality"):
        return _steps(cfg, out, smollm2_captions, share, lap), seconds


def _steps(cfg, out: Path, smollm2_captions: int, share: float, lap) -> tuple[dict, dict]:
    """The experiment's steps (`lap` after each); the summary and every variant's figures."""
    from cultureclip import run

    run.build(cfg, out)
    base = run.train_model(cfg, out, cfg.model.name, cfg.pretrain, cfg.seed, "base")
    lap("build and base")
    folders = make_variants(cfg, out, smollm2_captions, share)
    lap("variants")
    quality = score_quality(cfg, folders, base)
    lap("scores")
    models = {"base": base}
    for name, folder in folders.items():
        models[name] = run.train_model(cfg, out, base, cfg.finetune, cfg.seed + 1, name, folder)
    lap("fine-tunes")
    comparison = run.evaluate_models(cfg, out, models)
    lap("eval")
    figures = {n: variant_figures(comparison.results[n], quality[n]) for n in folders}
    result = summary(figures)
    plot(result, out / "caption_quality.png")
    return result, figures


def main(argv: list[str] | None = None) -> dict:
    from cultureclip.config import load_config

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="run folder (default: a new temporary folder)")
    parser.add_argument("--smollm2-captions", type=int, default=1, help="SmolLM2 captions per concept (default 1)")
    parser.add_argument("--share", type=float, default=0.5, help="wrong_details: share of rows given a twin's look")
    parser.add_argument("overrides", nargs="*", help="config overrides, as for cultureclip run")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="caption-quality-")) / "run"
    cfg = load_config("caption-quality", args.overrides).model_copy(update={"out": out})
    start = time.perf_counter()
    (result, figures), seconds = experiment(cfg, out, args.smollm2_captions, args.share)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"run folder: {out} (report: {out / 'report.md'}, plot: {out / 'caption_quality.png'})")
    print("steps: " + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items()))
    print(
        f"wall {wall:.0f} s ({wall / 60:.1f} min), CPU {usage.ru_utime + usage.ru_stime:.0f} s "
        f"on {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"
    )
    for name in result["order"]:
        v = result["variants"][name]
        print(
            f"{name:20s} quality {v['quality']:.3f}  twin {v['twin_acc']:.3f} {v['twin_ci']}  "
            f"probe {v['linear_probe']:.3f} {v['linear_probe_ci']}  R@1 {v['retrieval_r1']:.3f}  "
            f"fmnist probe {v['fmnist_linear_probe']:.3f}  concept {figures[name]['concept_acc']:.3f}"
        )
    print(f"Spearman rho, quality vs linear_probe: {spearman(figures, result['order'], 'linear_probe')}")
    for bar, met in bars(result).items():
        print(f"{'met' if met else 'NOT met'}: {bar}")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
