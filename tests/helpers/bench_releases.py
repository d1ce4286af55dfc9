"""Small releases of the paper's benchmarks in each one's own Parquet columns, and a fake CLIP whose answers are
hand-checkable: every image "sees" one name (coded in its red channel) and every option text is the one-hot of
the name it contains."""

import io
import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from PIL import Image

from cultureclip.backends.clip import create_clip
from cultureclip.cli import main
from cultureclip.config import BenchConfig, EvalConfig
from cultureclip.eval.bench import run_benchmark

REGIONS = ["japan", "india", "peru", "kenya", "chile"]
CONCEPTS = ["sushi", "ramen", "mochi", "tempura", "tacos", "mole", "tamales", "hanbok", "kimono", "erhu", "guzheng"]


class FakeClip:
    """Image embedding: one-hot of the name it sees; text embedding: one-hot of the name it contains."""

    name = "fake"
    device = torch.device("cpu")

    def __init__(self, names):
        self.names = names
        self.model = torch.nn.Linear(1, 1)  # what the evaluator fingerprints and puts in eval mode

    image_size = 8

    def images_to_uint8(self, images):
        return torch.tensor([im.getpixel((0, 0))[0] // 10 for im in images])

    def normalize_pixels(self, pixels):
        return pixels

    def images_to_tensor(self, images):
        return self.images_to_uint8(images)

    def encode_images(self, pixels, normalize=True):
        return torch.nn.functional.one_hot(pixels, len(self.names) + 1).float()

    def tokenize(self, texts):
        hits = [[n for n in self.names if re.search(rf"\b{n}\b", t)] for t in texts]
        return torch.tensor([self.names.index(h[0]) if h else len(self.names) for h in hits])

    def encode_texts(self, index, normalize=True):
        return torch.nn.functional.one_hot(index, len(self.names) + 1).float()


def evaluate(name, root, model, seed=42, batch_size=64, out=None):
    """`cultureclip bench` on a loaded model, without the embedding cache."""
    bench, cfg = BenchConfig(seed=seed, batch_size=batch_size), EvalConfig(cache=False, workers=0)
    return run_benchmark(name, root, getattr(model, "name", "model"), bench, cfg, out=out, model=model)


def seeing(names, name):
    """A tiny image the fake CLIP reads as `name`."""
    return Image.fromarray(np.full((4, 4, 3), (10 * names.index(name) + 5, 0, 0), dtype=np.uint8))


def cell(image):
    png = io.BytesIO()
    image.save(png, format="PNG")
    return {"bytes": png.getvalue(), "path": None}


def _encoded(value):
    return cell(value) if isinstance(value, Image.Image) else value


def write_release(root, rows, files=2):
    """Rows as the hub stores them: data/test-0000k-of-0000n-<hash>.parquet, images as {bytes, path}."""
    (root / "data").mkdir(parents=True)
    encoded = [
        {k: ([_encoded(i) for i in v] if isinstance(v, list) else _encoded(v)) for k, v in row.items()} for row in rows
    ]
    cut = (len(encoded) + 1) // files
    for k in range(files):
        part = encoded[k * cut : (k + 1) * cut]
        pq.write_table(pa.Table.from_pylist(part), root / "data" / f"test-{k:05d}-of-{files:05d}-abc{k}.parquet")
    return root


RETRIEVAL_ROWS = [  # (universal, region, what the image shows the fake)
    ("food", "japan", "japan"),
    ("drinks", "japan", "japan"),
    ("food", "india", "india"),
    ("food", "peru", "japan"),  # wrong: japan is among the options (food has exactly 4 regions)
    ("house", "japan", "japan"),
    ("drinks", "india", "india"),
    ("food", "kenya", "kenya"),
    ("drinks", "peru", "peru"),
    ("house", "india", "india"),
    ("house", "peru", "peru"),
    ("house", "kenya", "kenya"),
    ("house", "chile", "chile"),
]


GROUNDING_ROWS = [  # (region, concept, what the image shows the fake)
    ("japan", "sushi", "sushi"),
    ("japan", "ramen", "mochi"),  # wrong: mochi is an option (japan has exactly 4 concepts)
    ("mexico", "tacos", "tacos"),  # mexico has 3 concepts: dropped
    ("japan", "mochi", "mochi"),
    ("mexico", "mole", "mole"),
    ("japan", "tempura", "sushi"),  # wrong again
    ("mexico", "tamales", "tamales"),
    ("japan", "sushi", "sushi"),  # a second image of a concept: same 4 concepts
]


def bench_and_eval(tmp_path, kind, root):
    """One tiny CLIP's `cultureclip bench` result lines and `cultureclip compare --data KIND:ROOT` predicted
    option texts on the same release."""
    torch.manual_seed(0)
    create_clip("config:test-clip").save(tmp_path / "m")  # one set of weights for both commands
    model = f"local:{tmp_path / 'm'}"
    bench = ["bench", kind, "--root", str(root), "--model", model, "--out", str(tmp_path / "b")]
    assert main([*bench, f"eval.cache_dir={tmp_path / 'cache'}"]) == 0
    lines = [json.loads(x) for x in (tmp_path / "b" / "results.jsonl").read_text().splitlines()]
    argv = ["compare", "--models", f"a={model}", "--data", f"{kind}:{root}", "--out", str(tmp_path / "e")]
    assert main([*argv, f"eval.cache_dir={tmp_path / 'cache'}"]) == 0
    preds = (tmp_path / "e" / "predictions" / "a" / kind / "choice.jsonl").read_text().splitlines()
    return lines, [json.loads(p)["pred"] for p in preds]


# CVQA and Dollar Street, read by a fake CLIP that knows English names and their local-language words
NAMES = ["sushi", "ramen", "susi", "raamen", "tacos"]
"""What the fake CLIP reads: English names and their local-language words."""
JAPAN = "('Japanese', 'Japan')"


def cvqa_rows() -> list[dict]:
    """2 labelled questions (one image sees the English word, one the local one) and 2 without a label."""
    row = {
        "Question": "これは何?",
        "Translated Question": "What food is this?",
        "Options": ["raamen", "susi"],
        "Translated Options": ["ramen", "sushi"],
        "Subset": JAPAN,
        "Category": "Food",
    }
    return [
        {"image": seeing(NAMES, "sushi"), **row, "Label": 1},
        {"image": seeing(NAMES, "susi"), **row, "Label": 1},
        {"image": seeing(NAMES, "sushi"), **row, "Label": None},
        {"image": seeing(NAMES, "sushi"), **row, "Label": -1},
    ]


def dollar_street(root, index="images_v2.csv"):
    """The MLCommons release's layout: an index CSV and the images under assets/."""
    rows = [
        ("a1", "['sushi', 'food']", "Japan", "sushi"),
        ("a2", "ramen", "Japan", "ramen"),
        ("a3", "tacos", "Mexico", "sushi"),
    ]
    (root / "assets").mkdir(parents=True)
    lines = ["id,country.name,income,imageRelPath,topics"]
    for key, topics, country, seen in rows:
        seeing(NAMES, seen).save(root / "assets" / f"{key}.png")
        lines.append(f'{key},{country},100,assets/{key}.png,"{topics}"')
    (root / index).write_text("\n".join(lines) + "\n")
    return root
