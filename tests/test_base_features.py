import numpy as np
import torch

from conftest import synthetic_train_data
from cultureclip.backends.clip import create_clip
from cultureclip.train.base_features import BaseFeatures


def test_base_features_are_the_base_embeddings_of_the_rows_each_chunk_embedded_once():
    torch.manual_seed(0)
    base = create_clip("config:test-clip").frozen_copy()
    data = synthetic_train_data(groups=3)  # 12 rows: chunks of 5 rows, 5 rows, 2 rows
    calls = []
    encode = base.encode_images
    base.encode_images = lambda pixels, normalize: calls.append(len(pixels)) or encode(pixels, normalize)
    features = BaseFeatures(base, data, True, torch.device("cpu"), chunk=5)
    images, texts = features(np.array([11, 0, 3]))
    assert calls == [5, 2]  # the chunks of rows 0-4 and 10-11, nothing else
    with torch.no_grad():
        want_images = base.encode_images(data.pixels[[11, 0, 3]], True)
        want_texts = base.encode_texts(base.tokenize([data.rows[i]["generic_caption"] for i in (11, 0, 3)]))
    torch.testing.assert_close(images, want_images, rtol=0, atol=1e-6)
    torch.testing.assert_close(texts, want_texts, rtol=0, atol=1e-6)
    calls.clear()
    again, _ = features(np.array([3, 4, 7]))
    assert calls == [5] and torch.equal(again[0], images[2])  # only the new chunk; kept values reused as they are


def test_base_features_do_not_depend_on_the_order_rows_are_asked_for():
    torch.manual_seed(0)
    base = create_clip("config:test-clip").frozen_copy()
    data = synthetic_train_data(groups=3)
    forward = BaseFeatures(base, data, True, torch.device("cpu"), chunk=4)
    backward = BaseFeatures(base, data, True, torch.device("cpu"), chunk=4)
    for i in range(12):
        forward(np.array([i]))
        backward(np.array([11 - i, 11 - i]))
    everything = np.arange(12)
    assert all(torch.equal(a, b) for a, b in zip(forward(everything), backward(everything), strict=True))
