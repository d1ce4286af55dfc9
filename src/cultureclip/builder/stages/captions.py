"""The caption stage: an LLM writes captions from versioned prompt files, checked against the caption rules.

One row per (concept, caption index); caption k of a concept uses style k mod len(styles). An output
that breaks the rules is asked again (`reasks` times) with the reason; if it still breaks them, or the
generator fails, the template writer's caption replaces it and the row records why (a resumed build
asks the generator again for the rows it failed on). A generator that cannot be reached at all stops
the stage (see the OpenAI client).
"""

from cultureclip.backends.templates import create_caption_writer
from cultureclip.builder.prompts import load_prompt_file, prompt_file
from cultureclip.builder.stage import Stage
from cultureclip.builder.stages.caption_rules import caption_problem, clean_caption
from cultureclip.catalog import Catalog
from cultureclip.config import CaptionConfig
from cultureclip.data.text import fill
from cultureclip.errors import ConfigError, GenerationError

FALLBACK = "fallback: "
"""How a caption note that the template replaced the generator's caption begins (the reason follows)."""
GENERATOR_ERROR = "generator error: "


def load_prompts(name: str, styles: list[str]) -> dict:
    """A prompt file (shipped name or path) with its `version`, a template per style and `reask`."""
    setting, required = "build.catalog.captions.prompts", {"version": object, "styles": object, "reask": object}
    prompts = load_prompt_file(name, setting, required)
    missing = [s for s in styles if s not in prompts["styles"]]
    if missing:
        file = prompt_file(name, setting)
        raise ConfigError(f"{file}: styles: no prompt for style {missing[0]!r} (build.catalog.captions.styles)")
    return prompts


def caption_rows(catalog: Catalog, cfg: CaptionConfig, per_concept: int, language: str = "en") -> list[dict]:
    """The caption stage's input: one row per concept and caption index, with the concept's fields, its
    name in `language` where it has one (`catalog.language`)."""
    return [
        {
            "key": f"{c.id}/{k}",
            "index": k,
            "style": cfg.styles[k % len(cfg.styles)],
            **c.named(language).model_dump(exclude={"attributes"}),
        }
        for c in catalog.concepts
        for k in range(per_concept)
    ]


class CaptionStage(Stage):
    """Writes each row's caption with the configured generator (or only the template writer)."""

    name = "captions"
    inputs = ("key", "index", "style", "name")
    outputs = ("caption", "caption_source", "caption_note")

    def __init__(self, cfg: CaptionConfig, writer: str, target_model: str):
        self.cfg, self.writer_name, self.target_model = cfg, writer, target_model
        self.prompts = load_prompts(cfg.prompts, cfg.styles) if cfg.generator else None

    def setup(self) -> None:
        from cultureclip.backends.chat import create_chat_model
        from cultureclip.backends.clip import tokenizer_for

        self.writer = create_caption_writer(self.writer_name)
        if self.cfg.generator:
            self.tokenizer = tokenizer_for(self.target_model)
            self.generator = create_chat_model(self.cfg.generator)

    def process(self, rows: list[dict]) -> list[dict]:
        templates = [self.writer.write(_fields(r), r["index"] + 1)[r["index"]] for r in rows]
        if not self.cfg.generator:
            return [{"caption": t, "caption_source": self.writer_name, "caption_note": None} for t in templates]
        prompts = [self._prompt(r) for r in rows]
        texts, problems = self._ask(rows, prompts)
        for _ in range(self.cfg.reasks):
            again = [i for i, p in enumerate(problems) if p and not p.startswith(GENERATOR_ERROR)]
            if not again:
                break
            retry = [self._reask(rows[i], prompts[i], problems[i]) for i in again]
            new_texts, new_problems = self._ask([rows[i] for i in again], retry)
            for i, text, problem in zip(again, new_texts, new_problems, strict=True):
                texts[i], problems[i] = text, problem
        source = f"{self.cfg.generator.name} ({self.prompts['version']})"
        return [
            {"caption": text, "caption_source": source, "caption_note": None}
            if problem is None
            else {"caption": template, "caption_source": self.writer_name, "caption_note": FALLBACK + problem}
            for text, problem, template in zip(texts, problems, templates, strict=True)
        ]

    def redo(self, output: dict) -> bool:
        """Also a caption that fell back to the template because the generator failed (not for what it wrote)."""
        return super().redo(output) or str(output.get("caption_note")).startswith(FALLBACK + GENERATOR_ERROR)

    def _ask(self, rows: list[dict], prompts: list[str]) -> tuple[list[str], list[str | None]]:
        try:
            texts = [clean_caption(t) for t in self.generator.generate(prompts)]
        except GenerationError as err:
            if len(rows) == 1:
                return [""], [f"{GENERATOR_ERROR}{err}"]
            alone = [self._ask([r], [p]) for r, p in zip(rows, prompts, strict=True)]  # find the bad ones
            return [t for a in alone for t in a[0]], [p for a in alone for p in a[1]]
        return texts, [caption_problem(t, r["name"], self.tokenizer) for t, r in zip(texts, rows, strict=True)]

    def _max_words(self) -> int:
        return (self.tokenizer.context_length - 2) * 2 // 3

    def _prompt(self, row: dict) -> str:
        return fill(self.prompts["styles"][row["style"]], {**_fields(row), "max_words": self._max_words()})

    def _reask(self, row: dict, prompt: str, problem: str) -> str:
        return self.prompts["reask"].format(
            prompt=prompt, reason=problem, name=row["name"], max_words=self._max_words()
        )


def _fields(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("key", "index", "style") and v is not None}
