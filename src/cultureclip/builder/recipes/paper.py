"""The reference data recipe (PAPER.md, Data): the builder preset `paper-build`.

country x category prompts -> concept (name, context, key visual features) -> its twin -> captions for
both -> every caption pair rendered -> a vision-language judge scores each image 1-5 on authenticity,
consistency and cultural fidelity; an image passes if no score is at or below `fail_score` (1) and
the mean is above `pass_mean` (3); a caption pair is kept only if both of its images pass.

Same machinery as the catalogue pipeline: every stage runs over saved chunks (resumable, local or
Ray), and the dataset appears atomically: shards and manifest (one row per image, with the judge's
scores and reasons; `twin_group` is the twin pair, `twin_ids` links the other member), plus
`pairs.parquet` (every caption pair, kept or why not), `twins.parquet` (every prompt: the concept, its
twin, their captions and rejected captions, or why it failed) and the card.
"""

from pathlib import Path

from cultureclip.builder.executors import Executor
from cultureclip.builder.pipeline import BuildJob, Built, run_step
from cultureclip.builder.prompts import prompt_file
from cultureclip.builder.rows import image_seed
from cultureclip.builder.stages.images import render_stage
from cultureclip.builder.stages.paper_text import ConceptStage, PaperCaptionStage, load_paper_prompts
from cultureclip.builder.stages.replies import CRITERIA
from cultureclip.builder.stages.twin_prompt import TwinPromptStage
from cultureclip.builder.stages.vlm_judge import VlmJudgeStage, judge_rejection
from cultureclip.config import JudgeConfig, PaperRecipeConfig, TwinPairConfig, dump_config
from cultureclip.data.row import dataset_row
from cultureclip.data.text import slug
from cultureclip.io import input_record

MEMBERS = ("concept", "twin")
CATEGORIES = ["Cuisine", "Clothing", "Animal & Plants", "Art", "Architecture", "Daily Life", "Symbol", "Festival"]
"""The reference's concept categories (`build.paper.categories` when it is not set)."""


def prompt_rows(cfg: PaperRecipeConfig) -> list[dict]:
    """One row per country x category prompt (country-major), the first `max_prompts` of them."""
    countries = cfg.countries
    if countries is None:
        import pycountry

        countries = sorted(c.name for c in pycountry.countries)
    rows = [
        {"key": f"{slug(country)}--{slug(category)}", "country": country, "category": category}
        for country in countries
        for category in cfg.categories or CATEGORIES
    ]
    return rows[: cfg.max_prompts]


class PaperRecipe:
    """Builds `build.paper`'s dataset (see the module docstring)."""

    section = PaperRecipeConfig

    def record(self, job: BuildJob) -> str:
        """The seed, target CLIP, build and judge settings and the prompt files' content (no catalogue)."""
        prompts = {"paper prompts": prompt_file(job.cfg.paper.prompts, "build.paper.prompts")}
        prompts |= {"judge prompts": prompt_file(job.judge.prompts, "judge.prompts")}
        head = f"seed: {job.seed}\ntarget_model: {job.target_model}\n" + dump_config(job.cfg) + dump_config(job.judge)
        return head + input_record(prompts)

    def check(self, job: BuildJob) -> None:
        """The model ids and the prompt file, so a typo fails now, not after hours of rendering."""
        from cultureclip.backends.chat import parse_chat_model_id

        parse_chat_model_id(job.cfg.paper.generator.name)
        parse_chat_model_id(job.judge.model.name)
        load_paper_prompts(job.cfg.paper.prompts)
        load_paper_prompts(job.judge.prompts)

    def generate(self, job: BuildJob, executor: Executor, work: Path) -> Built:
        """Prompts -> concepts -> twins -> captions of both -> images -> judge scores -> caption pairs."""
        p = job.cfg.paper
        concepts = run_step(executor, ConceptStage(p, p.generator), prompt_rows(p), work)
        twins, images, pairs = twin_pairs(job, p, concepts, executor, work)
        kept = sum(pair["status"] == "kept" for pair in pairs)
        return Built(
            images,
            models(job, p),
            tables={"pairs.parquet": pairs, "twins.parquet": twins},
            sections={"Reference recipe (pairs.parquet, twins.parquet)": _pair_counts(twins, pairs)},
            summary=f"kept {kept} of {len(pairs)} caption pairs of {len(twins)} prompts",
        )


def twin_pairs(
    job: BuildJob, p: TwinPairConfig, concepts: list[dict], executor: Executor, work: Path
) -> tuple[list[dict], list[dict], list[dict]]:
    """Concept rows (key, name, country, category, context, features; failed ones pass through) -> their
    twins -> captions of both -> every caption pair rendered -> judge scores; (twins, images, pairs)."""
    cfg = job.cfg
    twins = run_step(executor, TwinPromptStage(p, p.generator), concepts, work)
    members = [m for k, row in enumerate(twins) if row["status"] == "ok" for m in _members(row, k)]
    written = executor.run_stage(PaperCaptionStage(p, job.target_model), members, work / "captions")
    for member, result in zip(members, written, strict=True):
        twin = twins[member["index"]]
        twin[f"{member['member']}_captions"] = result.get("captions") or []
        twin[f"{member['member']}_caption_rejects"] = result.get("caption_rejects") or []
        if result["status"] != "ok" and twin["status"] == "ok":
            twin.update(status="failed", reason=f"{member['member']} {result['reason']}")
    images = [im for k, row in enumerate(twins) if row["status"] == "ok" for im in _images(row, k, job.seed, p)]
    images = run_step(executor, render_stage(cfg), images, work)
    images = run_step(executor, VlmJudgeStage(job.judge), images, work)
    for row in images:
        for criterion in CRITERIA:
            row.setdefault(criterion, None)
            row.setdefault(f"{criterion}_reason", None)
    return twins, images, select_pairs(twins, images, p, job.judge)


