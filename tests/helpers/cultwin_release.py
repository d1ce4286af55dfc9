"""A tiny CulTwin release (both layouts: JSON lines and a JSON array, relative and absolute image paths)."""

import json

import numpy as np
import pytest
from PIL import Image


def _pair(sample, pos, neg, pos_img, neg_img, caps=(0, 0), category="Art"):
    """A row in the release's layout (the loader's six fields + the caption-pairing script's extras)."""
    return {
        "sample_id": sample,
        "pos_caption_id": caps[0],
        "neg_caption_id": caps[1],
        "pos_concept": pos,
        "pos_context": f"context of {pos}",
        "pos_caption": f"A {pos} on a stage, caption {caps[0]}.",
        "pos_image_path": pos_img,
        "neg_concept": neg,
        "neg_context": f"context of {neg}",
        "neg_caption": f"A {neg} in a hall, caption {caps[1]}.",
        "neg_image_path": neg_img,
        "metadata": {"category": category, "pos_features": f"features of {pos}", "neg_features": ""},
    }


@pytest.fixture
def release(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for i, name in enumerate(["e0", "g0", "g1", "x0", "y0"]):
        Image.fromarray(np.full((6, 5, 3), 40 * i + 1, dtype=np.uint8)).save(images / f"{name}.png")
    train = [
        _pair("id_000000", "Erhu", "Guzheng", "images/e0.png", "images/g0.png"),
        _pair("id_000000", "Erhu", "Guzheng", "images/e0.png", "images/g1.png", caps=(0, 1)),  # e0 again
    ]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in train))
    valid = [_pair("id_000001", "Xiaolongbao", "Gyoza", str(images / "x0.png"), "images/y0.png", category="Cuisine")]
    (tmp_path / "valid.json").write_text(json.dumps(valid))
    return tmp_path
