"""The bottom-up recipe on a handful of WIT-layout rows with local images: a scripted OpenAI-compatible
vision-language model on loopback filters, labels, writes twins and captions and judges; `tiny:sd` renders."""

import json
import re

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from cultureclip.cli import main
from cultureclip.data.shards import read_manifest
from helpers.chat_server import ChatServer

PAGES = {
    "Xiaolongbao": ("Cuisine", "China"),
    "Map of Europe": None,
    "Hanbok": ("Clothing", "KR"),
    "Mystery dish": ("Cuisine", "Atlantis"),
}
TWINS = {"Xiaolongbao": ("Gyoza", "Japan"), "Hanbok": ("Hanfu", "China")}
KEYS = ("authenticity", "consistency", "cultural_fidelity")


def vlm(prompt: str, attempt: int) -> tuple[int, str, float]:
    """The route's filter and labeller, then the reference's twin, captions and judge, scripted."""
    reasked = "previous reply was rejected" in prompt
    if match := re.search(r'Wikipedia page "(.+?)"\. Its caption', prompt):
        page = PAGES[match[1]]
        if page is None:
            return 200, json.dumps({"keep": False, "category": "none", "reason": "a map, not a concept"}), 0
        return 200, json.dumps({"keep": True, "category": page[0].lower(), "reason": "a cultural concept"}), 0
    if match := re.search(r'Wikipedia page "(.+?)" \(category', prompt):
        category, country = PAGES[match[1]]
        if match[1] == "Hanbok" and not reasked:
            return 200, "It is a hanbok, the Korean dress.", 0
        reply = {
            "concept": match[1],
            "country": country,
            "category": category,
            "context": f"{match[1]} matters.",
            "features": f"the look of {match[1]}",
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


@pytest.fixture(scope="module")
def wit(tmp_path_factory):
    root = tmp_path_factory.mktemp("wit")
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


def _argv(wit, out, url):
    model = ["name=openai:fake-vlm", f"base_url={url}", "backoff_s=0.01", "temperature=0"]
    return [
        "build", "--preset", "paper-bottom-up", "--out", str(out), f"build.bottom_up.rows={wit / 'wit.jsonl'}",
        *[f"build.bottom_up.{role}.{m}" for role in ("labeller", "generator") for m in model],
        *[f"judge.model.{m}" for m in model], "judge.reasks=1",
        "build.renderer=tiny:sd", "build.image_size=16", "build.images.steps=1", "executor.chunk_rows=16",
        "build.bottom_up.captions_per_concept=2", "build.bottom_up.test_every=0", "build.bottom_up.reasks=1",
        "model.name=config:test-clip",
    ]  # fmt: skip


def test_photos_are_filtered_labelled_checked_twinned_rendered_and_kept_beside_the_renders(wit, tmp_path):
    with ChatServer(vlm) as server:
        assert main(_argv(wit, tmp_path, server.url)) == 0
        asked = sum(server.attempts.values())
        labels = [n for prompt, n in server.attempts.items() if 'page "Hanbok" (category' in prompt]
        assert labels == [1, 1]  # asked, then re-asked with the reason (its first reply was prose)
        assert main(_argv(wit, tmp_path, server.url)) == 0  # finished: skipped, nothing asked again
        assert sum(server.attempts.values()) == asked
    data = tmp_path / "data"
    photos = pq.read_table(data / "photos.parquet").to_pylist()
    assert [(p["page_title"], p["decision"], p["country"], p["label_category"]) for p in photos] == [
        ("Xiaolongbao", "labelled", "China", "Cuisine"),
        ("Map of Europe", "rejected", None, None),
        ("Hanbok", "labelled", "Korea, Republic of", "Clothing"),
        ("Mystery dish", "failed", None, None),
    ]
    assert photos[1]["reason"] == "filter: not a cultural concept: a map, not a concept"
    assert photos[3]["reason"].startswith("labels: country 'Atlantis' is not an ISO 3166 country")
    rows = read_manifest(data)
    real = [r for r in rows if r["source"] == "photo"]
    assert [(r["name"], r["culture"], r["twin_ids"], r["url"]) for r in real] == [
        ("Xiaolongbao", "China", ["japan-gyoza"], "https://en.wikipedia.org/wiki/Xiaolongbao"),
        ("Hanbok", "Korea, Republic of", ["china-hanfu"], "https://en.wikipedia.org/wiki/Hanbok"),
    ]
    rendered = [r for r in rows if r["source"] == "rendered"]
    assert len(rendered) == 2 * 2 * 2 and all(r["status"] == "kept" for r in rows)  # 2 pairs x 2 members x 2 captions
    assert {r["twin_group"] for r in real} == {r["twin_group"] for r in rendered}
    card = (data / "card.md").read_text()
    assert "| China | photos 1, rendered 4 |" in card and "| labeller | openai:fake-vlm |" in card


def test_a_killed_build_resumes_without_asking_again_for_the_photos_it_finished(wit, tmp_path, monkeypatch):
    from cultureclip.builder.stages.photos import PhotoLabelStage

    labelled, killed, process = [], [], PhotoLabelStage.process

    def once(self, rows):
        if labelled and not killed:
            killed.append(True)
            raise KeyboardInterrupt  # killed after the first saved chunk of labels
        labelled.extend(r["page_title"] for r in rows)
        return process(self, rows)

    monkeypatch.setattr(PhotoLabelStage, "process", once)
    argv = [*_argv(wit, tmp_path, "URL"), "executor.chunk_rows=1"]
    with ChatServer(vlm) as server:
        argv = [a.replace("URL", server.url) for a in argv]
        assert main(argv) == 130 and not (tmp_path / "data").exists()
        assert main(argv) == 0
    filters = [n for prompt, n in server.attempts.items() if "Does the image clearly show" in prompt]
    assert filters == [1, 1, 1, 1]  # each photo filtered once over both runs
    assert labelled == ["Xiaolongbao", "Hanbok", "Mystery dish"]  # the map was rejected; nothing labelled twice


def test_a_tiny_vlm_labeller_runs_and_its_unparseable_replies_fail_with_the_reason():
    import io

    from cultureclip.builder.stages.photos import PhotoFilterStage
    from cultureclip.config import BottomUpRecipeConfig, ChatModelConfig

    stage = PhotoFilterStage(BottomUpRecipeConfig(labeller=ChatModelConfig(name="tiny:vlm", max_new_tokens=8)), ["Art"])
    stage.setup()
    png = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(png, format="PNG")
    row = {"png": png.getvalue(), "page_title": "Erhu", "caption_attribution_description": "an erhu",
           "context_page_description": "The erhu."}  # fmt: skip
    out = stage.run([row], retries=0)
    assert out[0]["status"] == "failed" and out[0]["reason"].startswith("filter: no JSON object in the reply")
