"""Training batches stream from the shards: what each rank loads is its share of the sampler's plan, read
by worker processes, the same from any starting step; the index holds no image; open_clip's own trainer
reads the same shards."""

import io
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import synthetic_dataset
from cultureclip.backends.clip import create_clip
from cultureclip.backends.clip.base import MODEL_CONFIGS
from cultureclip.data.decode import decode_at_least
from cultureclip.data.shards import ShardReader, image_member
from cultureclip.train.data import load_train_data
from cultureclip.train.distributed import DistInfo
from cultureclip.train.sampler import TwinSampler
from cultureclip.train.stream import BatchPlan, ShardSamples, batch_loader, random_resized_crop


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return load_train_data(synthetic_dataset(tmp_path_factory.mktemp("stream"), groups=4, members=2, images=3))


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return create_clip("config:test-clip")


def _sample(data, row: int) -> tuple[Image.Image, dict]:
    members = ShardReader().read(data.shards[data.shard[row]], int(data.offset[row]), int(data.length[row]))
    return Image.open(io.BytesIO(image_member(members, "shard"))).convert("RGB"), json.loads(members["json"])


def _captions(loaded):
    return loaded.texts["caption"][::-1]


def test_workers_load_each_step_as_the_sampler_plans_it(data, model):
    """Each step is made whole in a worker: its plan, uint8 pixels as the model's transform makes them,
    its texts, its global pair count, and what the loader's text function (tokenization) returns."""
    sampler = TwinSampler(data, 3, seed=5)
    plan = BatchPlan(sampler, DistInfo(), seed=5, start=0, stop=4)
    samples = ShardSamples(data, model.images_to_uint8, 0, model.image_size)
    loaded = list(batch_loader(samples, plan, workers=2, pin_memory=False, tokenize=_captions))
    assert [b.index for b in loaded] == [0, 1, 2, 3]
    for batch in loaded:
        want = sampler(batch.index)
        assert batch.rows.tolist() == [*want.pos.tolist(), *want.neg.tolist()] and batch.pairs == len(want.pos)
        images, rows = zip(*(_sample(data, r) for r in batch.rows), strict=True)
        assert batch.pixels.dtype == torch.uint8 and torch.equal(batch.pixels, model.images_to_uint8(list(images)))
        assert batch.tokens == [r["caption"] for r in rows][::-1]
        assert batch.texts["caption"] == [r["caption"] for r in rows]
        assert batch.texts["name"] == [r["name"] for r in rows]
        assert batch.texts["generic_caption"] == [r["generic_caption"] for r in rows]


def test_ranks_load_disjoint_shares_whose_union_is_the_global_batch(data):
    sampler = TwinSampler(data, 3, seed=5)
    whole = BatchPlan(sampler, DistInfo(), seed=5, start=0, stop=3)
    ranks = [BatchPlan(sampler, DistInfo(rank, 2), seed=5, start=0, stop=3) for rank in range(2)]
    for step, *shares in zip(whole, *ranks, strict=True):
        items, first, second = step.items, shares[0].items, shares[1].items
        n = len(items) // 2  # pos then neg, each split between the ranks
        a, b = len(first) // 2, len(second) // 2
        assert a + b == n and a - b in (0, 1)
        assert first[:a] + second[:b] == items[:n]  # positives, rank by rank, crops included
        assert first[a:] + second[b:] == items[n:]  # their twins, the same way


def test_a_loader_started_at_a_later_step_yields_what_an_uninterrupted_one_yields_there(data, model):
    samples = ShardSamples(data, model.images_to_uint8, augment_size=model.image_size)
    sampler = TwinSampler(data, 3, seed=2)
    whole = list(batch_loader(samples, BatchPlan(sampler, DistInfo(), 2, 0, 5), workers=1, pin_memory=False))
    later = list(batch_loader(samples, BatchPlan(sampler, DistInfo(), 2, 3, 5), workers=0, pin_memory=False))
    for a, b in zip(whole[3:], later, strict=True):
        assert a.index == b.index and np.array_equal(a.rows, b.rows) and torch.equal(a.pixels, b.pixels)


