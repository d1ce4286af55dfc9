"""What one catalogue row is: a cultural concept, its twin group, and its renderable attributes."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cultureclip.backends.procedural import COLORS, DETAILS, PATTERNS, SHAPES

CATEGORIES = ("dish", "garment", "building", "instrument", "craft", "festival")


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


class Concept(BaseModel):
    """One cultural concept; `twin_group` links it to its look-alikes from other cultures."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str = Field(min_length=1)
    native_name: str | None = None
    culture: str = Field(min_length=1)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    category: Literal["dish", "garment", "building", "instrument", "craft", "festival"]
    generic: str = Field(min_length=1)
    """The plain noun a generic caption uses: 'a photo of a dumpling'."""
    visual: str = Field(min_length=1)
    distinguishing: str = Field(min_length=1)
    context: str = Field(min_length=1)
    twin_group: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    attributes: VisualAttributes
