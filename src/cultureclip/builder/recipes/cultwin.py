"""The CulTwin recipe (`cultureclip import cultwin`): the authors' release (read by `data/cultwin.py`) as a
dataset of ours, with two optional steps, the reference recipe's own: the images the release does not hold
rendered (`render_stage`, as the paper recipe renders), and every image scored by the paper's vision-language
judge, kept only if it passes the reference's rule (`stages/vlm_judge.py`: `judge_rejection`).

A recipe of the one driver (`pipeline.build`, publish mode `new`): both steps run on the builder's executors
(local or Ray) in resumable chunks under `OUT.work/`, so a killed import renders and asks nothing twice; OUT
appears atomically with its settings (`import_config.yaml`). Images are read one at a time as their shard is
written, so memory stays bounded on the full release.
"""

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from cultureclip.builder.blobs import Blob
from cultureclip.builder.executors import Executor
from cultureclip.builder.pipeline import BuildJob, Built, Publish, build
from cultureclip.builder.recipes import BUILD_RECIPES
from cultureclip.builder.stages.images import render_stage
from cultureclip.builder.stages.vlm_judge import VlmJudgeStage, judge_rejection
from cultureclip.config import BuildConfig, ExecutorConfig, JudgeConfig, dump_config
from cultureclip.data import cultwin
from cultureclip.errors import DataError
from cultureclip.io import input_record

RECORD = "import_config.yaml"


@dataclass(frozen=True)
class ReleaseImage:
    """A member's image as the release holds it, read (and shrunk to `max_side`) when its shard is written."""

    member: cultwin.Member
    max_side: int | None

    def read(self) -> Image.Image:
        return cultwin.load(self.member, self.max_side)


@dataclass(frozen=True)
class RenderedImage:
    """A member's rendering in the work folder, shrunk to `max_side` when its shard is written."""

    blob: Blob
    max_side: int | None

    def read(self) -> Image.Image | bytes:
        """The rendering as stored (already in the dataset's format), or decoded and shrunk when larger."""
        data = self.blob.read()
        with Image.open(io.BytesIO(data)) as image:
            if not self.max_side or max(image.size) <= self.max_side:
                return data
            return cultwin.shrunk(image.convert("RGB"), self.max_side)


