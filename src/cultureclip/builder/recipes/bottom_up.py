"""The bottom-up recipe (PAPER.md, Data): concepts mined from real image-text rows, the builder preset
`paper-bottom-up`.

An image-text corpus (WIT rows, img2dataset output, any WebDataset, a folder of captioned images: see
`cultureclip.data.corpora`) -> each photo read once (PNG) -> a vision-language model keeps the
photos that clearly show a concept of one of the categories (the reference's 8 by default) -> labels
each kept one: the concept, its country (ISO 3166), category, ~20-word context and key visual features
-> the labels become catalogue rows, checked by the catalogue's own checks (a row that fails them is
recorded with the problem) -> the reference recipe's stages from there: a twin per concept, captions
for both, every caption pair rendered, the judge (`paper.twin_pairs`). Each labelled photo stays in
the dataset as a sample of its concept (`source: photo`, with its page URL and attribution), beside
the rendered images (`source: rendered`), so training can use real, synthetic or both; the card
counts each per culture and category. `photos.parquet` keeps every input row with its decision.
A page in another language than English keeps its title as its concept's native name (`page_name`).
"""

from collections import Counter
from pathlib import Path

from cultureclip.builder.executors import Executor
from cultureclip.builder.pipeline import BuildJob, Built, run_step
from cultureclip.builder.prompts import prompt_file
from cultureclip.builder.recipes.paper import CATEGORIES, models, pair_split, twin_pairs
from cultureclip.builder.stages.photos import (
    PhotoFilterStage,
    PhotoLabelStage,
    PhotoStage,
    load_photo_prompts,
    photo_rows,
)
from cultureclip.catalog.check import check_rows, name_problems
from cultureclip.catalog.files import RawRow
from cultureclip.catalog.schema import ConceptSketch
from cultureclip.config import BottomUpRecipeConfig, dump_config
from cultureclip.data.corpora import corpus_digest
from cultureclip.data.row import dataset_row
from cultureclip.data.text import slug
from cultureclip.io import input_record


class BottomUpRecipe:
    """Builds `build.bottom_up`'s dataset (see the module docstring)."""

    section = BottomUpRecipeConfig

    def record(self, job: BuildJob) -> str:
        """The seed, target CLIP and build settings, the content of the prompt files and of the corpus (a
        rows file's bytes; a folder's files by name, size and time)."""
        p = job.cfg.bottom_up
        files = {"photo prompts": prompt_file(p.photo_prompt_file(), "build.bottom_up.photo_prompts")}
        files |= {"paper prompts": prompt_file(p.prompts, "build.bottom_up.prompts")}
        files |= {"judge prompts": prompt_file(job.judge.prompts, "judge.prompts")}
        corpus = p.corpus_config()
        if corpus is not None and Path(corpus.path).exists():  # a missing corpus fails in check
            files_held = f"  corpus: {corpus.path} {corpus_digest(corpus.path)}\n"
        else:
            files_held = ""
        head = f"seed: {job.seed}\ntarget_model: {job.target_model}\n" + dump_config(job.cfg) + dump_config(job.judge)
        return head + input_record(files) + files_held

    def check(self, job: BuildJob) -> None:
        """The corpus (each record read, no image), the model ids and the prompt files, so a typo fails now,
        not after hours of labelling."""
        from cultureclip.backends.chat import parse_chat_model_id

        p = job.cfg.bottom_up
        for model in (p.labeller, p.generator, job.judge.model):
            parse_chat_model_id(model.name)
        load_photo_prompts(p.photo_prompt_file())
        for _ in photo_rows(p):
            pass

    def generate(self, job: BuildJob, executor: Executor, work: Path) -> Built:
        """Photos -> kept -> labelled -> catalogue-checked concepts -> the reference's twin pairs; photos kept."""
        p = job.cfg.bottom_up
        categories = p.categories or CATEGORIES
        photos = run_step(
            executor, PhotoStage(max(job.cfg.image_size, 224), job.cfg.shard_images), list(photo_rows(p)), work
        )
        photos = run_step(executor, PhotoFilterStage(p, categories), photos, work)
        photos = run_step(executor, PhotoLabelStage(p, categories), photos, work)
        concepts = _checked(photos, categories)
        twins, images, pairs = twin_pairs(job, p, concepts, executor, work)
        kept_photos = [
            _sample(photo, twins[k], k, p) for k, photo in enumerate(photos) if p.keep_photos and _usable(twins[k])
        ]
        rows = images + kept_photos
        kept = [r for r in rows if r["status"] == "kept"]
        return Built(
            rows,
            models(job, p)
            | {"labeller": p.labeller.name, "photo_prompts": load_photo_prompts(p.photo_prompt_file())["version"]},
            tables={"photos.parquet": [_decision(r) for r in photos], "pairs.parquet": pairs, "twins.parquet": twins},
            sections={
                "Bottom-up route (photos.parquet)": dict(Counter(_decision(r)["decision"] for r in photos)),
                "Kept images per culture and source": _counts(kept, "culture"),
                "Kept images per category and source": _counts(kept, "category"),
            },
            summary=f"kept {len(kept)} images ({len(kept_photos)} photos) of {len(photos)} rows",
        )


