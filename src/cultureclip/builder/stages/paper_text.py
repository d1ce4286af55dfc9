"""The reference recipe's text stages: the asking base (`AskStage`), concept and captions.

Each stage of the recipe (these, `twin_prompt.py` and `vlm_judge.py`) asks the recipe's
vision-language model (`backends/chat/`) with the versioned prompt file and parses the JSON replies
(`replies.py`); a reply that does not parse, or a caption that breaks
the rules, is asked again with the reason, and a row that never gets a usable reply is recorded as
failed with that reason (no field of it half-filled).
"""

from cultureclip.builder.prompts import load_prompt_file
from cultureclip.builder.stages.caption_rules import caption_problem
from cultureclip.builder.stages.chat import ChatStage
from cultureclip.builder.stages.replies import ReplyError, captions_schema, fields_schema, parse_captions, parse_fields
from cultureclip.config import ChatModelConfig, TwinPairConfig
from cultureclip.data.text import fold

PROMPT_KEYS = ("version", "concept", "twin", "captions", "judge", "reask")


def load_paper_prompts(name: str) -> dict[str, str]:
    """The recipe's prompt file (a shipped name or a path), checked for every prompt it needs."""
    return load_prompt_file(name, "build.paper.prompts", dict.fromkeys(PROMPT_KEYS, str))


class AskStage(ChatStage):
    """A stage that asks the recipe's model (`model_cfg`) with the recipe's prompt file and parses its replies."""

    def __init__(self, cfg: TwinPairConfig, model_cfg: ChatModelConfig):
        super().__init__(model_cfg, load_paper_prompts(cfg.prompts), cfg.reasks)
        self.cfg = cfg


class ConceptStage(AskStage):
    """Country x category -> a concept, its ~20-word context and its key visual features."""

    name = "concepts"
    inputs = ("country", "category")
    outputs = ("name", "context", "features")
    reply = ("concept", "context", "features")
    schema = fields_schema(reply)

    def process(self, rows: list[dict]) -> list[dict]:
        prompts = [self.prompts["concept"].format(**r) for r in rows]
        replies = self.ask(prompts, lambda i, text: parse_fields(text, self.reply), schema=self.schema)
        return [
            {"name": v["concept"], "context": v["context"], "features": v["features"]}
            if v
            else {"status": "failed", "reason": f"concept: {why}"}
            for v, why in replies
        ]


class PaperCaptionStage(AskStage):
    """One member of a twin pair -> `captions_per_concept` captions, each under the word limit, naming
    the concept, one sentence, within the target CLIP's context (its own tokenizer). Captions that break a
    rule are dropped with the reason (`caption_rejects`) and the rest asked again; a member left with
    no caption fails."""

    name = "captions"
    inputs = ("name", "country", "category", "context", "features")
    outputs = ("captions", "caption_rejects")
    schema = captions_schema()

    def __init__(self, cfg: TwinPairConfig, target_model: str):
        super().__init__(cfg, cfg.generator)
        self.target_model = target_model

    def setup(self) -> None:
        from cultureclip.backends.clip import tokenizer_for

        super().setup()
        self.tokenizer = tokenizer_for(self.target_model)

    def problem(self, text: str, name: str) -> str | None:
        """Why `text` is not a usable caption of `name` (its part before a bracket, if any), or None."""
        words = len(text.split())
        if words > self.cfg.max_caption_words:
            return f"too many words: {words} > {self.cfg.max_caption_words}"
        return caption_problem(text, name.split("(")[0].strip() or name, self.tokenizer)

    def process(self, rows: list[dict]) -> list[dict]:
        n = self.cfg.captions_per_concept
        words = self.cfg.max_caption_words + 1
        prompts = [self.prompts["captions"].format(**r, n=n, words=words) for r in rows]
        kept: list[list[str]] = [[] for _ in rows]
        rejects: list[list[str]] = [[] for _ in rows]

        def parse(i: int, text: str) -> list[str]:
            for caption in parse_captions(text):
                why = self.problem(caption, rows[i]["name"])
                if why is None and fold(caption) in {fold(c) for c in kept[i]}:
                    why = "duplicate"
                (rejects[i].append(f"{why}: {caption}") if why else kept[i].append(caption))
            if len(kept[i]) < n:
                last = rejects[i][-1].split(": ")[0] if rejects[i] else "too few captions"
                raise ReplyError(f"{len(kept[i])} of {n} captions so far follow the rules (last problem: {last})")
            return kept[i][:n]

        results = self.ask(prompts, parse, schema=self.schema)
        return [
            {"captions": kept[i][:n], "caption_rejects": rejects[i]}
            if kept[i]
            else {"status": "failed", "reason": f"captions: none follows the rules: {why}"}
            for i, (_, why) in enumerate(results)
        ]
