"""The bottom-up route's stages: real photos in (WIT rows), cultural concepts out.

`PhotoStage` reads each row's local image once into its stored format's bytes (a blob, so the later stages and the
dataset read it from the work folder); `PhotoFilterStage` asks a vision-language model whether the
photo clearly shows a concept of one of the categories (a "no" is a rejection with the model's
reason); `PhotoLabelStage` asks it for the concept, its country (mapped to ISO 3166), category,
context and key visual features. Broken replies are asked again with the reason, then the row fails
with it (`ChatStage`).
"""

import json
import re
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from cultureclip.builder.prompts import load_prompt_file
from cultureclip.builder.stage import Stage
from cultureclip.builder.stages.chat import ChatStage
from cultureclip.builder.stages.replies import ReplyError, fields_schema, first_json, object_schema, parse_fields
from cultureclip.config import BottomUpRecipeConfig, ShardImageConfig
from cultureclip.data.images import ImageTooLarge, decoded
from cultureclip.data.shards import encode_image
from cultureclip.errors import DataError
from cultureclip.io import within

PROMPT_KEYS = ("version", "filter", "label", "reask")
WIT_FIELDS = ("page_title", "page_url", "image_url", "caption_attribution_description", "context_page_description")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
KEY = re.compile(r"[\w-]+")
"""A row's key names its sample's tar members and image file: no '.', '/' or space."""


def load_photo_prompts(name: str) -> dict[str, str]:
    """The route's prompt file (a shipped name or a path), checked for every prompt it needs."""
    return load_prompt_file(name, "build.bottom_up.photo_prompts", dict.fromkeys(PROMPT_KEYS, str))


def read_wit_rows(cfg: BottomUpRecipeConfig) -> list[dict]:
    """The rows of `cfg.rows` (a .json list, .jsonl or .parquet in the WIT layout), each with its key,
    its text fields and the local image file (a missing field or image is one line naming the row)."""
    path = cfg.rows
    if path is None or not Path(path).is_file():
        raise DataError(f"build.bottom_up.rows: {path}: no such file of image-text rows")
    path = Path(path)
    if path.suffix == ".parquet":
        from cultureclip.data.tables import read_table

        raw = read_table(path).to_pylist()
    else:
        raw = _json_rows(path)
    rows = []
    for i, row in enumerate(raw):
        title = row.get("page_title") if isinstance(row, dict) else None
        if not isinstance(title, str) or not title.strip():
            raise DataError(f"{path}: row {i}: field 'page_title' is missing")
        key = str(row.get("key") or i)
        if not KEY.fullmatch(key):
            raise DataError(f"{path}: row {i}: key {key!r} is not a sample key (letters, digits, '_' and '-' only)")
        fields = {f: str(row.get(f) or "") for f in WIT_FIELDS}
        rows.append(
            {"key": key, "language": str(row.get("language") or ""), **fields, "file": _image(path, row, key, cfg)}
        )
    return rows


def _json_rows(path: Path) -> list:
    """The rows of a .json list or a .jsonl file; unreadable text or JSON is one line naming the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not a UTF-8 text file (byte {err.start})") from None
    lines = [text] if path.suffix == ".json" else text.splitlines()
    rows = []
    for n, line in enumerate(lines, 1):
        try:
            rows += [json.loads(line)] if line.strip() else []
        except (json.JSONDecodeError, RecursionError) as err:
            where = f"line {getattr(err, 'lineno', 1) if path.suffix == '.json' else n}"
            raise DataError(f"{path}: not valid JSON ({where})") from None
    if path.suffix == ".json":
        if not rows or not isinstance(rows[0], list):
            raise DataError(f"{path}: expected a JSON list of rows")
        rows = rows[0]
    return rows


def _image(path: Path, row: dict, key: str, cfg: BottomUpRecipeConfig) -> str:
    """The row's image file: its `image_path` inside the rows' folder or `build.bottom_up.images` (a path
    that leads elsewhere is refused), else `<images>/<key>.<suffix>`."""
    if row.get("image_path"):
        named = str(row["image_path"])
        file = Path(named) if Path(named).is_absolute() else path.parent / named
        roots = [path.parent, *([Path(cfg.images)] if cfg.images is not None else [])]
        if ".." in Path(named).parts or not any(within(root, file) for root in roots):
            raise DataError(
                f"{path}: row {key}: image_path {named!r} is outside the rows' folder; set "
                "build.bottom_up.images to the folder that holds the images"
            )
        return str(file)
    if cfg.images is None:
        raise DataError(f"{path}: row {key}: no image_path, and no build.bottom_up.images folder")
    found = [Path(cfg.images) / f"{key}{suffix}" for suffix in IMAGE_SUFFIXES]
    return str(next((f for f in found if f.is_file()), found[0]))


class PhotoStage(Stage):
    """A row's image file -> its bytes in the dataset's stored format (longest side at most `max_side`);
    unreadable: the row fails."""

    name = "photos"
    inputs = ("file",)
    outputs = ("png",)
    blobs = ("png",)

    def __init__(self, max_side: int, stored: ShardImageConfig | None = None):
        self.max_side, self.stored = max_side, stored or ShardImageConfig()

    def process(self, rows: list[dict]) -> list[dict]:
        return [self._one(r["file"]) for r in rows]

    def _one(self, file: str) -> dict:
        try:
            image = decoded(file)
        except ImageTooLarge as err:
            return {"status": "failed", "reason": f"photos: {file}: too large to decode ({err})"}
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as err:
            return {"status": "failed", "reason": f"photos: {file}: not a readable image ({type(err).__name__})"}
        image.thumbnail((self.max_side, self.max_side), Image.Resampling.BICUBIC)
        return {"png": encode_image(image, self.stored)[1]}


class _PhotoAsk(ChatStage):
    """Asks the route's labeller about each row's photo with the route's prompt file."""

    def __init__(self, cfg: BottomUpRecipeConfig, categories: list[str]):
        super().__init__(cfg.labeller, load_photo_prompts(cfg.photo_prompts), cfg.reasks)
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
