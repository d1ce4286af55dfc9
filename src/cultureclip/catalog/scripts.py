"""Which Unicode scripts each language is written in, and the check that a concept's name in a language
uses them (`catalog check`): 饺子 is Han, so a `zh` name; 'jiaozi' is Latin, so not.

A name may also hold characters common to every script (spaces, digits, punctuation, the Japanese
long-vowel mark ー) and combining marks; it needs at least one letter of its language's script.
Script properties come from the `regex` module's Unicode tables (Script and Script_Extensions).
"""

from functools import cache

import regex

LATIN = (
    "af ak ay bm br bs ca co cs cy da de ee en eo es et eu fi fj fo fr ga gd gl gn ha ht hr hu id ig is it jv ki "
    "la lb lg ln lt lv mg mi ms mt nb nl nn no nv ny oc oj om pl pt qu rm ro rw se sk sl sm sn so sq st su sv sw "
    "tk tl tn to tr ts tw ve vi wo xh yo zu"
)
"""Languages written in the Latin script."""
SCRIPTS: dict[str, tuple[str, ...]] = {
    **{code: ("Latin",) for code in LATIN.split()},
    "zh": ("Han",),
    "ja": ("Han", "Hiragana", "Katakana"),
    "ko": ("Hangul",),
    **{code: ("Cyrillic",) for code in ("ru", "uk", "be", "bg", "mk", "ky", "tg", "tt", "ba", "cv", "ce", "os", "kv")},
    "sr": ("Cyrillic", "Latin"),
    "kk": ("Cyrillic", "Latin"),
    "uz": ("Latin", "Cyrillic"),
    "az": ("Latin", "Cyrillic"),
    "mn": ("Cyrillic", "Mongolian"),
    "ku": ("Latin", "Arabic"),
    **{code: ("Arabic",) for code in ("ar", "fa", "ur", "ps", "sd", "ug")},
    **{code: ("Hebrew",) for code in ("he", "yi")},
    **{code: ("Devanagari",) for code in ("hi", "mr", "ne", "sa")},
    **{code: ("Bengali",) for code in ("bn", "as")},
    "pa": ("Gurmukhi",),
    "gu": ("Gujarati",),
    "or": ("Oriya",),
    "ta": ("Tamil",),
    "te": ("Telugu",),
    "kn": ("Kannada",),
    "ml": ("Malayalam",),
    "si": ("Sinhala",),
    "th": ("Thai",),
    "lo": ("Lao",),
    "km": ("Khmer",),
    "my": ("Myanmar",),
    **{code: ("Tibetan",) for code in ("bo", "dz")},
    "ka": ("Georgian",),
    "hy": ("Armenian",),
    **{code: ("Ethiopic",) for code in ("am", "ti")},
    "el": ("Greek",),
    **{code: ("Canadian_Aboriginal",) for code in ("iu", "cr")},
    "dv": ("Thaana",),
}
"""ISO 639-1 language code -> the Unicode scripts (Script property values) its names may use."""


@cache
def _pattern(scripts: tuple[str, ...]) -> tuple[regex.Pattern, regex.Pattern]:
    """(one letter of `scripts`, one character allowed in a name of `scripts`)."""
    own = "".join(rf"\p{{Script={s}}}" for s in scripts)
    extended = "".join(rf"\p{{Script_Extensions={s}}}" for s in scripts)
    return regex.compile(f"[{own}]"), regex.compile(rf"[{extended}\p{{Script=Common}}\p{{Script=Inherited}}]")


def script_problem(language: str, name: str) -> str | None:
    """Why `name` is not written in `language`'s script, or None when it is (a language missing from SCRIPTS
    is a problem too: its names cannot be checked)."""
    scripts = SCRIPTS.get(language)
    if scripts is None:
        return f"no script on record for language {language!r} (cultureclip/catalog/scripts.py)"
    letter, allowed = _pattern(scripts)
    stray = next((ch for ch in name if not allowed.match(ch)), None)
    if stray is not None:
        return f"{name!r} has {stray!r} (U+{ord(stray):04X}), not of {' / '.join(scripts)}, the script of {language!r}"
    if not letter.search(name):
        return f"{name!r} has no letter of {' / '.join(scripts)}, the script of {language!r}"
    return None


@cache
def iso_639_1() -> frozenset[str]:
    """The two-letter ISO 639-1 language codes."""
    import pycountry

    return frozenset(lang.alpha_2 for lang in pycountry.languages if hasattr(lang, "alpha_2"))
