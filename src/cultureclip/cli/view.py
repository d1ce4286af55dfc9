"""`cultureclip view DATA`: a static HTML site of a dataset, to look at its twin groups in a browser."""

from pathlib import Path
from typing import Annotated

import typer

from cultureclip.cli.common import ConfigOption, Overrides, OverwriteOption, app, console


@app.command()
def view(
    data: Annotated[Path, typer.Argument(help="A dataset folder: built (OUT/data) or imported.")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Folder for the site (default: DATA's sibling DATA-view).")
    ] = None,
    overwrite: OverwriteOption = False,
    config: ConfigOption = None,
    overrides: Overrides = None,
) -> None:
    """Write a static, self-contained HTML site of DATA (section `view`): an index of its twin groups with
    counts and filters, and a page per twin group with its concepts' images side by side, their captions,
    scores, judge verdicts and, for rejected rows, the reason. Open OUT/index.html in a browser."""
    from cultureclip.config import load_config
    from cultureclip.view.site import write_view

    data = Path(data)
    site = out or data.resolve().with_name(f"{data.resolve().name}-view")
    summary = write_view(data, site, load_config(config, overrides or []).view, overwrite)
    console.print(
        f"view: {site / 'index.html'} ({summary['images']} images, {summary['groups']} twin groups, "
        f"{summary['pages']} group pages)"
    )