def _checked(photos: list[dict], categories: list[str]) -> list[dict]:
    """The concept rows of the labelled photos, each checked as a catalogue row (id, name, culture,
    country, category, visual); a row that fails the checks is failed with the first problem."""
    concepts = []
    for photo in photos:
        row = {k: photo[k] for k in ("key", "status", "reason")} | page_name(photo)
        if photo["status"] == "ok":
            sketch = {
                "id": slug(f"{photo['country_code']} {photo['name']}"),
                "name": photo["name"],
                "culture": photo["country"],
                "country": photo["country_code"],
                "category": photo["label_category"],
                "visual": photo["features"],
                "context": photo["context"],
            }
            _, problems = check_rows([RawRow("labels", 1, sketch)], ConceptSketch, categories)
            fields = {k: photo[k] for k in ("name", "country", "context", "features")}
            row |= {"category": photo["label_category"], **fields}
            if problems:
                row |= {"status": "failed", "reason": f"catalogue check: {problems[0].split(': ', 1)[-1]}"}
        concepts.append(row)
    return concepts


def page_name(photo: dict) -> dict:
    """The page's own title as the concept's native name (twins.parquet's native_language, native_name): for a
    page in another language than English ('zh', 'zh-TW' -> zh) whose title is written in that language's
    script, the catalogue's check of `names`; else both None."""
    language, title = str(photo.get("language") or "").split("-")[0].lower(), str(photo.get("page_title") or "")
    native = language not in ("", "en") and bool(title) and not name_problems({language: title})
    return {"native_language": language if native else None, "native_name": title if native else None}


def _usable(twin: dict) -> bool:
    return twin["status"] == "ok"


def _sample(photo: dict, twin: dict, index: int, p) -> dict:
    """A labelled photo as a sample of its concept, linked to the twin its pair was written with."""
    concept_id = slug(f"{photo['country']} {photo['name']}")
    return dataset_row(
        key=f"{twin['key']}-photo",
        split=pair_split(index, p),
        concept_id=concept_id,
        name=photo["name"],
        culture=photo["country"],
        country=photo["country"],
        category=photo["label_category"],
        generic=photo["label_category"].lower(),
        twin_group=twin["key"],
        twin_ids=[slug(f"{twin['twin_country']} {twin['twin_name']}")],
        member="concept",
        caption=photo["caption_attribution_description"] or photo["page_title"],
        caption_source=f"the photo's page ({p.corpus_config().kind})",
        caption_note=None,
        png=photo["png"],
        source="photo",
        url=photo["page_url"],
        image_url=photo["image_url"],
        attribution=photo["caption_attribution_description"],
        status="kept",
        reason=None,
    )


def _decision(photo: dict) -> dict:
    """An input row's outcome for photos.parquet: labelled, or rejected/failed with the reason."""
    decision = "labelled" if photo["status"] == "ok" else photo["status"]
    fields = ("key", "page_title", "page_url", "image_url", "name", "country", "label_category")
    return {k: photo.get(k) for k in fields} | {"decision": decision, "reason": photo["reason"]}


def _counts(rows: list[dict], field: str) -> dict[str, str]:
    by = Counter((r[field], r["source"]) for r in rows)
    return {v: f"photos {by[(v, 'photo')]}, rendered {by[(v, 'rendered')]}" for v in sorted({r[field] for r in rows})}
