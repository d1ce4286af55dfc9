"""The guide's table of contents lists every `##` section in order, each link an anchor that exists (GitHub's
heading slugs), and every link into the guide from the README and results.md lands on a heading."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "guide.md"


def headings(text: str) -> list[tuple[int, str]]:
    """(level, title) of each Markdown heading outside fenced code."""
    found, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (m := re.match(r"(#{1,6}) (.+)", line)):
            found.append((len(m.group(1)), m.group(2).strip()))
    return found


def slug(title: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation but `-` and `_` dropped, spaces as `-`."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def contents(text: str) -> list[tuple[str, str]]:
    """(title, anchor) of each entry of the guide's Contents section."""
    block = text.split("\n## Contents\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\s*- \[(.+)\]\(#([^)]+)\)$", block, re.M)


def test_slugs_follow_github():
    assert slug("Comparing models: `cultureclip compare`") == "comparing-models-cultureclip-compare"
    assert slug("Real photos (`--config lite-towers`)") == "real-photos---config-lite-towers"


def test_every_section_is_in_the_contents_in_order_with_a_working_anchor():
    text = GUIDE.read_text()
    sections = [(title, slug(title)) for level, title in headings(text) if level in (2, 3) and title != "Contents"]
    anchors = {slug(title) for _, title in headings(text)}
    assert len(anchors) == len(headings(text)), "two headings share an anchor"
    listed = contents(text)
    assert listed == sections
    assert all(anchor in anchors for _, anchor in listed)


def test_links_into_the_guide_land_on_a_heading():
    anchors = {slug(title) for _, title in headings(GUIDE.read_text())}
    for doc in (ROOT / "README.md", ROOT / "docs" / "results.md"):
        for anchor in re.findall(r"guide\.md#([^)\s]+)\)", doc.read_text()):
            assert anchor in anchors, f"{doc.name}: link to guide.md#{anchor}, no such heading"
