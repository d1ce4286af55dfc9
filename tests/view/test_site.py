"""`cultureclip view`: the site of a dataset, its escaping, and the site in a real browser (headless Chromium)."""

import io
import json
import tarfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cultureclip.cli import main
from cultureclip.config import ViewConfig
from cultureclip.data.shards import Sample, write_manifest, write_split
from cultureclip.data.tables import write_table
from cultureclip.errors import DataError
from cultureclip.view.site import write_view
from helpers.browser import Browser, chromium

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def scored_dataset(folder: Path, jpeg: bool = False) -> Path:
    """2 twin groups of 2 concepts, 3 photos each with a caption_quality score, plus a rejected row with
    no image; one concept's caption and name are HTML. With `jpeg`, the shards hold `jpg` members."""
    rng = np.random.default_rng(0)
    samples = []
    for g in range(2):
        for m in range(2):
            for i in range(3):
                name = HOSTILE if (g, m) == (1, 1) else f"concept {g}{m}"
                row = {
                    "key": f"k{g}{m}{i}",
                    "split": "train",
                    "concept_id": f"c{g}{m}",
                    "twin_group": f"group {g}",
                    "name": name,
                    "culture": ["Japan", "Korea"][m],
                    "category": ["dish", "garment"][g],
                    "source": "photo",
                    "status": "kept",
                    "reason": None,
                    "caption": f"a photo of {name}, number {i}.",
                    "caption_quality": 0.25 * (i + 1),
                }
                image = Image.fromarray(rng.integers(0, 256, (40, 30, 3), np.uint8))
                samples.append(Sample(row, _jpeg(image) if jpeg else image))
    folder.mkdir(parents=True, exist_ok=True)
    rows = write_split(folder, "train", samples, shard_size=5)
    rejected = {**samples[0].row, "key": "r0", "status": "rejected", "reason": f"judge: {HOSTILE}"}
    write_manifest(folder, [*rows, rejected | {"caption_quality": None}])
    if jpeg:
        for shard in folder.glob("*.tar"):
            _rename_members(shard, ".png", ".jpg")
    return folder


def _jpeg(image: Image.Image) -> bytes:
    data = io.BytesIO()
    image.save(data, format="JPEG")
    return data.getvalue()


def _rename_members(shard: Path, old: str, new: str) -> None:
    """Rename the tar's members in place (same-length names keep every offset of the manifest valid)."""
    copy = io.BytesIO()
    with tarfile.open(shard) as tar, tarfile.open(fileobj=copy, mode="w", format=tarfile.USTAR_FORMAT) as out:
        for member in tar:
            data = tar.extractfile(member).read()
            member.name = member.name.replace(old, new)
            out.addfile(member, io.BytesIO(data))
    shard.write_bytes(copy.getvalue())


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("view")
    data = scored_dataset(root / "data")
    photos = [
        {"page_title": "Map", "decision": "rejected", "reason": HOSTILE},
        {"page_title": "Hanbok", "reason": None},
    ]
    write_table(photos, data / "photos.parquet")  # a bottom-up build's record of its input photos
    write_view(data, root / "site", ViewConfig(images_per_concept=2, groups_per_page=1))
    return root / "site"


