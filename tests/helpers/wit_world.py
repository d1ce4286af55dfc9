"""The bottom-up route's world: WIT-layout rows of a few pages with local photos, the vision-language model that
filters, labels, writes twins and captions and judges them, scripted for a loopback server (`ChatServer(vlm)`),
and the `build` arguments of the `paper-bottom-up` preset at tiny sizes."""

import json
import re
from pathlib import Path

import numpy as np
from PIL import Image

PAGES = {
    "Xiaolongbao": ("Cuisine", "China"),
    "Map of Europe": None,
    "Hanbok": ("Clothing", "KR"),
    "Mystery dish": ("Cuisine", "Atlantis"),
}
TWINS = {"Xiaolongbao": ("Gyoza", "Japan"), "Hanbok": ("Hanfu", "China")}
KEYS = ("authenticity", "consistency", "cultural_fidelity")


FILTER = r'Wikipedia page "(.+?)"\. Its caption|This image comes with the caption .*?title, if known: "(.+?)"'
LABEL = r'Wikipedia page "(.+?)" \(category|This image \(category "[^"]*"\) comes .*?title, if known: "(.+?)"'
"""The page title in the route's filter and label prompts: bottom-up-v1's (WIT rows) or bottom-up-corpus-v1's."""


def vlm(prompt: str, attempt: int) -> tuple[int, str, float]:
    """The route's filter and labeller, then the reference's twin, captions and judge, scripted."""
    reasked = "previous reply was rejected" in prompt
    if match := re.search(FILTER, prompt, re.S):
        page = PAGES[match[1] or match[2]]
        if page is None:
            return 200, json.dumps({"keep": False, "category": "none", "reason": "a map, not a concept"}), 0
        return 200, json.dumps({"keep": True, "category": page[0].lower(), "reason": "a cultural concept"}), 0
    if match := re.search(LABEL, prompt, re.S):
        title = match[1] or match[2]
        category, country = PAGES[title]
        if title == "Hanbok" and not reasked:
            return 200, "It is a hanbok, the Korean dress.", 0
        reply = {
            "concept": title,
            "country": country,
            "category": category,
            "context": f"{title} matters.",
            "features": f"the look of {title}",
        }
        return 200, json.dumps(reply), 0
    if match := re.search(r"Concept: (.+?), from", prompt):
        twin, country = TWINS[match[1]]
        return 200, json.dumps({"concept": twin, "country": country, "context": f"{twin}.", "features": "colours"}), 0
    if match := re.search(r"Write 2 image captions of (.+?) \(", prompt):
        return 200, json.dumps([f"{match[1]} at home.", f"{match[1]} on a table."]), 0
    if re.search(r'caption "(.+?)"\. It should show', prompt):
        return 200, json.dumps({k: {"score": 4, "reason": f"{k} is 4"} for k in KEYS}), 0
    return 400, "unexpected prompt", 0


def write_wit(root: Path) -> Path:
    """WIT-layout rows (`wit.jsonl`) of the pages in PAGES, each with a local photo beside them."""
    rows = []
    for i, title in enumerate(PAGES):
        Image.fromarray(np.full((12, 10, 3), 30 * i + 5, dtype=np.uint8)).save(root / f"p{i}.jpg")
        rows.append(
            {
                "language": "en",
                "page_title": title,
                "page_url": f"https://en.wikipedia.org/wiki/{title.replace(' ', '_')}",
                "image_url": f"https://upload.wikimedia.org/{i}.jpg",
                "caption_attribution_description": f"A photo of {title}, by Someone (CC BY-SA 4.0)",
                "context_page_description": f"{title} is described here.",
                "image_path": f"p{i}.jpg",
            }
        )
    (root / "wit.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def bottom_up_argv(wit, out, url, corpus=None):
    model = ["name=openai:fake-vlm", f"base_url={url}", "backoff_s=0.01", "temperature=0"]
    corpus = corpus or [f"build.bottom_up.rows={wit / 'wit.jsonl'}"]
    return [
        "build", "--preset", "paper-bottom-up", "--out", str(out), *corpus,
        *[f"build.bottom_up.{role}.{m}" for role in ("labeller", "generator") for m in model],
        *[f"judge.model.{m}" for m in model], "judge.reasks=1",
        "build.renderer=tiny:sd", "build.image_size=16", "build.images.steps=1", "executor.chunk_rows=16",
        "build.bottom_up.captions_per_concept=2", "build.bottom_up.test_every=0", "build.bottom_up.reasks=1",
        "model.name=config:test-clip",
    ]  # fmt: skip
