"""The catalogue commands: check, twins, expand, stats (none of them imports torch unless a model is used)."""

import json
from pathlib import Path
from typing import Annotated

import typer

from cultureclip.catalog import jobs as catalog_jobs
from cultureclip.cli.common import ConfigOption, Overrides, OverwriteOption, app, console
from cultureclip.config import RunConfig, load_config

catalog_app = typer.Typer(help="The concept catalogue: check it, mine twins, expand it, count it.")
app.add_typer(catalog_app, name="catalog")
CatalogOption = Annotated[
    Path | None,
    typer.Option("--catalog", help="Catalogue file (YAML, JSON lines, CSV); sets catalog.path (default: shipped)."),
]


def _catalog_config(config: str | None, catalog: Path | None, overrides: list[str] | None) -> RunConfig:
    items = list(overrides or [])
    if catalog is not None:
        items.append(f"catalog.path={catalog}")
    return load_config(config, items)


@catalog_app.command("check")
def catalog_check(
    file: Annotated[Path | None, typer.Argument(help="Catalogue file to check (default: the configured one).")] = None,
    config: ConfigOption = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="key=value config override.")] = None,
) -> None:
    """Check a catalogue: one line per problem (file, row, field, what was expected); exit 1 if any.

    With catalog.mode=extend the file is checked together with the shipped catalogue it extends.
    """
    cfg = _catalog_config(config, file, overrides)
    problems = catalog_jobs.check_catalog(cfg)
    for line in problems:
        typer.echo(line)
    source = cfg.catalog.path or "the shipped catalogue"
    console.print(f"{source}: {len(problems)} problem(s)" if problems else f"{source}: ok")
    if problems:
        raise typer.Exit(1)


@catalog_app.command("twins")
def catalog_twins(
    out: Annotated[Path, typer.Option("--out", "-o", help="JSON lines output: one line per concept.")],
    catalog: CatalogOption = None,
    k: Annotated[int | None, typer.Option("--k", help="Neighbours per concept (mining.k).")] = None,
    config: ConfigOption = None,
    overrides: Overrides = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Mine look-alikes from other cultures: top K per concept into OUT, twin groups next to the catalogue
    (for the shipped catalogue, next to OUT: nothing is written into the installed package)."""
    cfg = _catalog_config(config, catalog, [*(overrides or []), *([f"mining.k={k}"] if k else [])])
    groups_file, mined = catalog_jobs.mine_catalog_twins(cfg, out, overwrite=overwrite)
    curated = sum(g["curated"] for g in mined.groups)
    console.print(f"{len(mined.neighbours)} concepts: {out}")
    console.print(f"{curated} curated and {len(mined.groups) - curated} mined twin groups: {groups_file}")


@catalog_app.command("expand")
def catalog_expand(
    category: Annotated[str, typer.Option("--category", help="Category of the new concepts.")],
    culture: Annotated[str, typer.Option("--culture", help="Culture of the new concepts.")],
    catalog: CatalogOption = None,
    config: ConfigOption = None,
    overrides: Overrides = None,
) -> None:
    """Ask a text generator (expand.generator) for new concepts; keep the valid ones in expand.out."""
    cfg = _catalog_config(config, catalog, overrides)
    out, added, rejected = catalog_jobs.expand_catalog(cfg, category, culture)
    for line in rejected:
        console.print(f"rejected: {line}", highlight=False, soft_wrap=True)
    console.print(f"{len(added)} new concept(s) added to {out}; {len(rejected)} rejection(s)")


@catalog_app.command("stats")
def catalog_stats(
    catalog: CatalogOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    config: ConfigOption = None,
    overrides: Overrides = None,
) -> None:
    """Count concepts, cultures, categories, twin groups (curated and mined), curated twin groups, and native
    names and their languages."""
    counts = catalog_jobs.stats_of_catalog(_catalog_config(config, catalog, overrides))
    typer.echo(json.dumps(counts) if as_json else "\n".join(f"{k}: {v}" for k, v in counts.items()))
