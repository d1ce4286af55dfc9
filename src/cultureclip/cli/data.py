"""Dataset commands: export a dataset into another tool's layout."""

from pathlib import Path
from typing import Annotated

import typer

from cultureclip.cli.common import app, console

export_app = typer.Typer(help="Write a dataset in another tool's own layout.")
app.add_typer(export_app, name="export")


@export_app.command("clip-benchmark")
def export_clip_benchmark(
    data: Annotated[
        str, typer.Argument(help="Dataset: KIND:PATH as for `compare --data`, or a built dataset's folder (shards).")
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