def test_the_site_has_a_page_per_slice_of_each_twin_group_and_a_thumbnail_per_image(site):
    assert sorted(p.name for p in (site / "g").iterdir()) == [
        "00000-2.html",
        "00000.html",
        "00001-2.html",
        "00001.html",
    ]
    assert len(list((site / "t").rglob("*.jpg"))) == 12
    first, second = ((site / "g" / f"00000{page}.html").read_text() for page in ("", "-2"))
    assert first.count("<figure") == 4 and "no image" not in first  # 2 images of each of its 2 concepts
    assert second.count("<figure") == 3  # the third image of each, and the rejected row (no image, its reason)
    assert "no image" in second and "<b>rejected:</b> judge: &lt;script&gt;" in second
    data = json.loads((site / "data.js").read_text().removeprefix("window.VIEW = ").removesuffix(";\n"))
    assert data["values"]["status"] == ["kept", "rejected"] and data["rows"]["status"] == [0] * 12 + [1]
    assert data["scores"]["caption_quality"] == [0.25, 0.5, 0.75] * 4 + [None]
    index = (site / "index.html").read_text()
    assert index.count("<tr><td>Japan</td><td>7</td><td>6</td></tr>") == 1
    assert "<h2>Left out in photos.parquet: 1 rows</h2>" in index
    assert "<tr><td>Map</td><td>rejected</td><td>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in index


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts, self.handlers, self.urls = [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.scripts += [attrs.get("src")] if tag == "script" else []
        self.handlers += [k for k in attrs if k.startswith("on")]
        self.urls += [attrs[k] for k in ("src", "href") if k in attrs]


def test_text_from_the_data_is_escaped_everywhere(site):
    for page in [*(site / "g").iterdir(), site / "index.html"]:
        tags = _Tags()
        tags.feed(page.read_text())
        assert tags.scripts == (["data.js", "view.js"] if page.name == "index.html" else [])
        assert tags.handlers == []
        assert all(not u.startswith(("/", "http", "data:", "javascript")) and ":" not in u for u in tags.urls)
        assert all((page.parent / u).resolve().is_relative_to(site.resolve()) for u in tags.urls)
    second = (site / "g" / "00001.html").read_text()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in second


def test_jpeg_members_are_read_as_well_as_png(tmp_path):
    data = scored_dataset(tmp_path / "data", jpeg=True)
    assert {m.rsplit(".", 1)[1] for m in tarfile.open(data / "train-00000.tar").getnames()} == {"jpg", "json", "txt"}
    summary = write_view(data, tmp_path / "site", ViewConfig())
    assert summary == {"rows": 13, "images": 12, "groups": 2, "pages": 2}
    assert Image.open(tmp_path / "site" / "t" / "000" / "000000.jpg").size == (30, 40)


def test_the_command_writes_beside_the_data_and_refuses_a_folder_it_did_not_write(tmp_path, capsys):
    data = scored_dataset(tmp_path / "data")
    assert main(["view", str(data), "view.thumb_size=16"]) == 0
    assert Image.open(tmp_path / "data-view" / "t" / "000" / "000000.jpg").size == (12, 16)
    assert main(["view", str(data)]) == 0  # its own site: replaced
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    assert main(["view", str(data), "--out", str(tmp_path / "other")]) == 2
    assert "not written by `cultureclip view`" in capsys.readouterr().err
    with pytest.raises(DataError, match="manifest.parquet is missing"):
        write_view(tmp_path / "other", tmp_path / "x", ViewConfig())


SHOWN = "[...document.querySelectorAll('#groups .group')]"
LOADED = (
    "Promise.all([...document.images].map(i => { i.loading = 'eager'; "
    "return i.decode().then(() => i.naturalWidth, () => 0); }))"
)
"""The natural width of every image of the page once decoded (0: it failed); lazy ones are loaded first."""


@pytest.fixture(scope="module")
def browser():
    executable = chromium()
    if executable is None:
        pytest.skip("no chromium on this machine (apt-get install chromium; .ci/run installs it)")
    with Browser(executable) as b:
        yield b


def _choose(browser: Browser, control: str, value: str) -> None:
    """Set a filter's control as a user would: its value, then its change event."""
    browser.evaluate(
        f"(c => {{ c.value = '{value}'; c.dispatchEvent(new Event('change')); }})(document.getElementById('{control}'))"
    )


def test_in_chromium_images_load_filters_change_what_is_shown_and_the_page_is_not_blank(site, browser):
    browser.open((site / "index.html").as_uri())
    assert browser.evaluate(f"{SHOWN}.map(g => g.dataset.group)") == ["0"]  # one group per page
    assert browser.evaluate(LOADED) == [30] * 6  # group 0's images (its rejected row has none), decoded
    assert browser.evaluate("document.getElementById('summary').textContent").startswith("13 rows in 2 twin groups")
    browser.evaluate("document.querySelectorAll('#pager button')[1].click()")
    assert browser.evaluate(f"{SHOWN}.map(g => g.dataset.group)") == ["1"]
    _choose(browser, "f-status", "1")  # rejected rows only: one, in group 0, without an image
    assert browser.evaluate("document.getElementById('summary').textContent").startswith("1 rows in 1 twin groups")
    assert browser.evaluate(f"{SHOWN}.map(g => [g.dataset.group, g.querySelectorAll('img').length])") == [["0", 0]]
    browser.evaluate("document.getElementById('f-status').value = ''; document.getElementById('f-score').value = '0'")
    browser.evaluate(
        "const m = document.getElementById('f-min'); m.value = '0.6'; m.dispatchEvent(new Event('change'))"
    )
    assert browser.evaluate("document.getElementById('summary').textContent").startswith("4 rows in 2 twin groups")
    assert browser.evaluate("location.hash") == "#score=0&min=0.6"
    browser.open((site / "g" / "00001.html").as_uri())
    assert browser.evaluate(LOADED) == [30] * 4
    assert HOSTILE in browser.evaluate("[...document.querySelectorAll('.concept h2')].map(h => h.textContent).join()")
    shot = Image.open(io.BytesIO(browser.screenshot())).convert("RGB")
    colours = shot.getcolors(shot.width * shot.height)
    assert len(colours) > 500 and max(colours)[0] < 0.9 * shot.width * shot.height  # images and text, not blank
    browser.open((site / "index.html").as_uri() + "#culture=1")  # a linked filter: Korea
    assert browser.evaluate("document.getElementById('summary').textContent").startswith("6 rows in 2 twin groups")
