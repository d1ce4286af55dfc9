"""Dataset jobs: score-captions, recaption and import (the commands on models are in models.py, export in
data.py)."""

from pathlib import Path
from typing import Annotated

import typer

from cultureclip.cli.common import ConfigOption, Overrides, OverwriteOption, app, command_config, console


@app.command("score-captions")
def score_captions(
    data: Annotated[Path, typer.Argument(help="A dataset folder: built (OUT/data) or imported.")],
    config: ConfigOption = None,
    overrides: Overrides = None,
) -> None:
    """Score each kept row's caption (section `score`): judge-CLIP agreement, coverage of the concept's
    distinguishing details and, with score.rubric, a chat model's rubric; written beside DATA's manifest
    (DATA/scores.parquet, the manifest left as it is) and summarised in its card. Resumable; the same
    settings again do nothing."""
    from cultureclip.builder.recipes.caption_scores import score_dataset

    cfg = command_config(config, overrides, None)
    folder = score_dataset(data, cfg.score, cfg.executor)
    console.print(f"scored: {folder / 'scores.parquet'}, summary in {folder / 'card.md'}")


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

    cfg = command_config(config, overrides, None)
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
            "the stages' executor from sections build and executor: --config paper-build for the reference's "
            "settings)."
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
    cfg = command_config(config, items, None)
    folder = convert(
        splits, out, images, max_side, overwrite=overwrite, build_cfg=cfg.build, executor=cfg.executor,
        render=bool(render), judge=cfg.judge if judge else None,
    )  # fmt: skip
    console.print(f"dataset: {folder}")