def _members(row: dict, index: int) -> list[dict]:
    """The caption stage's rows for a twin pair: the concept and its twin."""
    return [
        {"key": f"{row['key']}/{member}", "member": member, "index": index, **_fields(row, prefix)}
        for member, prefix in (("concept", ""), ("twin", "twin_"))
    ]


def _fields(row: dict, prefix: str) -> dict:
    return {k: row[f"{prefix}{k}"] for k in ("name", "country", "context", "features")} | {"category": row["category"]}


def pair_split(index: int, cfg: TwinPairConfig) -> str:
    """The split of twin pair `index` (in prompt order): every `test_every`th is a test pair."""
    return "test" if cfg.test_every and (index + 1) % cfg.test_every == 0 else "train"


def _images(row: dict, index: int, seed: int, cfg: TwinPairConfig) -> list[dict]:
    """Image rows of a twin pair: each caption of each member, `images_per_caption` times."""
    split = pair_split(index, cfg)
    members = {"concept": _fields(row, ""), "twin": _fields(row, "twin_")}
    ids = {m: slug(f"{f['country']} {f['name']}") for m, f in members.items()}
    out = []
    for member, other in (("concept", "twin"), ("twin", "concept")):
        fields = members[member]
        for i, caption in enumerate(row[f"{member}_captions"]):
            for r in range(cfg.images_per_caption):
                key = f"{row['key']}-{member}-{i:02d}-{r}"
                out.append(
                    dataset_row(
                        key=key,
                        split=split,
                        concept_id=ids[member],
                        name=fields["name"],
                        culture=fields["country"],
                        country=fields["country"],
                        category=row["category"],
                        generic=row["category"].lower(),
                        twin_group=row["key"],
                        twin_ids=[ids[other]],
                        member=member,
                        caption_index=i,
                        render=r,
                        caption=caption,
                        caption_source=f"{cfg.generator.name} ({cfg.prompts})",
                        caption_note=None,
                        context=fields["context"],
                        features=fields["features"],
                        seed=image_seed(seed, row["key"], member, i * cfg.images_per_caption + r),
                        attributes={},
                        source="rendered",
                    )
                )
    return out


def select_pairs(twins: list[dict], images: list[dict], cfg: TwinPairConfig, judge: JudgeConfig) -> list[dict]:
    """Every caption pair (concept caption i, twin caption j, render r) of each twin pair, kept only if
    both images pass; sets each image's status (kept if it is in a kept pair) and reason, in place."""
    by_key = {r["key"]: r for r in images}
    for row in images:
        if row["status"] == "ok" and (why := judge_rejection(row, judge)) is not None:
            row.update(status="rejected", reason=why)
    pairs, in_kept = [], set()
    for twin in (t for t in twins if t["status"] == "ok"):
        for i in range(len(twin["concept_captions"])):
            for j in range(len(twin["twin_captions"])):
                for r in range(cfg.images_per_caption):
                    keys = {m: f"{twin['key']}-{m}-{n:02d}-{r}" for m, n in (("concept", i), ("twin", j))}
                    bad = [m for m in MEMBERS if by_key[keys[m]]["status"] != "ok"]
                    reason = "; ".join(f"{m} image {by_key[keys[m]]['reason']}" for m in bad) or None
                    pairs.append(
                        {"twin_pair": twin["key"], "concept_key": keys["concept"], "twin_key": keys["twin"]}
                        | {"status": "rejected" if bad else "kept", "reason": reason}
                    )
                    in_kept |= set() if bad else set(keys.values())
    for row in images:
        if row["status"] == "ok":
            kept = row["key"] in in_kept
            row.update(
                status="kept" if kept else "rejected", reason=None if kept else "no pair kept: every partner failed"
            )
    return pairs


def models(job: BuildJob, p: TwinPairConfig) -> dict[str, str]:
    """The card's models and prompt version of a recipe built on the reference's stages (`p`)."""
    version = load_paper_prompts(p.prompts)["version"]
    return {
        "generator": p.generator.name,
        "renderer": job.cfg.renderer,
        "judge": job.judge.model.name,
        "prompts": version,
    }


def _pair_counts(twins: list[dict], pairs: list[dict]) -> dict[str, int]:
    """The recipe's counts for the card: prompts, twin pairs written, caption pairs and those kept."""
    return {
        "prompts": len(twins),
        "twin pairs written": sum(t["status"] == "ok" for t in twins),
        "caption pairs": len(pairs),
        "caption pairs kept": sum(p["status"] == "kept" for p in pairs),
    }