def test_augmentation_crops_each_image_by_its_seed_alone(data, model):
    image, _ = _sample(data, 0)
    crops = [np.asarray(random_resized_crop(image, 32, seed)) for seed in (1, 1, 2)]
    assert crops[0].shape == (32, 32, 3) and np.array_equal(crops[0], crops[1])
    assert not np.array_equal(crops[0], crops[2]) and not np.array_equal(crops[0], np.asarray(image))
    torch.manual_seed(0)
    state = torch.random.get_rng_state()
    random_resized_crop(image, 32, 3)
    assert torch.equal(torch.random.get_rng_state(), state)  # the training's own random stream is untouched
    plain = ShardSamples(data, model.images_to_uint8)[0, 0, 7][2]
    augmented = ShardSamples(data, model.images_to_uint8, augment_size=32)
    assert torch.equal(augmented[0, 0, 7][2], augmented[0, 0, 7][2]) and not torch.equal(augmented[0, 0, 7][2], plain)


@pytest.mark.parametrize("name", ["config:test-clip", "config:hf-clip"])
def test_a_jpeg_decoded_at_the_models_size_matches_the_models_own_transform(name):
    """The fast path (DCT-downscaled decode, the model's transform to uint8, normalised apart) against the
    model's transform of the fully decoded image: a photo at 512 px to a 32-px model (1/8 scale) differs
    by under 2 levels of 255 on average (0.03 of the input normalised with std 0.25) and 16 at most (0.25);
    uint8 + normalise alone is exact."""
    from matplotlib import cbook

    clip = create_clip(name)
    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as photo:
        photo = photo.convert("RGB").resize((512, 512), Image.Resampling.BICUBIC)
    stored = io.BytesIO()
    photo.save(stored, format="JPEG", quality=95)
    full = clip.images_to_tensor([Image.open(io.BytesIO(stored.getvalue()))])
    assert torch.allclose(clip.normalize_pixels(clip.images_to_uint8([Image.open(stored)])), full, atol=1e-6)
    fast = decode_at_least(Image.open(io.BytesIO(stored.getvalue())), clip.image_size)
    assert fast.size == (64, 64)  # decoded at 1/8 scale: 64 >= 32
    pixels = clip.normalize_pixels(clip.images_to_uint8([fast]))
    difference = (pixels - full).abs()
    assert pixels.shape == full.shape and difference.mean() < 0.03 and difference.max() < 0.25


def test_the_index_holds_a_few_numbers_per_image_and_no_image(data):
    arrays = [data.shard, data.offset, data.length, data.concept, data.generic, *data.by_concept.values()]
    assert all(isinstance(a, np.ndarray) for a in arrays)
    assert sum(a.nbytes for a in arrays) / len(data) == 4 + 8 + 8 + 4 + 4 + 8


def test_open_clip_train_trains_on_our_shards(data, tmp_path):
    """open_clip's own trainer with its webdataset loader, as its documentation runs it, on a dataset we wrote."""
    config = json.loads((MODEL_CONFIGS / "test-clip" / "open_clip_config.json").read_text())["model_cfg"]
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "test-clip.json").write_text(json.dumps(config))
    train_data = str(data.shards[0].parent / f"train-{{00000..{len(data.shards) - 1:05d}}}.tar")
    script = "import sys, open_clip; open_clip.add_model_config(sys.argv[1]); import open_clip_train.main as m; "
    script += "m.main(sys.argv[2:])"
    args = ["--model", "test-clip", "--train-data", train_data, "--dataset-type", "webdataset"]
    args += ["--train-num-samples", str(len(data)), "--batch-size", "4", "--epochs", "1", "--workers", "1"]
    args += ["--precision", "fp32", "--logs", str(tmp_path / "logs"), "--name", "run", "--report-to", ""]
    args += ["--save-frequency", "0", "--warmup", "0"]
    run = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "configs"), *args], capture_output=True, text=True, timeout=240
    )
    assert run.returncode == 0, run.stderr[-2000:]
    log = (tmp_path / "logs" / "run" / "out.log").read_text()
    assert f"Train Epoch: 0 [{len(data)}/{len(data)} (100%)]" in log and "Contrastive_loss" in log
