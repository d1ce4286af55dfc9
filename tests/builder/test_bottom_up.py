"""The bottom-up recipe on a handful of WIT-layout rows with local images, and on what img2dataset
downloads of them from a loopback server: a scripted OpenAI-compatible vision-language model on loopback
filters, labels, writes twins and captions and judges; `tiny:sd` renders."""

import csv
import functools
import json
import os
import shutil
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pyarrow.parquet as pq
import pytest
from PIL import Image

from cultureclip.cli import main
from cultureclip.data.shards import read_manifest
from helpers.chat_server import ChatServer
from helpers.wit_world import bottom_up_argv, vlm, write_wit


@pytest.fixture(scope="module")
def wit(tmp_path_factory):
    return write_wit(tmp_path_factory.mktemp("wit"))


def test_photos_are_filtered_labelled_checked_twinned_rendered_and_kept_beside_the_renders(wit, tmp_path):
    with ChatServer(vlm) as server:
        assert main(bottom_up_argv(wit, tmp_path, server.url)) == 0
        asked = sum(server.attempts.values())
        labels = [n for prompt, n in server.attempts.items() if 'page "Hanbok" (category' in prompt]
        assert labels == [1, 1]  # asked, then re-asked with the reason (its first reply was prose)
        assert main(bottom_up_argv(wit, tmp_path, server.url)) == 0  # finished: skipped, nothing asked again
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
    argv = [*bottom_up_argv(wit, tmp_path, "URL"), "executor.chunk_rows=1"]
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


IMG2DATASET = os.environ.get("CULTURECLIP_IMG2DATASET") or shutil.which("img2dataset")
"""img2dataset's command: it pins pandas<3 and webdataset<0.3, so it lives in a virtual environment of its
own (scripts/install_img2dataset.sh DIR; then CULTURECLIP_IMG2DATASET=DIR/bin/img2dataset)."""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def served(wit):
    """The WIT rows' images on a loopback HTTP server, and their URL list in WIT's TSV layout (image_url,
    caption_attribution_description, page_title, ...), with one more row whose image is not there (404)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(wit)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    rows = [json.loads(line) for line in (wit / "wit.jsonl").read_text().splitlines()]
    rows.append({**rows[0], "page_title": "Gone", "image_path": "gone.jpg"})
    for row in rows:
        row["image_url"] = f"{base}/{row.pop('image_path')}"
    with open(wit / "wit.tsv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter="\t")
        writer.writeheader()
        writer.writerows(rows)
    yield wit / "wit.tsv"
    server.shutdown()
    thread.join()


@pytest.mark.skipif(IMG2DATASET is None, reason="img2dataset not found: scripts/install_img2dataset.sh DIR installs "
                    "it, then set CULTURECLIP_IMG2DATASET=DIR/bin/img2dataset")  # fmt: skip
@pytest.mark.parametrize("output_format", ["webdataset", "parquet"])
def test_img2dataset_downloads_the_wit_url_list_and_the_route_builds_from_its_output(served, tmp_path, output_format):
    columns = '["page_title","page_url","language","context_page_description"]'
    download = [
        IMG2DATASET, f"--url_list={served}", "--input_format=tsv", "--url_col=image_url",
        "--caption_col=caption_attribution_description", f"--save_additional_columns={columns}",
        f"--output_format={output_format}", f"--output_folder={tmp_path / 'corpus'}", "--processes_count=1",
        "--thread_count=1", "--number_sample_per_shard=2", "--resize_mode=no", "--enable_wandb=False",
        "--timeout=5", "--retries=0",
    ]  # fmt: skip
    env = {**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1"}
    done = subprocess.run(download, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "corpus").glob("*_stats.json")) == [
        "00000_stats.json", "00001_stats.json", "00002_stats.json"
    ]  # fmt: skip
    corpus = ["build.bottom_up.corpus.kind=img2dataset", f"build.bottom_up.corpus.path={tmp_path / 'corpus'}"]
    with ChatServer(vlm) as server:
        assert main(bottom_up_argv(None, tmp_path / "out", server.url, corpus)) == 0
    assert not any("Gone" in prompt for prompt in server.attempts)  # its download failed: not in the corpus
    asked = [prompt for prompt in server.attempts if "cultural concept of one of these categories" in prompt]
    assert len(asked) == 4 and all(p.startswith('This image comes with the caption "') for p in asked)  # no "Wikipedia"
    data = tmp_path / "out" / "data"
    photos = pq.read_table(data / "photos.parquet").to_pylist()
    assert sorted((p["page_title"], p["decision"], p["country"]) for p in photos) == [
        ("Hanbok", "labelled", "Korea, Republic of"),
        ("Map of Europe", "rejected", None),
        ("Mystery dish", "failed", None),
        ("Xiaolongbao", "labelled", "China"),
    ]
    real = sorted((r for r in read_manifest(data) if r["source"] == "photo"), key=lambda r: r["name"])
    assert [(r["name"], r["url"], r["caption"]) for r in real] == [
        ("Hanbok", "https://en.wikipedia.org/wiki/Hanbok", "A photo of Hanbok, by Someone (CC BY-SA 4.0)"),
        (
            "Xiaolongbao",
            "https://en.wikipedia.org/wiki/Xiaolongbao",
            "A photo of Xiaolongbao, by Someone (CC BY-SA 4.0)",
        ),
    ]
    assert {r["caption_source"] for r in real} == {"the photo's page (img2dataset)"}
    assert all(r["image_url"].startswith("http://127.0.0.1:") for r in real)
