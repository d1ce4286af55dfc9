"""Rendering shared by both reports: report.md, and report.html from the same Markdown with the report's own
figures inlined, so the file stands alone; and the delta cell of the tables.

One escaping rule for everything rendered: a report's Markdown is its own text plus values from data
(concept names, captions, model names and ids, paths, reasons), and every such value goes in through
`text` (or `code`), which makes it literal text in any Markdown renderer: no tag, link, image or table
cell can come out of a caption. report.html is rendered with raw HTML off, and only images that are the
report's own figure files (PNG, inside its folder, no link) are inlined; any other image is shown as its
alt text.
"""

import base64
import os
import re
from pathlib import Path, PurePosixPath

from cultureclip.io import write_text

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;font-size:14px}"
    "th{background:#f3f3f3}img{max-width:100%}"
)
_BREAKS = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")
"""Line breaks and control characters: a value stays on its line (and in its table cell)."""
_INLINE = re.compile(r"([\\`*\[\]<>!|&~])|(?<![^\W_])_|_(?![^\W_])")
"""What makes inline Markdown: code, emphasis, links, images, raw HTML, entities, table cells, strikethrough
(an underscore inside a word, `blue_bowl`, emphasises nothing and stays as it is)."""
_BLOCK = re.compile(r"([#+=-])|(\d{1,9})([.)])")
"""What starts a block when a value begins a line (heading, list, setext underline, thematic break)."""
FIGURE = re.compile(r"(?:[A-Za-z0-9_.-]+/)?[A-Za-z0-9_.-]+\.png")
"""The relative paths a report's figures have (`twins.png`, `plots/held-out-choice-per_category.png`)."""


def text(value: object) -> str:
    """`value` as literal Markdown text on one line: control characters and line breaks become spaces, every
    character that starts inline Markdown or HTML is backslash-escaped, and so is a block marker it begins
    with (a value may start a line: a note, a list item's text)."""
    escaped = _INLINE.sub(lambda m: "\\" + m.group(0), _BREAKS.sub(" ", str(value))).lstrip()
    block = _BLOCK.match(escaped)
    if block is None:
        return escaped
    cut = block.end() - 1
    return escaped[:cut] + "\\" + escaped[cut:]


def code(value: object) -> str:
    """`value` as a code span when one holds it verbatim (no backtick, table pipe or line break), else as `text`."""
    value = str(value)
    if not value.strip() or _BREAKS.search(value) or "`" in value or "|" in value:
        return text(value)
    return f"`{value}`"


def write_markdown_and_html(markdown: str, out: Path) -> None:
    """report.md and report.html (the same content) into `out`."""
    write_text(out / "report.md", markdown)
    write_text(out / "report.html", to_html(markdown, out))


def format_delta(entry: dict | None) -> str:
    """'+0.012 [-0.004, +0.030]': a delta and its 95% interval (empty without one)."""
    if entry is None:
        return ""
    ci = entry["ci95"]
    return f"{entry['delta']:+.3f}" + (f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else "")


def to_html(markdown: str, out: Path) -> str:
    """Render the Markdown (raw HTML off) and inline the report's own figures as data URIs."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = md.parse(markdown)
    for token in tokens:
        for child in token.children or []:
            if child.type == "image":
                data = figure_uri(out, child.attrGet("src") or "")
                if data is None:  # not one of the report's figures: its alt text, no request, no file read
                    alt = md.renderer.renderInlineAsText(child.children or [], md.options, {})
                    child.type, child.tag, child.attrs, child.children, child.content = "text", "", {}, None, alt
                else:
                    child.attrSet("src", data)
    body = md.renderer.render(tokens, md.options, {})
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>cultureclip evaluation</title>"
        f"<style>{STYLE}</style></head><body>{body}</body></html>\n"
    )


def figure_uri(out: Path, src: str) -> str | None:
    """The PNG at `src` as a data URI when `src` names a figure file inside `out` (relative, no `..`, the
    file itself and its folder no link, inside `out` once resolved); None for anything else."""
    if not FIGURE.fullmatch(src) or ".." in PurePosixPath(src).parts:
        return None
    path = Path(out) / src
    root = os.path.realpath(out)
    if path.is_symlink() or path.parent.is_symlink() or not path.is_file():
        return None
    if os.path.commonpath([root, os.path.realpath(path)]) != root:
        return None
    return f"data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()}"
