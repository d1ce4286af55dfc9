"""The bottom-up route's stages: real photos in (an image-text corpus), cultural concepts out.

`photo_rows` streams the corpus (`cultureclip.data.corpora`); `PhotoStage` reads each row's image once
into its stored format's bytes (a blob, so the later stages and the dataset read it from the work
folder); `PhotoFilterStage` asks a vision-language model whether the photo clearly shows a concept of
one of the categories (a "no" is a rejection with the model's reason); `PhotoLabelStage` asks it for
the concept, its country (mapped to ISO 3166), category, context and key visual features. Broken
replies are asked again with the reason, then the row fails with it (`ChatStage`).
"""

import io
from collections.abc import Iterator

from PIL import Image, UnidentifiedImageError

from cultureclip.builder.prompts import load_prompt_file
from cultureclip.builder.stage import Stage
from cultureclip.builder.stages.chat import ChatStage
from cultureclip.builder.stages.replies import ReplyError, fields_schema, first_json, object_schema, parse_fields
from cultureclip.config import BottomUpRecipeConfig, ShardImageConfig
from cultureclip.data.corpora import read_corpus
from cultureclip.data.images import ImageTooLarge, decoded
from cultureclip.data.shards import encode_image
from cultureclip.errors import DataError

PROMPT_KEYS = ("version", "filter", "label", "reask")


def load_photo_prompts(name: str) -> dict[str, str]:
    """The route's prompt file (a shipped name or a path), checked for every prompt it needs."""
    return load_prompt_file(name, "build.bottom_up.photo_prompts", dict.fromkeys(PROMPT_KEYS, str))


def photo_rows(cfg: BottomUpRecipeConfig) -> Iterator[dict]:
    """A row for the route's stages per record of the corpus (`build.bottom_up.corpus`, or the WIT rows
    of `build.bottom_up.rows`): its key, where its image lies, and the WIT fields the prompts fill (the
    record's title, page URL, image URL and caption; context_page_description where the corpus has it)."""
    corpus = cfg.corpus_config()
    if corpus is None:
        raise DataError("build.bottom_up.corpus: not set (or build.bottom_up.rows, a file of WIT rows)")
    for record in read_corpus(corpus, "build.bottom_up.corpus"):
        yield {
            "key": record.key,
            "language": record.language,
            "page_title": record.title,
            "page_url": record.url,
            "image_url": record.image_url,
            "caption_attribution_description": record.text,
            "context_page_description": str(record.meta.get("context_page_description") or ""),
            "image": record.image,
        }


class PhotoStage(Stage):
    """A row's image (where it lies in the corpus) -> its bytes in the dataset's stored format (longest side
    at most `max_side`); unreadable or too large: the row fails."""

    name = "photos"
    inputs = ("image",)
    outputs = ("png",)
    blobs = ("png",)

    def __init__(self, max_side: int, stored: ShardImageConfig | None = None):
        self.max_side, self.stored = max_side, stored or ShardImageConfig()

    def process(self, rows: list[dict]) -> list[dict]:
        return [self._one(r["image"]) for r in rows]

    def _one(self, where) -> dict:
        try:
            image = decoded(io.BytesIO(where.read()))
        except ImageTooLarge as err:
            return {"status": "failed", "reason": f"photos: {where}: too large to decode ({err})"}
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as err:
            return {"status": "failed", "reason": f"photos: {where}: not a readable image ({type(err).__name__})"}
        image.thumbnail((self.max_side, self.max_side), Image.Resampling.BICUBIC)
        return {"png": encode_image(image, self.stored)[1]}


class _PhotoAsk(ChatStage):
    """Asks the route's labeller about each row's photo with the route's prompt file."""

    def __init__(self, cfg: BottomUpRecipeConfig, categories: list[str]):
        super().__init__(cfg.labeller, load_photo_prompts(cfg.photo_prompt_file()), cfg.reasks)
        self.categories = categories

    def _prompts(self, rows: list[dict], prompt: str) -> tuple[list[str], list[bytes]]:
        fields = {"categories": ", ".join(self.categories)}
        texts = [
            self.prompts[prompt].format(
                **fields,
                title=r["page_title"],
                caption=r["caption_attribution_description"],
                context=r["context_page_description"][:600],
                category=r.get("category", ""),
            )
            for r in rows
        ]
        return texts, [r["png"] for r in rows]

    def _category(self, value: object) -> str:
        match = [c for c in self.categories if isinstance(value, str) and c.casefold() == value.strip().casefold()]
        if not match:
            raise ReplyError(f"category {value!r} is not one of {', '.join(self.categories)}")
        return match[0]


class PhotoFilterStage(_PhotoAsk):
    """Keeps a photo that clearly shows a concept of one of the categories; a "no" is a rejection with the reason."""

    name = "filter"
    inputs = ("png", "page_title", "caption_attribution_description", "context_page_description")
    outputs = ("category",)

    def process(self, rows: list[dict]) -> list[dict]:
        def parse(i: int, text: str) -> dict:
            value = first_json(text, dict)
            if not isinstance(value.get("keep"), bool):
                raise ReplyError("field 'keep' is not true or false")
            reason = " ".join(str(value.get("reason") or "").split())
            return {"category": self._category(value.get("category"))} if value["keep"] else {"no": reason}

        texts, images = self._prompts(rows, "filter")
        category = {"type": "string", "enum": [*self.categories, "none"]}
        schema = object_schema({"keep": {"type": "boolean"}, "category": category, "reason": {"type": "string"}})
        out = []
        for value, why in self.ask(texts, parse, images, schema):
            if value is None:
                out.append({"status": "failed", "reason": f"filter: {why}"})
            elif "no" in value:
                out.append({"status": "rejected", "reason": f"filter: not a cultural concept: {value['no']}"})
            else:
                out.append(value)
        return out


class PhotoLabelStage(_PhotoAsk):
    """A kept photo -> its concept, country (an ISO 3166 country, by name or code), category, context and features."""

    name = "labels"
    inputs = ("png", "page_title", "caption_attribution_description", "context_page_description", "category")
    outputs = ("name", "country", "country_code", "label_category", "context", "features")
    reply = ("concept", "country", "category", "context", "features")

    def process(self, rows: list[dict]) -> list[dict]:
        def parse(i: int, text: str) -> dict:
            value = parse_fields(text, self.reply)
            country = iso_country(value["country"])
            return {
                "name": value["concept"],
                "country": country.name,
                "country_code": country.alpha_2,
                "label_category": self._category(value["category"]),
                "context": value["context"],
                "features": value["features"],
            }

        texts, images = self._prompts(rows, "label")
        schema = fields_schema(self.reply, {"category": self.categories})
        return [
            v if v else {"status": "failed", "reason": f"labels: {why}"}
            for v, why in self.ask(texts, parse, images, schema)
        ]


def iso_country(text: str):
    """The ISO 3166-1 country a name or code means (pycountry, fuzzy for names); a ReplyError if none."""
    import pycountry

    try:
        return pycountry.countries.lookup(text.strip())
    except LookupError:
        try:
            return pycountry.countries.search_fuzzy(text.strip())[0]
        except LookupError:
            raise ReplyError(f"country {text!r} is not an ISO 3166 country") from None
