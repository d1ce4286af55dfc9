"""Tool commands: the paper's benchmarks, WiSE-FT export, importers, dataset exports."""

from pathlib import Path
from typing import Annotated

import typer

from cultureclip.cli.common import ConfigOption, Overrides, OverwriteOption, _config, app, console


@app.command()
def bench(
    name: Annotated[
        str,
        typer.Argument(help="crope, cvqa, cvqa_local, dollar_street, geode, globalrg_grounding or globalrg_retrieval."),
    ],
    root: Annotated[
        Path | None,
        typer.Option(
            help="Local copy of the benchmark's release (default: the hub's copy, downloaded once into the "
            "Hugging Face cache; geode and dollar_street need it)."
        ),
    ] = None,
    model: Annotated[str | None, typer.Option(help="Model id (default: model.name of the config).")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Folder for results.jsonl + summary.json.")] = None,
    config: ConfigOption = None,
    overrides: Overrides = None,
) -> None:
    """Run a benchmark by name with its published protocol (section `bench`: seed, batch size): the evaluator's
    `choice` task (classification for geode and dollar_street) on the dataset kind NAME, written as the
    benchmark's results.jsonl + summary.json."""
    from cultureclip.eval.bench import run_benchmark

    cfg = _config(config, overrides, None)
    summary = run_benchmark(name, root, model or cfg.model.name, cfg.bench, cfg.eval, cfg.model.device, out)
    console.print(f"{name}: accuracy {summary['accuracy']:.4f} ({summary['correct']}/{summary['questions']})")


@app.command("wise")
def wise_export(
    base: Annotated[str, typer.Option(help="Model id of the starting model, e.g. open_clip:ViT-B-32@openai.")],
    tuned: Annotated[str, typer.Option(help="Model id of its fine-tuned version (LoRA is merged first).")],
    alpha: Annotated[float, typer.Option(help="Mixing weight: 0 is the base model, 1 the tuned one.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the interpolated checkpoint.")],
    overwrite: OverwriteOption = False,
) -> None:
    """WiSE-FT: write the checkpoint (1-alpha)*base + alpha*tuned, loadable as local:OUT."""
    from cultureclip.backends.clip import create_clip
    from cultureclip.io import claim_output
    from cultureclip.wise import export_wise

    claim_output(out, "wise", overwrite)  # before the models load
    folder = export_wise(create_clip(base), create_clip(tuned), alpha, out, {"base": base, "tuned": tuned}, overwrite)
    console.print(f"model: local:{folder}")


@app.command("score-captions")
def score_captions(
    data: Annotated[Path, typer.Argument(help="A dataset folder: built (OUT/data) or imported.")],
    config: ConfigOption = None,
    overrides: Overrides = None,
) -> None:
    """Score each kept row's caption (section `score`): judge-CLIP agreement, coverage of the concept's
    distinguishing details and, with score.rubric, a chat model's rubric; written into DATA's manifest and
    summarised in its card. Resumable; the same settings again do nothing."""
    from cultureclip.builder.recipes.caption_scores import score_dataset

    cfg = _config(config, overrides, None)
    folder = score_dataset(data, cfg.score, cfg.executor)
    console.print(f"scored: {folder / 'manifest.parquet'}, summary in {folder / 'card.md'}")


@app.command()
def recaption(
    data: Annotated[Path, typer.Argument(help="A dataset folder: built (OUT/data) or imported.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Dataset folder to write, with the new captions.")],
    config: ConfigOption = None,
    overrides: Overrides = None,
) -> None:
    """Rewrite DATA's captions whose caption_quality is below recaption.below with the chat model
    recaption.generator, told why they scored low; keep a rewrite only if it scores higher (section `score`).
    Writes a new dataset OUT with the original, the rewrite and both scores per row. Resumable."""
    from cultureclip.builder.recipes.recaption import recaption_dataset

    cfg = _config(config, overrides, None)
    folder = recaption_dataset(data, out, cfg.recaption, cfg.score, cfg.executor, cfg.model.name)
    console.print(f"dataset: {folder} (summary in {folder / 'card.md'})")


import_app = typer.Typer(help="Import a published dataset in its own layout into a cultureclip dataset folder.")
app.add_typer(import_app, name="import")


@import_app.command("cultwin")
def import_cultwin(
    train: Annotated[Path, typer.Argument(help="The release's training rows (.json list or .jsonl).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Dataset folder to write (shards + manifest).")],
    test: Annotated[Path | None, typer.Option(help="Held-out rows (the release's _valid file), split 'test'.")] = None,
    images: Annotated[
        Path | None,
        typer.Option(
            help="Folder of the images, when the rows' paths do not resolve beside the file. A row's image path never "
            "leads out of this folder (without it: the file's folder); --images / allows any path."
        ),
    ] = None,
    max_side: Annotated[int | None, typer.Option(min=16, help="Shrink larger images to this longest side.")] = None,
    overwrite: OverwriteOption = False,
    render: Annotated[
        str | None,
        typer.Option(
            help="Render the images that are not there (the release has none) with this image generator, e.g. "
            "diffusers:stabilityai/stable-diffusion-3.5-large-turbo (build.renderer; size, steps, guidance and "
            "executor from the config's build section: --config paper-build for the reference's settings)."
        ),
    ] = None,
    judge: Annotated[
        str | None,
        typer.Option(
            help="Score every image with this vision-language judge and keep those that pass the reference's "
            "rule (section judge: model, prompts, fail_score, pass_mean), e.g. "
            "transformers:Qwen/Qwen2.5-VL-7B-Instruct."
        ),
    ] = None,
    config: ConfigOption = None,
    overrides: Overrides = None,
) -> None:
    """Convert the authors' CulTwin twin-pair rows and images into our format, ready for `train`; with
    --render, render the images first, with --judge, keep those the judge passes (both resumable: a killed
    import renders and asks nothing twice)."""
    from cultureclip.builder.recipes.cultwin import import_cultwin as convert

    splits = {"train": train} | ({"test": test} if test else {})
    items = [*(overrides or [])]
    items += [f"build.renderer={render}"] if render else []
    items += [f"judge.model.name={judge}"] if judge else []
    cfg = _config(config, items, None)
    folder = convert(
        splits, out, images, max_side, overwrite=overwrite, build_cfg=cfg.build, executor=cfg.executor,
        render=bool(render), judge=cfg.judge if judge else None,
    )  # fmt: skip
    console.print(f"dataset: {folder}")


export_app = typer.Typer(help="Write a dataset in another tool's own layout.")
app.add_typer(export_app, name="export")


@export_app.command("clip-benchmark")
def export_clip_benchmark(
    data: Annotated[
        str, typer.Argument(help="Dataset: KIND:PATH as for `eval --data`, or a built dataset's folder (shards).")
    ],
    out: Annotated[
        Path, typer.Argument(help="Folder for the CLIP_benchmark dataset roots (classification, retrieval).")
    ],
    split: Annotated[str, typer.Option(help="The split to export.")] = "test",
    template: Annotated[
        list[str] | None, typer.Option(help="Prompt template with {c} (repeatable); default: the dataset's.")
    ] = None,
) -> None:
    """Write a dataset split in CLIP_benchmark's wds layout: OUT/classification (png + cls shards, classnames.txt,
    zeroshot_classification_templates.txt) and OUT/retrieval (png + txt captions), whichever the data has."""
    from cultureclip.config import DatasetSpec
    from cultureclip.eval.clip_benchmark import export_clip_benchmark as export
    from cultureclip.eval.runner import parse_data

    spec = parse_data(data) if ":" in data else DatasetSpec(kind="shards", path=Path(data))
    roots = export(spec.model_copy(update={"split": split, "templates": template or None}), out)
    recall = {"retrieval": " --recall_k 1 5 10"}  # our evaluator's ks (CLIP_benchmark's default: 5)
    for task, root in roots.items():
        console.print(
            f"{task}: clip_benchmark eval --dataset wds/{out.name} --dataset_root {root} --split {split} "
            f"--task zeroshot_{task}{recall.get(task, '')} --no_amp --model_type open_clip --model local-dir:MODEL "
            "--pretrained ''",
            soft_wrap=True,  # one line to copy
        )
