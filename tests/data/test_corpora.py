"""The corpus readers on tiny hand-written inputs: exact records, one-line errors, paths kept inside the
corpus, images bounded, and streaming (records come before the corpus is read to its end)."""

import gzip
import io
import json
import tarfile
import tracemalloc
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from cultureclip.config import BottomUpRecipeConfig, CorpusConfig
from cultureclip.data.corpora import CORPORA, CorpusRecord, FileImage, ParquetImage, corpus_digest, read_corpus
from cultureclip.data.corpora import record as corpus_record
from cultureclip.data.images import ImageTooLarge
from cultureclip.errors import ConfigError, DataError


def _tar(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _read(kind: str, path: Path, **options) -> list[CorpusRecord]:
    return list(read_corpus(CorpusConfig(kind=kind, path=path, **options)))


def test_the_registry_names_every_kind_and_refuses_an_unknown_one_or_an_option_the_kind_does_not_read(tmp_path):
    assert CORPORA.list() == ["folder", "img2dataset", "webdataset", "wit"]
    with pytest.raises(ConfigError, match=r"unknown corpus kind 'laion'; known: folder, img2dataset, webdataset, wit"):
        read_corpus(CorpusConfig(kind="laion", path=tmp_path))
    with pytest.raises(ConfigError, match=r"^corpus.images: not an option of corpus kind 'folder'$"):
        read_corpus(CorpusConfig(kind="folder", path=tmp_path, images=tmp_path))
    with pytest.raises(ConfigError, match=r"^corpus.text_members: not an option of corpus kind 'wit'$"):
        read_corpus(CorpusConfig(kind="wit", path=tmp_path, text_members=["txt"]))


def test_wit_rows_are_records_with_their_fields_and_their_local_image(tmp_path):
    rows = [
        {"page_title": "Erhu", "page_url": "https://w/Erhu", "image_url": "https://u/1.jpg", "language": "en",
         "caption_attribution_description": "An erhu", "context_page_description": "A fiddle.", "image_path": "a.jpg"},
        {"key": "k2", "page_title": "Hanbok"},
    ]  # fmt: skip
    (tmp_path / "wit.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    records = _read("wit", tmp_path / "wit.jsonl", images=tmp_path / "img")
    assert records == [
        CorpusRecord("0", FileImage(str(tmp_path / "a.jpg")), "An erhu", "Erhu", "https://w/Erhu", "https://u/1.jpg",
                     "en", rows[0]),
        CorpusRecord("k2", FileImage(str(tmp_path / "img" / "k2.jpg")), "", "Hanbok", meta=rows[1]),
    ]  # fmt: skip
    pq.write_table(pa.Table.from_pylist([{"page_title": "Erhu", "image_path": "a.jpg"}]), tmp_path / "wit.parquet")
    assert [(r.key, r.title, r.image) for r in _read("wit", tmp_path / "wit.parquet")] == [
        ("0", "Erhu", FileImage(str(tmp_path / "a.jpg")))
    ]
    with pytest.raises(DataError, match=r"wit.jsonl: row 1: field 'page_title' is missing"):
        (tmp_path / "wit.jsonl").write_text('{"page_title": "a", "image_path": "a.jpg"}\n{"page_url": "u"}\n')
        _read("wit", tmp_path / "wit.jsonl")
    with pytest.raises(DataError, match=r"nothing.jsonl: no such file of image-text rows"):
        _read("wit", tmp_path / "nothing.jsonl")


def test_webdataset_samples_are_records_whose_image_is_read_where_it_lies_in_the_shard(tmp_path):
    meta = {"page_title": "Erhu", "page_url": "https://w/Erhu", "url": "https://u/1.jpg", "language": "zh"}
    first = [("s/0001.jpg", b"JPEG1"), ("s/0001.txt", b" An erhu \n"), ("s/0001.json", json.dumps(meta).encode())]
    _tar(tmp_path / "a.tar", [*first, ("0002.png", b"PNG2"), ("0002.caption", b"B")])
    _tar(tmp_path / "b.tar", [("0003.webp", b"WEBP3"), ("0003.txt", b"C"), ("0003.jpg", b"JPEG3")])
    (tmp_path / "notes.md").write_text("not a shard")
    records = _read("webdataset", tmp_path)
    assert [(r.key, r.text, r.title, r.url, r.image_url, r.language, r.meta) for r in records] == [
        ("s_0001", "An erhu", "Erhu", "https://w/Erhu", "https://u/1.jpg", "zh", meta),
        ("0002", "B", "", "", "", "", {}),
        ("0003", "C", "", "", "", "", {}),
    ]
    assert [r.image.read() for r in records] == [b"JPEG1", b"PNG2", b"JPEG3"]  # jpg before webp, as listed
    assert str(records[0].image) == f"{tmp_path / 'a.tar'} (bytes 512-517)"
    chosen = _read("webdataset", tmp_path / "b.tar", image_members=["webp"], text_members=["txt"])
    assert [(r.key, r.image.read()) for r in chosen] == [("0003", b"WEBP3")]


@pytest.mark.parametrize(
    ("members", "error"),
    [
        ([("1.txt", b"a")], r"a.tar: sample '1': no image member \(jpg, jpeg, png, webp\)"),
        ([("1.jpg", b"x")], r"a.tar: sample '1': no caption member \(txt, caption\)"),
        ([("1.jpg", b"x"), ("1.txt", b"caf\xe9")], r"a.tar: sample '1': member '1.txt' is not UTF-8 text \(byte 3\)"),
        ([("1.jpg", b"x"), ("1.txt", b"a"), ("1.json", b"{")], r"a.tar: sample '1': member json is not valid JSON"),
        ([("1.jpg", b"x"), ("1.txt", b"a"), ("1.json", b"[1]")], r"a.tar: sample '1': member json is not a JSON obj"),
    ],
)
def test_a_broken_webdataset_sample_is_one_line_naming_the_shard_sample_and_member(tmp_path, members, error):
    _tar(tmp_path / "a.tar", members)
    with pytest.raises(DataError, match=error):
        _read("webdataset", tmp_path)


def test_compressed_or_missing_shards_are_refused_with_what_to_do(tmp_path):
    (tmp_path / "a.tar").write_bytes(gzip.compress(_tar(tmp_path / "plain", [("1.jpg", b"x")]).read_bytes()))
    with pytest.raises(DataError, match=r"a.tar: not an uncompressed tar file .*; decompress it"):
        _read("webdataset", tmp_path / "a.tar")
    (tmp_path / "gz").mkdir()
    with pytest.raises(DataError, match=r"gz: no .tar shards \(compressed shards must be decompressed first\)"):
        _read("webdataset", tmp_path / "gz")


def _img2dataset_row(key: str, status: str, image: bytes | None, **extra) -> dict:
    return {"caption": f"caption {key}", "url": f"http://x/{key}.jpg", "key": key, "status": status,
            "error_message": None if image else "HTTP Error 404", **extra, "jpg": image}  # fmt: skip


def test_img2dataset_parquet_output_gives_its_successful_rows_of_finished_shards(tmp_path):
    rows = [_img2dataset_row("000000", "success", b"JPEG0", page_title="Erhu", page_url="https://w/Erhu"),
            _img2dataset_row("000001", "failed_to_download", None)]  # fmt: skip
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "00000.parquet", row_group_size=1)
    (tmp_path / "00000_stats.json").write_text(json.dumps({"count": 2, "successes": 1}))
    pq.write_table(pa.Table.from_pylist([_img2dataset_row("000010", "success", b"J")]), tmp_path / "00001.parquet")
    records = _read("img2dataset", tmp_path)  # 00001 has no stats: still being written, skipped
    meta = {k: v for k, v in rows[0].items() if k != "jpg"}
    assert records == [
        CorpusRecord("000000", ParquetImage(str(tmp_path / "00000.parquet"), 0, 0, "jpg"), "caption 000000", "Erhu",
                     "https://w/Erhu", "http://x/000000.jpg", meta=meta)
    ]  # fmt: skip
    assert records[0].image.read() == b"JPEG0"
    (tmp_path / "00002_stats.json").write_text("{}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"00002_stats.json: its shard 00002.tar or 00002.parquet is missing"):
        _read("img2dataset", tmp_path)
    with pytest.raises(DataError, match=r"no \*_stats.json file: not img2dataset output, or no shard of it finished"):
        _read("img2dataset", tmp_path / "empty")


def test_img2dataset_webdataset_output_reads_the_tars_not_the_metadata_parquet(tmp_path):
    meta = {"caption": "An erhu", "url": "http://x/0.jpg", "key": "000000", "status": "success", "page_title": "Erhu"}
    failed = {**meta, "key": "000001", "status": "failed_to_resize"}
    _tar(tmp_path / "00000.tar", [("000000.jpg", b"JPEG0"), ("000000.txt", b"An erhu"),
                                  ("000000.json", json.dumps(meta).encode()), ("000001.jpg", b"J"),
                                  ("000001.txt", b"x"), ("000001.json", json.dumps(failed).encode())])  # fmt: skip
    pq.write_table(pa.Table.from_pylist([meta]), tmp_path / "00000.parquet")  # metadata only: no image column
    (tmp_path / "00000_stats.json").write_text("{}")
    records = _read("img2dataset", tmp_path)
    assert [(r.key, r.text, r.title, r.image_url, r.image.read()) for r in records] == [
        ("000000", "An erhu", "Erhu", "http://x/0.jpg", b"JPEG0")
    ]


def test_a_folder_of_captioned_images_by_pairs_or_by_a_captions_file(tmp_path):
    (tmp_path / "sub").mkdir()
    for name, caption in (("b.jpg", "B"), ("sub/a.png", " A\n")):
        (tmp_path / name).write_bytes(b"img")
        (tmp_path / name).with_suffix(".txt").write_text(caption)
    (tmp_path / "readme.txt").write_text("no image")
    records = _read("folder", tmp_path)
    assert records == [
        CorpusRecord("b", FileImage(str(tmp_path / "b.jpg")), "B", meta={"file": "b.jpg"}),
        CorpusRecord("sub_a", FileImage(str(tmp_path / "sub" / "a.png")), "A", meta={"file": "sub/a.png"}),
    ]
    (tmp_path / "captions.csv").write_text("file,caption,page_title\nsub/a.png,An A,Page A\n")
    row = {"file": "sub/a.png", "caption": "An A", "page_title": "Page A"}
    assert _read("folder", tmp_path) == [
        CorpusRecord("sub_a", FileImage(str(tmp_path / "sub/a.png")), "An A", "Page A", meta=row)
    ]
    (tmp_path / "captions.csv").unlink()
    (tmp_path / "captions.jsonl").write_text(json.dumps({"file": "b.jpg", "caption": "Bee", "key": "k"}) + "\n")
    assert [(r.key, r.text, r.image) for r in _read("folder", tmp_path)] == [
        ("k", "Bee", FileImage(str(tmp_path / "b.jpg")))
    ]


@pytest.mark.parametrize(
    ("listing", "error"),
    [
        ('{"file": "../x.jpg", "caption": "a"}', r"captions.jsonl: row 0: field 'file': '../x.jpg' is outside "),
        (
            '{"file": "/etc/hostname", "caption": "a"}',
            r"captions.jsonl: row 0: field 'file': '/etc/hostname' is outside",
        ),
        ('{"caption": "a"}', r"captions.jsonl: row 0: field 'file' is missing"),
        ('{"file": "a.jpg"}', r"captions.jsonl: row 0: field 'caption' is missing"),
        ('{"file": "a.jpg", "caption": "a"}\n{', r"captions.jsonl: not valid JSON \(line 2\)"),
    ],
)
def test_a_captions_file_row_is_refused_in_one_line_naming_the_row_and_field(tmp_path, listing, error):
    (tmp_path / "captions.jsonl").write_text(listing + "\n")
    with pytest.raises(DataError, match=error):
        _read("folder", tmp_path)


def test_an_image_without_its_caption_a_caption_not_utf8_or_a_link_out_of_the_folder_is_refused(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"img")
    with pytest.raises(DataError, match=r"a.jpg: no caption file a.txt beside it"):
        _read("folder", tmp_path)
    (tmp_path / "a.txt").write_bytes(b"caf\xe9")
    with pytest.raises(DataError, match=r"a.txt: not a UTF-8 text file \(byte 3\)$"):
        _read("folder", tmp_path)
    (tmp_path / "a.txt").write_text("A")
    (tmp_path / "outside.jpg").write_bytes(b"img")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "b.jpg").symlink_to(tmp_path / "outside.jpg")
    (tmp_path / "in" / "b.txt").write_text("B")
    with pytest.raises(DataError, match=r"b.jpg: is a link to a file outside .*in$"):
        _read("folder", tmp_path / "in")


def test_an_image_over_the_bound_is_refused_before_it_is_read(tmp_path, monkeypatch):
    from cultureclip.builder.stages.photos import PhotoStage

    monkeypatch.setattr(corpus_record, "MAX_IMAGE_BYTES", 4)
    (tmp_path / "big.jpg").write_bytes(b"12345")
    with pytest.raises(ImageTooLarge, match=r"5 bytes, over the 4 an image file may have"):
        FileImage(str(tmp_path / "big.jpg")).read()
    out = PhotoStage(32).run([{"key": "k", "image": FileImage(str(tmp_path / "big.jpg"))}], retries=0)
    assert out[0]["status"] == "failed" and out[0]["reason"].startswith(f"photos: {tmp_path / 'big.jpg'}: too large")


def test_records_stream_a_shard_at_a_time_in_constant_memory(tmp_path):
    image = bytes(64 << 10)
    for shard in range(4):
        _tar(
            tmp_path / f"{shard}.tar",
            [m for i in range(50) for m in ((f"{shard}_{i}.jpg", image), (f"{shard}_{i}.txt", b"c"))],
        )
    (tmp_path / "4.tar").write_bytes(b"not a tar" * 100)  # read last: every record of 0-3 comes before its error
    records = read_corpus(CorpusConfig(kind="webdataset", path=tmp_path))
    tracemalloc.start()
    seen = 0
    with pytest.raises(DataError, match=r"4.tar: not an uncompressed tar file"):
        for record in records:
            seen += 1
            assert len(record.image.read()) == len(image)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert seen == 200 and peak < 2 << 20  # 12.5 MiB of images, never more than a few held


def test_a_bottom_up_corpus_is_its_corpus_or_the_wit_rows_and_not_both(tmp_path):
    assert BottomUpRecipeConfig(rows=tmp_path / "w.jsonl", images=tmp_path).corpus_config() == CorpusConfig(
        kind="wit", path=tmp_path / "w.jsonl", images=tmp_path
    )
    corpus = CorpusConfig(kind="img2dataset", path=tmp_path)
    assert BottomUpRecipeConfig(corpus=corpus).corpus_config() is corpus
    with pytest.raises(ValidationError, match=r"set corpus, or rows \(and images\), not both"):
        BottomUpRecipeConfig(corpus=corpus, rows=tmp_path / "w.jsonl")


def test_the_photo_prompts_present_a_wit_photo_as_its_pages_and_another_corpus_photo_by_its_caption(tmp_path):
    from cultureclip.builder.stages.photos import load_photo_prompts

    wit, folder = CorpusConfig(kind="wit", path=tmp_path), CorpusConfig(kind="folder", path=tmp_path)
    assert BottomUpRecipeConfig(rows=tmp_path / "w.jsonl").photo_prompt_file() == "bottom-up-v1"
    assert BottomUpRecipeConfig(corpus=wit).photo_prompt_file() == "bottom-up-v1"
    assert BottomUpRecipeConfig(corpus=folder).photo_prompt_file() == "bottom-up-corpus-v1"
    assert BottomUpRecipeConfig(corpus=folder, photo_prompts="bottom-up-v1").photo_prompt_file() == "bottom-up-v1"
    prompts = load_photo_prompts("bottom-up-corpus-v1")
    assert prompts["version"] == "bottom-up-corpus-v1"
    filled = prompts["filter"].format(title="", caption="Gyoza on a plate", context="", categories="Cuisine")
    assert filled.startswith('This image comes with the caption "Gyoza on a plate"') and "Wikipedia" not in filled


def test_the_digest_of_a_corpus_folder_changes_when_a_file_does(tmp_path):
    (tmp_path / "a.txt").write_text("A")
    before = corpus_digest(tmp_path)
    assert corpus_digest(tmp_path) == before
    (tmp_path / "a.txt").write_text("AB")
    assert corpus_digest(tmp_path) != before
    assert corpus_digest(tmp_path / "a.txt") != corpus_digest(tmp_path)
