"""`cultureclip view DATA`: a static, self-contained HTML site of a dataset (any recipe or import).

index.html lists the twin groups with counts per culture and category and filters (culture, category,
status, source, a score's range) applied in the browser over `data.js` (the rows' fields, as compact
columns); it shows one page of groups at a time, so a 100k-image dataset opens fast. Each twin group has
its own pages (`g/NNNNN.html`): its concepts side by side with their images' thumbnails (`t/`), captions,
status, the reason of rejected rows, and every other field of the row (scores, judge verdicts).
"""

import json
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from cultureclip.config import ViewConfig
from cultureclip.data.finished import scored_rows
from cultureclip.data.shards import LOCATION, MANIFEST
from cultureclip.data.tables import read_table
from cultureclip.io import atomic_path, claim_output, mark_done
from cultureclip.view.pages import counts_table, document, esc, group_page
from cultureclip.view.thumbs import write_thumbnails

FILTERS = ("culture", "category", "status", "source")
NOT_SCORES = {*LOCATION, "seed"}
"""Numeric fields that are not scores (every other one can be filtered by range)."""
MAKER = "view"


@dataclass
class Group:
    name: str
    concepts: dict[str, list[int]]
    """Manifest row indices per concept (first-seen order)."""


def write_view(data: Path, out: Path, cfg: ViewConfig, overwrite: bool = False) -> dict:
    """Write the site of the dataset folder `data` into `out` (whole or not at all); returns its summary
    {rows, images, groups, pages}."""
    data, out = Path(data), Path(out)
    rows = scored_rows(data)  # with the caption scores beside the manifest, where it was scored
    claim_output(out, MAKER, overwrite)
    fallback = _source_fallback(data)
    for row in rows:
        row["status"] = row.get("status") or "kept"
        row["source"] = row.get("source") or fallback
    groups = group_rows(rows)
    with atomic_path(out) as site:
        site.mkdir()
        images = write_thumbnails(data, enumerate(rows), site, cfg.thumb_size, cfg.thumb_quality)
        pages = [_write_group(site, k, g, rows, cfg.images_per_concept) for k, g in enumerate(groups)]
        _write_index(site, data, rows, groups, pages, cfg)
        for name in ("view.css", "view.js"):
            (site / name).write_bytes(resources.files("cultureclip.view").joinpath("static", name).read_bytes())
        mark_done(site, MAKER)
    return {"rows": len(rows), "images": images, "groups": len(groups), "pages": sum(len(p) for p in pages)}


def group_rows(rows: list[dict]) -> list[Group]:
    """The twin groups of the manifest's rows, in first-seen order (a row without a twin group is its
    concept's own group)."""
    groups: dict[str, Group] = {}
    for i, row in enumerate(rows):
        concept = row.get("concept_id") or row.get("name") or row.get("key") or f"row {i}"
        name = row.get("twin_group") or concept
        groups.setdefault(name, Group(name, {})).concepts.setdefault(concept, []).append(i)
    return list(groups.values())


def _source_fallback(data: Path) -> str:
    """Where rows that do not name their image's source got it: the builder's renderer, when the card names one."""
    card = data / "card.json"
    models = json.loads(card.read_text()).get("models", {}) if card.is_file() else {}
    return "rendered" if models.get("renderer") else "not recorded"


