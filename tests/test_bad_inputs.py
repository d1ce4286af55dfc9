"""Each bad input is one line naming what is wrong (the CLI prints it and exits 2)."""

import tarfile

import numpy as np
import pytest
from PIL import Image

from cultureclip.backends.clip import create_clip
from cultureclip.data.shards import Sample, write_manifest, write_split
from cultureclip.errors import DataError
from cultureclip.train.data import load_train_data
from cultureclip.train.sampler import TwinSampler
from cultureclip.train.stream import ShardSamples

ROW = {"concept_id": "gyoza", "caption": "gyoza on a plate.", "generic_caption": "a photo of a dumpling."}


def _dataset(folder, rows):
    image = Image.fromarray(np.full((8, 8, 3), 90, dtype=np.uint8))
    samples = [Sample({"key": f"k{i}", "split": "train", **row}, image) for i, row in enumerate(rows)]
    write_manifest(folder, write_split(folder, "train", samples, shard_size=10))
    return folder


def _one_line(err) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


def test_a_dataset_without_twin_ids(tmp_path):
    with pytest.raises(DataError) as err:
        load_train_data(_dataset(tmp_path, [ROW, ROW]))
    assert _one_line(err) == f"{tmp_path}: sample 'k0' has no 'twin_group' field"


def test_a_dataset_whose_twin_groups_hold_one_concept_each(tmp_path):
    rows = [ROW | {"twin_group": "a"}, ROW | {"concept_id": "mandu", "twin_group": "b"}]
    data = load_train_data(_dataset(tmp_path, rows))
    with pytest.raises(DataError) as err:
        TwinSampler(data, 4, seed=0)
    assert _one_line(err).startswith(f"{tmp_path}: twin batches need twin groups, but no twin_group holds two")


def test_an_empty_shard(tmp_path):
    _dataset(tmp_path, [ROW | {"twin_group": "a"}])
    shard = tmp_path / "train-00000.tar"
    shard.unlink()
    with tarfile.open(shard, "w"):
        pass
    samples = ShardSamples(load_train_data(tmp_path), create_clip("config:test-clip").images_to_uint8)
    with pytest.raises(DataError) as err:
        samples[0, 0, 0]
    assert _one_line(err) == f"{shard}: no sample at byte 0 (the shard changed after manifest.parquet was written)"
