"""What one catalogue row is: a cultural concept, its twin group, and its renderable attributes.

Two levels of the same schema:
- `ConceptSketch`: the least a row needs for twin mining (`catalog twins`): id, name, culture,
  category and a visual description; every other field is optional.
- `Concept`: a complete row, what the shipped catalogue and the dataset builder need. Its fields:

  id              stable kebab-case id, unique across the catalogue
  name            the usual English (romanised) name
  names           its names in its own languages, ISO 639-1 code -> name (optional), each in its
                  language's script (`catalog check`); the first is its culture's language, the one
                  `catalog.language: native` prompts use, e.g. {zh: 饺子}
  culture         a country or a people, e.g. "Korea", "Maasai"
  country         ISO 3166-1 alpha-2 code of where it comes from, where one applies (a people: its
                  main country; none for a concept shared by many countries, e.g. the Arab oud)
  category        one of the catalogue's categories (catalog.categories; default CATEGORIES)
  generic         the plain noun a generic caption uses ("a photo of a dumpling")
  visual          what a camera sees: shape, colour, material, texture, setting
  distinguishing  what visibly tells it apart from its twins
  context         where, when, by whom, what it means
  twin_group      the curated group of look-alikes from other cultures it belongs to (optional)
  twins           further ids of look-alikes (optional; each must exist in the catalogue)
  attributes      the offline renderer's input: shape, body, accent, pattern, detail
  sources         links that document it (optional)
"""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from cultureclip.backends.image.procedural import COLORS, DETAILS, PATTERNS, SHAPES

CATEGORIES = (
    "dish",
    "bread",
    "drink",
    "garment",
    "headwear",
    "footwear",
    "building",
    "instrument",
    "craft",
    "festival",
    "game",
)

RELATED_CATEGORIES: dict[str, list[str]] = {
    "dish": ["bread"],
    "bread": ["dish"],
    "garment": ["headwear", "footwear"],
    "headwear": ["garment"],
    "footwear": ["garment"],
    "festival": ["game"],
    "game": ["festival"],
}
"""Categories whose concepts may be twins of each other's (twin mining's default `mining.related`)."""
CAPTION_FIELDS = ("name", "culture", "generic", "visual", "distinguishing", "context")
"""Fields the caption writers put into captions: each must fit in CLIP's 77-token context."""
KEBAB = r"^[a-z0-9][a-z0-9-]*$"
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]
"""An ISO 639-1 language code's shape (two lower-case letters; `catalog check` checks it is one)."""


def _one_of(name: str, allowed: tuple[str, ...]):
    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"{name} {value!r} is not one of {', '.join(allowed)}")
        return value

    return check


class VisualAttributes(BaseModel):
    """Structured look of a concept, the procedural renderer's input."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    shape: str
    body: str
    accent: str
    pattern: str
    detail: str

    _shape = field_validator("shape")(_one_of("shape", SHAPES))
    _body = field_validator("body")(_one_of("colour", tuple(COLORS)))
    _accent = field_validator("accent")(_one_of("colour", tuple(COLORS)))
    _pattern = field_validator("pattern")(_one_of("pattern", PATTERNS))
    _detail = field_validator("detail")(_one_of("detail", DETAILS))


class ConceptSketch(BaseModel):
    """A catalogue row with only what twin mining needs; see the module docstring for every field."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=KEBAB)
    name: str = Field(min_length=1)
    names: dict[LanguageCode, Annotated[str, StringConstraints(min_length=1)]] = {}
    culture: str = Field(min_length=1)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    category: str
    generic: str | None = None
    visual: str = Field(min_length=1)
    distinguishing: str | None = None
    context: str | None = None
    twin_group: str | None = Field(default=None, pattern=KEBAB)
    twins: tuple[str, ...] = ()
    attributes: VisualAttributes | None = None
    sources: tuple[str, ...] = ()

    @field_validator("category")
    @classmethod
    def _category(cls, category: str, info: ValidationInfo) -> str:
        """One of the catalogue's vocabulary: `categories` in the validation context, else CATEGORIES."""
        allowed = (info.context or {}).get("categories")
        if allowed is None and category not in CATEGORIES:
            raise ValueError(
                f"category {category!r} is not one of {', '.join(CATEGORIES)} (declare your own in catalog.categories)"
            )
        return _one_of("category", tuple(allowed or CATEGORIES))(category)

    @field_validator("names", mode="before")
    @classmethod
    def _yaml_booleans(cls, names: object) -> object:
        """YAML reads an unquoted `no` (Norwegian) as false: say so rather than 'not a valid string'."""
        if isinstance(names, dict) and any(isinstance(k, bool) for k in names):
            raise ValueError('a language code read as a boolean: quote it ("no": ...), YAML reads no as false')
        return names

    @field_validator("sources")
    @classmethod
    def _urls(cls, sources: tuple[str, ...]) -> tuple[str, ...]:
        for url in sources:
            if not url.startswith(("https://", "http://")):
                raise ValueError(f"source {url!r} is not an http(s) URL")
        return sources

    def name_in(self, language: str) -> str | None:
        """Its name in `language`: `en` its name, `native` the first of its names (its culture's language), an
        ISO 639-1 code its name in that language; None where it has none."""
        if language == "en":
            return self.name
        if language == "native":
            return next(iter(self.names.values()), None)
        return self.names.get(language)

    def named(self, language: str) -> "ConceptSketch":
        """The concept with its name in `language` where it has one (else its English name), for prompts."""
        name = self.name_in(language)
        return self if name is None or name == self.name else self.model_copy(update={"name": name})


class Concept(ConceptSketch):
    """A complete catalogue row: every field but names, country, twin_group, twins and sources is required."""

    generic: str = Field(min_length=1)
    distinguishing: str = Field(min_length=1)
    context: str = Field(min_length=1)
    attributes: VisualAttributes
