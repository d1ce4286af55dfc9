"""The dataset card: what is in a built dataset, what was dropped and why, what made it, and (once scored,
see `caption_quality.py`) the quality of its captions, each score with the model that gave it."""

import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from cultureclip.data.row import schema_lines
from cultureclip.io import write_json, write_text
from cultureclip.redact import redact_tree

CARD = "card.md"
CARD_JSON = "card.json"
FACT_TABLES = [
    ("Kept images per split", "images"),
    ("Rows by status", "status"),
    ("Rejected or failed rows by reason", "reasons"),
    ("Kept images per culture", "per_culture"),
    ("Kept images per category", "per_category"),
    ("Caption sources", "caption_sources"),
    ("Template fallbacks (why the LLM caption was replaced)", "caption_fallbacks"),
    ("Models and prompts", "models"),
    ("Stored images (`build.shard_images`)", "stored_images"),
]
QUALITY_SCORES = {
    "caption_quality": ("mean of the scores below, each on 0-1", "all"),
    "caption_clip": ("cosine of the image and its caption by a judge CLIP", "caption_clip"),
    "detail_coverage": ("share of the concept's distinguishing details the caption states", "detail_coverage"),
    "rubric_score": ("mean of the four rubric grades, 1-5", "rubric"),
    "rubric_accuracy": ("accuracy to the concept, 1-5", "rubric"),
    "rubric_visual_detail": ("visual detail, above all what tells it from its twins, 1-5", "rubric"),
    "rubric_cultural_context": ("keeps the cultural context, 1-5", "rubric"),
    "rubric_no_invented_facts": ("no invented facts (5: none), 1-5", "rubric"),
}
"""Each caption-quality score: what it measures, and the key of `models` naming who gave it."""
BINS = np.linspace(0.0, 1.0, 6)


def card_facts(rows: list[dict], models: dict[str, str]) -> dict:
    """Counts of kept images per split, culture and category; status, rejection reasons, caption sources."""
    kept = [r for r in rows if r["status"] == "kept"]
    return {
        "images": {split: sum(r["split"] == split for r in kept) for split in sorted({r["split"] for r in rows})},
        "status": dict(Counter(r["status"] for r in rows)),
        "reasons": dict(Counter(r["reason"].split(":")[0] for r in rows if r.get("reason"))),
        "per_culture": dict(sorted(Counter(r["culture"] for r in kept).items())),
        "per_category": dict(sorted(Counter(r["category"] for r in kept).items())),
        "caption_sources": dict(Counter(r["caption_source"] for r in kept if r.get("caption_source"))),
        "caption_fallbacks": dict(Counter(r["caption_note"] for r in kept if r.get("caption_note"))),
        "models": models,
    }


def quality_facts(rows: list[dict], models: dict[str, str], prefix: str = "") -> dict:
    """Per score (see QUALITY_SCORES; its `prefix`ed column): who gave it, what it measures, n, mean and
    quantiles; the distribution of caption_quality; each score's mean per category and per culture."""
    scores, per = {}, {"per_category": defaultdict(dict), "per_culture": defaultdict(dict)}
    for name, (measures, given_by) in QUALITY_SCORES.items():
        scored = [r for r in rows if r.get(f"{prefix}{name}") is not None]
        if not scored:
            continue
        values = np.array([r[f"{prefix}{name}"] for r in scored], float)
        p10, median, p90 = (float(q) for q in np.percentile(values, [10, 50, 90]))
        scores[name] = {"given_by": models.get(given_by, "no model of its own: the scores below"), "measures": measures}
        scores[name] |= {"n": len(values), "mean": float(values.mean()), "p10": p10, "median": median, "p90": p90}
        for by, key in (("per_category", "category"), ("per_culture", "culture")):
            groups: dict[str, list[float]] = defaultdict(list)
            for r in scored:
                groups[r.get(key) or "(none)"].append(r[f"{prefix}{name}"])
            for group, vals in sorted(groups.items()):
                per[by][group][name] = float(np.mean(vals))
    quality = [r[f"{prefix}caption_quality"] for r in rows if r.get(f"{prefix}caption_quality") is not None]
    counts = np.histogram(quality, BINS)[0].tolist()
    bins = {f"{lo:.1f}-{hi:.1f}": n for lo, hi, n in zip(BINS[:-1], BINS[1:], counts, strict=True)}
    return {"scores": scores, "distribution": bins, **{by: dict(v) for by, v in per.items()}}


def read_card(folder: Path) -> tuple[dict, dict]:
    """(facts, sections) of the card in `folder`; both empty where it has none (an imported dataset)."""
    path = Path(folder) / CARD_JSON
    facts = json.loads(path.read_text()) if path.is_file() else {}
    return facts, facts.pop("sections", {})


def write_card(folder: Path, facts: dict, sections: dict[str, dict] | None = None) -> None:
    """card.json (the facts and a recipe's extra `sections`, title -> counts) and card.md (the same as
    tables, then the caption quality when the facts hold it) into `folder`."""
    facts, sections = redact_tree(facts), redact_tree(sections or {})  # notes and model settings may hold URLs
    write_json(folder / CARD_JSON, facts | ({"sections": sections} if sections else {}))
    lines = ["# Dataset card", "", "Built by the cultureclip builder. Rows: `manifest.parquet`; images: `*.tar`.", ""]
    for title, key in FACT_TABLES:
        if key in facts:
            lines += _table(title, facts[key])
    for title, counts in (sections or {}).items():
        lines += _table(title, counts)
    for key, title in (
        ("caption_quality", "Caption quality"),
        ("caption_quality_before", "Caption quality before re-captioning"),
    ):
        if key in facts:
            lines += quality_lines(facts[key], title)
    write_text(folder / CARD, "\n".join(lines + schema_lines()))


def quality_lines(quality: dict, title: str = "Caption quality") -> list[str]:
    """The card's caption-quality section: the scores, the distribution, per category and per culture."""
    scores = quality["scores"]
    lines = [f"## {title}", "", "| score | given by | measures | n | mean | p10 | median | p90 |"]
    lines += ["|---|---|---|---:|---:|---:|---:|---:|"]
    for name, s in scores.items():
        stats = " | ".join(f"{s[k]:.3f}" for k in ("mean", "p10", "median", "p90"))
        lines.append(f"| {name} | {s['given_by']} | {s['measures']} | {s['n']} | {stats} |")
    lines += ["", *_table(f"{title}: distribution of caption_quality", quality["distribution"])]
    for by in ("per_category", "per_culture"):
        lines += [f"## {title} {by.replace('_', ' ')}", "", f"| {by[4:]} | " + " | ".join(scores) + " |"]
        lines.append("|---|" + "---:|" * len(scores))
        for group, means in quality[by].items():
            lines.append(f"| {group} | " + " | ".join(f"{means[n]:.3f}" if n in means else "" for n in scores) + " |")
        lines.append("")
    return lines


def _table(title: str, counts: dict) -> list[str]:
    lines = [f"## {title}", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in counts.items()] or ["| (none) | |"]
    return [*lines, ""]
