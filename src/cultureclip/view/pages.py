"""The HTML of the view's pages. One escaping rule: every value from the data goes through `esc`
(`html.escape`, quotes included) and appears only as text or inside a double-quoted attribute; the only
URLs are the site's own relative paths (pages and thumbnails, named by number, never by data)."""

import html
import json
from collections.abc import Sequence

from cultureclip.data.shards import LOCATION
from cultureclip.view.thumbs import thumb_path

CONCEPT_FIELDS = ("name", "culture", "category", "generic", "distinguishing", "context", "twin_ids")
"""Fields shown once per concept, in its column's header."""
HIDDEN = {*LOCATION, *CONCEPT_FIELDS, "concept_id", "twin_group", "key", "caption", "status", "reason", "source"}
"""Fields not repeated in a row's details (shown elsewhere, or where the bytes lie)."""
STYLESHEET = "view.css"


def esc(value: object) -> str:
    """The one escaping rule: any value as text, HTML-escaped (lists joined with commas, dicts as JSON)."""
    if isinstance(value, float):
        text = f"{value:.3g}"
    elif isinstance(value, list | tuple):
        text = ", ".join(str(v) for v in value)
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(value)
    return html.escape(text, quote=True)


def document(title: str, body: str, root: str = "", scripts: Sequence[str] = ()) -> str:
    """A whole page; `root` is the relative path from the page to the site's top folder."""
    tags = "".join(f'<script src="{root}{s}"></script>' for s in scripts)
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<link rel="stylesheet" href="{root}{STYLESHEET}"></head><body>{body}{tags}</body></html>\n'
    )


def group_page(name: str, concepts: list[list[tuple[int, dict]]], page: int, pages: list[str], counts: str) -> str:
    """Page `page` of a twin group: a column per concept (each a list of (manifest index, row)), side by side."""
    nav = _pager(pages, page)
    columns = "".join(_concept(rows) for rows in concepts)
    body = (
        f'<p><a href="../index.html">all twin groups</a></p><h1>Twin group: {esc(name)}</h1>'
        f'<p class="counts">{counts}</p>{nav}'
        f'<div class="twins" style="grid-template-columns:repeat({len(concepts)},minmax(220px,1fr))">'
        f"{columns}</div>{nav}"
    )
    return document(f"{name} - twin group", body, root="../")


def _concept(rows: list[tuple[int, dict]]) -> str:
    first = rows[0][1] if rows else {}
    about = " · ".join(esc(first[f]) for f in ("culture", "category", "generic") if first.get(f))
    extra = "".join(
        f'<p class="{f}"><b>{"twins" if f == "twin_ids" else f}:</b> {esc(first[f])}</p>'
        for f in ("distinguishing", "context", "twin_ids")
        if first.get(f)
    )
    cards = "".join(_card(index, row) for index, row in rows)
    head = f'<h2>{esc(first.get("name") or first.get("concept_id") or "?")}</h2><p class="about">{about}</p>'
    return f'<section class="concept">{head}{extra}{cards}</section>'


def _card(index: int, row: dict) -> str:
    status = row.get("status") or "kept"
    if row.get("shard"):
        image = f'<img src="../{thumb_path(index)}" alt="{esc(row.get("name") or "")}" loading="lazy">'
    else:
        image = '<div class="noimage">no image</div>'
    reason = f'<p class="reason"><b>{esc(status)}:</b> {esc(row["reason"])}</p>' if row.get("reason") else ""
    caption = f'<p class="caption">{esc(row["caption"])}</p>' if row.get("caption") else ""
    details = "".join(
        f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in row.items() if k not in HIDDEN and v not in (None, "", [])
    )
    return (
        f'<figure class="row" data-status="{esc(status)}">{image}<figcaption>'
        f'<p class="status {esc(status)}">{esc(status)} · {esc(row.get("source") or "")}</p>'
        f"{reason}{caption}<dl>{details}</dl></figcaption></figure>"
    )


def _pager(pages: list[str], page: int) -> str:
    if len(pages) < 2:
        return ""
    links = "".join(f"<b>{k + 1}</b>" if k == page else f'<a href="{p}">{k + 1}</a>' for k, p in enumerate(pages))
    return f'<nav class="pager">pages: {links}</nav>'


def counts_table(title: str, counts: dict[str, tuple[int, int]]) -> str:
    """A table of {value: (rows, images)}, the value's rows of the manifest and its images in the shards."""
    body = "".join(
        f"<tr><td>{esc(k)}</td><td>{rows}</td><td>{images}</td></tr>" for k, (rows, images) in counts.items()
    )
    return f"<table><tr><th>{esc(title)}</th><th>rows</th><th>images</th></tr>{body}</table>"
