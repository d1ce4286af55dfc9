"""Rendering shared by both reports: report.md, and report.html from the same Markdown with every local
figure inlined, so the file stands alone; and the delta cell of the tables."""

import base64
import re
from pathlib import Path

from cultureclip.io import write_text

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;font-size:14px}"
    "th{background:#f3f3f3}img{max-width:100%}"
)


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
    """Render the Markdown and inline every local image as a data URI, so the file stands alone."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark").enable("table").render(markdown)

    def inline(match: re.Match) -> str:
        path = out / match.group(1)
        if not path.is_file():
            return match.group(0)
        return f'src="data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()}"'

    body = re.sub(r'src="([^":]+)"', inline, body)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>cultureclip evaluation</title>"
        f"<style>{STYLE}</style></head><body>{body}</body></html>\n"
    )
