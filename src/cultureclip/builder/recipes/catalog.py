"""The catalogue recipe: twin groups of the concept catalogue -> captions -> planned rows -> images ->
optional CLIP filter (scores, then `select`). The default, offline build. Captions and the filter's
concept and twin texts name each concept in `catalog.language`; the rows' `name` stays English."""

from pathlib import Path

from cultureclip.builder.executors import Executor
from cultureclip.builder.pipeline import BuildJob, Built, run_step
from cultureclip.builder.prompts import prompt_file
from cultureclip.builder.rows import plan_rows
from cultureclip.builder.stages.captions import CaptionStage, caption_rows, load_prompts
from cultureclip.builder.stages.clip_filter import ClipFilterStage, select
from cultureclip.builder.stages.images import render_stage
from cultureclip.catalog import ConceptSketch
from cultureclip.catalog.load import catalog_files
from cultureclip.catalog.select import dataset_catalog
from cultureclip.config import BuildConfig, CatalogRecipeConfig, ClipFilterConfig, dump_config
from cultureclip.data.text import fill
from cultureclip.io import input_record


class CatalogRecipe:
    """Builds `build.catalog`'s dataset from the catalogue `job.catalog` (see the module docstring)."""

    section = CatalogRecipeConfig

    def record(self, job: BuildJob) -> str:
        """The seed, target CLIP, catalogue and build settings, and the content of the catalogue and prompt
        files: a dataset built with other settings or from an edited file is not reused."""
        head = f"seed: {job.seed}\ntarget_model: {job.target_model}\n"
        prompts = prompt_file(job.cfg.catalog.captions.prompts, "build.catalog.captions.prompts")
        files = catalog_files(job.catalog.path, job.catalog.mode) | {"caption prompts": prompts}
        return head + dump_config(job.catalog) + dump_config(job.cfg) + input_record(files)

    def check(self, job: BuildJob) -> None:
        """Nothing to check before the work starts (the stages check their settings as they set up)."""

    def generate(self, job: BuildJob, executor: Executor, work: Path) -> Built:
        """Captions per concept, one row per planned image, rendered, then filtered when a filter is set."""
        cfg, recipe = job.cfg, job.cfg.catalog
        catalog = dataset_catalog(job.catalog, recipe)
        language = job.catalog.language
        units = caption_rows(catalog, recipe.captions, recipe.captions_per_concept, language)
        stage = CaptionStage(recipe.captions, recipe.captions.fallback, job.target_model)
        written = executor.run_stage(stage, units, work / stage.name)
        captions: dict[str, list[dict]] = {c.id: [] for c in catalog.concepts}
        for unit, result in zip(units, written, strict=True):
            captions[unit["id"]].append({**result, "caption_style": unit["style"]})
        counts = {"train": recipe.train_images, "test": recipe.test_images}
        rows = plan_rows(catalog, captions, counts, job.seed)
        for row in rows:
            row["attributes"] = catalog.by_id[row["concept_id"]].attributes.model_dump()
        rows = run_step(executor, render_stage(cfg), rows, work)
        if recipe.filter is not None:
            for row in rows:
                concept = catalog.by_id[row["concept_id"]]
                row["concept_text"] = concept_text(concept, recipe.filter, language)
                row["twin_texts"] = [concept_text(catalog.by_id[t], recipe.filter, language) for t in row["twin_ids"]]
            rows = run_step(executor, ClipFilterStage(recipe.filter), rows, work)
            select(rows, recipe.filter)
        for row in rows:
            row["status"] = "kept" if row["status"] == "ok" else row["status"]
            row.setdefault("clip_score", None)
            row.setdefault("twin_margin", None)
        kept = sum(r["status"] == "kept" for r in rows)
        summary = f"built {kept} of {len(rows)} planned images of {len(catalog.concepts)} concepts"
        names = {"concept_names": language} if language != "en" else {}  # the card says when names are not English
        return Built(rows, _models(cfg) | names, summary=summary)


def concept_text(concept: ConceptSketch, cfg: ClipFilterConfig, language: str) -> str:
    """The filter's text of a concept (or of a twin), with its name in `language` where it has one."""
    return fill(cfg.concept_template, concept.named(language).model_dump(exclude={"attributes"}, exclude_none=True))


def _models(cfg: BuildConfig) -> dict[str, str]:
    recipe = cfg.catalog
    models = {"caption_writer": recipe.captions.fallback, "renderer": cfg.renderer}
    if recipe.captions.generator:
        models["caption_generator"] = recipe.captions.generator.name
        models["caption_prompts"] = load_prompts(recipe.captions.prompts, recipe.captions.styles)["version"]
    if recipe.filter:
        models["judge"] = recipe.filter.clip
    return models
