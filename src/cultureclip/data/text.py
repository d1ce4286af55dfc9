"""Text helpers shared by the builder, its recipes and the evaluator: templates, ids, matching."""

import re
import unicodedata
from collections.abc import Mapping


def article(noun: str) -> str:
    """'a' or 'an' for `noun`, by its first letter."""
    return "an" if noun[:1].lower() in "aeiou" else "a"


def fill(template: str, fields: Mapping[str, str]) -> str:
    """Fill a caption template; {a}/{A} become the article of the generic noun."""
    a = article(fields.get("generic", ""))
    return template.format(**fields, a=a, A=a.capitalize(), article=a)


def slug(text: str) -> str:
    """A concept name as an id: lower case, runs of non-alphanumerics turned into one '-'."""
    return re.sub(r"[^0-9a-z]+", "-", text.lower()).strip("-") or "concept"


def fold(text: str) -> str:
    """Lower case without accents, so 'Áo dài' matches 'ao dai'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))
