import numpy as np
import pytest
import torch

from conftest import synthetic_train_data
from cultureclip.backends.clip import create_clip
from cultureclip.train.base_features import BaseFeatures
from cultureclip.train.stream import ShardSamples


def test_base_features_are_the_base_embeddings_of_the_rows_in_fixed_chunks():
    torch.manual_seed(0)
    base = create_clip("config:test-clip").frozen_copy()
    data = synthetic_train_data(groups=3)  # 12 rows
    samples = ShardSamples(data, base.images_to_uint8)
    calls = []
    encode = base.encode_images
    base.encode_images = lambda pixels, normalize: calls.append(len(pixels)) or encode(pixels, normalize)
    rows = np.array([0, 3, 4, 7, 10, 11])
    features = BaseFeatures(base, samples, rows, True, base.device, chunk=4, workers=1)
    assert calls == [4, 2]  # the rows in chunks of 4, each embedded once, before any lookup
    images, texts = features(np.array([11, 0, 3, 11]))
    loaded = [samples[0, r, 0] for r in (11, 0, 3, 11)]
    with torch.no_grad():
        want_images = encode(base.normalize_pixels(torch.stack([s[2] for s in loaded]).to(base.device)), True)
        want_texts = base.encode_texts(base.tokenize([s[3]["generic_caption"] for s in loaded]).to(base.device))
    torch.testing.assert_close(images, want_images, rtol=0, atol=1e-6)
    torch.testing.assert_close(texts, want_texts, rtol=0, atol=1e-6)
    assert torch.equal(images[0], images[3]) and len(calls) == 2  # looked up, not embedded again
    with pytest.raises(ValueError, match="outside the run's batches"):
        features(np.array([1]))


def test_base_features_are_a_function_of_the_rows_alone():
    torch.manual_seed(0)
    base = create_clip("config:test-clip").frozen_copy()
    data = synthetic_train_data(groups=3)
    samples = ShardSamples(data, base.images_to_uint8)
    rows = np.arange(12)
    a = BaseFeatures(base, samples, rows, True, base.device, chunk=4, workers=0)
    b = BaseFeatures(base, samples, rows, True, base.device, chunk=4, workers=2)
    order = np.array([5, 1, 9, 0])
    assert all(torch.equal(x, y) for x, y in zip(a(order), b(order), strict=True))
