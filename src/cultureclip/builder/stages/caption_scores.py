"""Caption-quality scores measured without a chat model, one stage each.

`AgreementStage`: `caption_clip`, the judge CLIP's cosine of a row's image and its caption.
`CoverageStage`: `detail_coverage`, the share of the concept's distinguishing details (the catalogue's
`distinguishing`, or the twin prompt's `features`) that the caption states, and `details_missing`, the
ones it does not. The details are the comma-, semicolon- or "and"-separated parts of that text; a detail
is stated when at least `detail_share` of its content words (words of two letters or more outside
scikit-learn's English stop words) are among the caption's words, a word matching one that is equal to it
or, for words of five letters or more, starts with the same five letters ("pleats" states "pleated"). A
row without details gets None.

`caption_quality` puts the scores given on 0-1 (`unit_scores`) and takes their mean.
"""

import re

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from cultureclip.builder.stage import Stage
from cultureclip.builder.stages.clip_filter import JudgeClipStage
from cultureclip.data.text import fold

STEM = 5
CLIPSCORE_W = 2.5
"""CLIPScore's weight (Hessel et al. 2021): min(1, 2.5 max(cos, 0)) puts a CLIP cosine on 0-1."""
_SPLIT = re.compile(r"[,;.]|\band\b")
_WORD = re.compile(r"[a-z0-9]{2,}")


class AgreementStage(JudgeClipStage):
    """Rows with `png` and the caption field `text` -> `out`, their image-caption cosine by the judge CLIP."""

    name = "agreement"

    def __init__(self, clip: str, text: str = "caption", out: str = "caption_clip"):
        super().__init__(clip)
        self.inputs, self.outputs, self.text, self.out = ("png", text), (out,), text, out

    def process(self, rows: list[dict]) -> list[dict]:
        images, texts = self.embed([r["png"] for r in rows], [r[self.text] for r in rows])
        return [{self.out: float(s)} for s in (images * texts).sum(dim=1)]


class CoverageStage(Stage):
    """Rows with the caption field `text` and `details` -> `detail_coverage` and `details_missing` (see above)."""

    name = "coverage"

    def __init__(self, share: float, text: str = "caption", prefix: str = ""):
        self.share, self.text = share, text
        self.inputs = (text, "details")
        self.outputs = (f"{prefix}detail_coverage", f"{prefix}details_missing")

    def process(self, rows: list[dict]) -> list[dict]:
        results = [detail_coverage(r[self.text], r["details"], self.share) for r in rows]
        return [dict(zip(self.outputs, result, strict=True)) for result in results]


def detail_coverage(caption: str, details: str | None, share: float) -> tuple[float | None, list[str]]:
    """(share of the details stated, the details not stated); (None, []) when there are none."""
    phrases = [(p.strip(), _content(p)) for p in _SPLIT.split(details or "")]
    phrases = [(text, words) for text, words in phrases if words]
    if not phrases:
        return None, []
    said = _WORD.findall(fold(caption))
    missing = [text for text, words in phrases if sum(_said(w, said) for w in words) < share * len(words)]
    return (len(phrases) - len(missing)) / len(phrases), missing


def _content(text: str) -> list[str]:
    return [w for w in _WORD.findall(fold(text)) if w not in ENGLISH_STOP_WORDS]


def _said(word: str, said: list[str]) -> bool:
    return any(w == word or (len(w) >= STEM and len(word) >= STEM and w[:STEM] == word[:STEM]) for w in said)


def unit_scores(scores: dict, prefix: str = "") -> dict[str, float]:
    """The scores given (`prefix`ed fields of `scores`), each on 0-1: `detail_coverage` as it is,
    `caption_clip` as CLIPScore, `rubric_score` (1-5) as (s - 1) / 4."""
    clip, coverage, rubric = (scores.get(f"{prefix}{k}") for k in ("caption_clip", "detail_coverage", "rubric_score"))
    units = {"caption_clip": None if clip is None else min(1.0, CLIPSCORE_W * max(clip, 0.0))}
    units |= {"detail_coverage": coverage, "rubric_score": None if rubric is None else (rubric - 1) / 4}
    return {k: v for k, v in units.items() if v is not None}


def caption_quality(scores: dict, prefix: str = "") -> float | None:
    """The mean of `unit_scores`; None when no score is given."""
    units = unit_scores(scores, prefix)
    return sum(units.values()) / len(units) if units else None