def _write_group(site: Path, number: int, group: Group, rows: list[dict], per_page: int) -> list[str]:
    """The pages of one twin group (each a slice of `per_page` rows of every concept); their paths under site."""
    longest = max(len(members) for members in group.concepts.values())
    names = [f"{number:05d}.html"] + [f"{number:05d}-{p + 1}.html" for p in range(1, -(-longest // per_page))]
    status = Counter(rows[i]["status"] for members in group.concepts.values() for i in members)
    counts = f"{len(group.concepts)} concepts; rows: " + ", ".join(f"{esc(k)} {v}" for k, v in sorted(status.items()))
    (site / "g").mkdir(exist_ok=True)
    for page, name in enumerate(names):
        chunk = slice(page * per_page, (page + 1) * per_page)
        concepts = [[(i, rows[i]) for i in members[chunk]] for members in group.concepts.values()]
        (site / "g" / name).write_text(group_page(group.name, concepts, page, names, counts))
    return [f"g/{n}" for n in names]


def _write_index(
    site: Path, data: Path, rows: list[dict], groups: list[Group], pages: list[list[str]], cfg: ViewConfig
) -> None:
    """index.html (counts, the filters' form, the left-out rows) and data.js (what its script filters)."""
    tables = "".join(counts_table(field, _counts(rows, field)) for field in ("culture", "category"))
    body = (
        f"<h1>Dataset: {esc(data.resolve().name)}</h1>"
        f"<p>{len(rows)} rows, {sum(bool(r.get('shard')) for r in rows)} images, {len(groups)} twin groups.</p>"
        '<form id="filters"></form><p id="summary"></p><nav class="pager" id="pager"></nav>'
        f'<div id="groups"></div><details><summary>Counts per culture and category</summary>'
        f'<div class="tables">{tables}</div></details>{left_out_tables(data)}'
    )
    (site / "index.html").write_text(
        document(f"{data.resolve().name} - cultureclip view", body, scripts=("data.js", "view.js"))
    )
    (site / "data.js").write_text("window.VIEW = " + json.dumps(_columns(rows, groups, pages, cfg)) + ";\n")


def left_out_tables(data: Path, limit: int = 500) -> str:
    """The rows that a recipe's side tables (bottom-up: photos.parquet; paper: twins, pairs) record as left
    out before the manifest, with their reason: a table per file, its first `limit` such rows."""
    html = ""
    for path in sorted(data.glob("*.parquet")):
        rows = [r for r in read_table(path).to_pylist() if r.get("reason")] if path.name != MANIFEST else []
        if rows:
            cells = "".join(
                f"<tr><td>{esc(_label(r))}</td><td>{esc(r.get('decision') or r.get('status'))}</td>"
                f"<td>{esc(r['reason'])}</td></tr>"
                for r in rows[:limit]
            )
            html += (
                f"<h2>Left out in {esc(path.name)}: {len(rows)} rows</h2>"
                f"<table><tr><th>row</th><th>outcome</th><th>reason</th></tr>{cells}</table>"
            )
    return html


def _label(row: dict) -> str:
    return next((str(row[k]) for k in ("page_title", "name", "concept", "key") if row.get(k)), "?")


def _counts(rows: list[dict], field: str) -> dict[str, tuple[int, int]]:
    all_rows = Counter(str(r.get(field)) for r in rows)
    images = Counter(str(r.get(field)) for r in rows if r.get("shard"))
    return {k: (all_rows[k], images[k]) for k in sorted(all_rows)}


def _columns(rows: list[dict], groups: list[Group], pages: list[list[str]], cfg: ViewConfig) -> dict:
    """What the index's script filters: the rows' fields as columns, strings coded by position in `values`."""
    group_of, concept_of, names = [0] * len(rows), [0] * len(rows), []
    for k, group in enumerate(groups):
        for members in group.concepts.values():
            names.append(str(rows[members[0]].get("name") or rows[members[0]].get("concept_id") or ""))
            for i in members:
                group_of[i], concept_of[i] = k, len(names) - 1
    values = {f: sorted({str(r.get(f)) for r in rows}) for f in FILTERS}
    position = {f: {v: k for k, v in enumerate(values[f])} for f in FILTERS}
    coded = {f: [position[f][str(r.get(f))] for r in rows] for f in FILTERS}
    scores = sorted({k for r in rows for k, v in r.items() if _is_score(v)} - NOT_SCORES)
    return {
        "groups": [[g.name, p[0]] for g, p in zip(groups, pages, strict=True)],
        "concepts": names,
        "values": values,
        "per_page": cfg.groups_per_page,
        "rows": {
            "group": group_of,
            "concept": concept_of,
            "image": [int(bool(r.get("shard"))) for r in rows],
            **coded,
        },
        "scores": {s: [r.get(s) if _is_score(r.get(s)) else None for r in rows] for s in scores},
    }


def _is_score(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