class CultwinRecipe:
    """Imports the release files `splits` (split -> file), rendering the missing images when `render`, judged by
    `judge` (the vision-language judge and its pass rule) when given."""

    publish = Publish("new", "import cultwin", RECORD)

    def __init__(
        self,
        splits: dict[str, Path],
        images: Path | None = None,
        max_side: int | None = None,
        render: bool = False,
        judge: JudgeConfig | None = None,
    ):
        self.splits, self.images, self.max_side = {s: Path(f) for s, f in splits.items()}, images, max_side
        self.render, self.judge = render, judge

    def record(self, job: BuildJob) -> str:
        """The import's settings (with the build's when it renders, the judge's when it judges) and the content
        of the release files."""
        self._rows()  # first: a missing or malformed file is named before anything is written
        head = f"images: {self.images}\nmax_side: {self.max_side}\nshard_size: {job.cfg.shard_size}\n"
        head += f"render: {self.render}\n" + (dump_config(job.cfg) if self.render else "")
        head += f"judge: {self.judge is not None}\n" + (dump_config(self.judge) if self.judge else "")
        return head + input_record({f"release {s}": f for s, f in self.splits.items()})

    def check(self, job: BuildJob) -> None:
        """The judge's model id, so a typo fails now, not after the rendering."""
        if self.judge is not None:
            from cultureclip.backends.chat import parse_chat_model_id

            parse_chat_model_id(self.judge.model.name)

    def generate(self, job: BuildJob, executor: Executor, work: Path) -> Built:
        """The release's members -> images rendered where missing -> judged -> one row per image."""
        rows, counts = self._rows(), {}
        members = [m for s, f in self.splits.items() for m in cultwin.members(f, rows[s], s, self.images, counts)]
        rendered = self._rendered(members, job.cfg, executor, work) if self.render else {}
        images = {_key(m): rendered.get(_key(m)) or ReleaseImage(m, self.max_side) for m in members}
        out = [
            m.row | {"png": images[_key(m)], "source": "rendered" if _key(m) in rendered else "release"}
            for m in members
        ]
        verdicts = self._judged(members, rendered, executor, work) if self.judge else [{}] * len(out)
        out = [row | ({"status": "kept", "reason": None} | verdict) for row, verdict in zip(out, verdicts, strict=True)]
        left = sum(r["status"] != "kept" for r in out)
        models = {"renderer": job.cfg.renderer} if self.render else {}
        models |= {"judge": self.judge.model.name} if self.judge else {}
        summary = f"imported {len(out) - left} of {len(out)} images ({len(rendered)} rendered, {left} left out)"
        return Built(out, models, summary=summary)

    def _rows(self) -> dict[str, list[dict]]:
        return {s: cultwin.read_rows(f, need_images=not self.render) for s, f in self.splits.items()}

    def _rendered(
        self, members: list[cultwin.Member], cfg: BuildConfig, executor: Executor, work: Path
    ) -> dict[str, RenderedImage]:
        """Every member's image that is not there, rendered in `work` (resumable), by member key."""
        todo = [m for m in members if m.image is None or not m.image.is_file()]
        rows = [{"key": _key(m), "caption": m.row["caption"], "seed": m.seed, "attributes": {}} for m in todo]
        stage = render_stage(cfg)
        outputs = executor.run_stage(stage, rows, work / stage.name) if rows else []
        failed = [(r["key"], o["reason"]) for r, o in zip(rows, outputs, strict=True) if o["status"] != "ok"]
        if failed:
            raise DataError(f"{len(failed)} image(s) could not be rendered, first {failed[0][0]}: {failed[0][1]}")
        return {r["key"]: RenderedImage(o["png"], self.max_side) for r, o in zip(rows, outputs, strict=True)}

    def _judged(self, members: list[cultwin.Member], rendered: dict, executor: Executor, work: Path) -> list[dict]:
        """Per member, the judge's scores and reasons, and its status: kept, or rejected by the reference's rule
        (or failed) with the reason; resumable in `work`."""

        def image(m: cultwin.Member) -> Blob:
            made = rendered.get(_key(m))
            return made.blob if made else Blob(str(m.image.resolve()), 0, m.image.stat().st_size)

        fields = ("caption", "name", "category")
        rows = [
            {"key": _key(m), "png": image(m), "country": m.row["culture"]} | {f: m.row[f] for f in fields}
            for m in members
        ]
        stage = VlmJudgeStage(self.judge)
        verdicts = []
        for out in executor.run_stage(stage, rows, work / stage.name):
            why = judge_rejection(out, self.judge) if out["status"] == "ok" else out["reason"]
            status = "kept" if why is None else ("rejected" if out["status"] == "ok" else out["status"])
            verdicts.append({k: v for k, v in out.items() if k != "status"} | {"status": status, "reason": why})
        return verdicts


def _key(member: cultwin.Member) -> str:
    """A member's key among all splits' members."""
    return f"{member.row['split']}/{member.row['key']}"


def import_cultwin(
    splits: dict[str, Path],
    out: Path,
    images: Path | None = None,
    max_side: int | None = None,
    shard_size: int = 1000,
    overwrite: bool = False,
    build_cfg: BuildConfig | None = None,
    executor: ExecutorConfig | None = None,
    render: bool = False,
    judge: JudgeConfig | None = None,
) -> Path:
    """Convert release files (split name -> file) into the dataset folder `out` (see the module docstring):
    `images` is the folder holding the release's images when its paths do not resolve beside the data file;
    `max_side` shrinks larger images to that longest side; `build_cfg` gives the renderer, `executor` where the
    stages run."""
    cfg = (build_cfg or BuildConfig()).model_copy(update={"shard_size": shard_size})
    recipe = BUILD_RECIPES.create("cultwin", splits, images, max_side, render, judge)
    return build(recipe, BuildJob(cfg, executor=executor or ExecutorConfig()), Path(out), overwrite)
