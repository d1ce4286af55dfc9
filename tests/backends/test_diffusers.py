import numpy as np
import pytest

from cultureclip.backends.image.base import RenderRequest, create_image_generator
from cultureclip.backends.image.diffusers import DiffusersImageGenerator, tiny_sd_pipeline
from cultureclip.config import ImageGeneratorConfig


@pytest.fixture(scope="module")
def tiny():
    return create_image_generator("tiny:sd", 32, ImageGeneratorConfig(steps=1, batch_size=2, guidance_scale=2.0))


def pixels(images):
    return [np.asarray(im) for im in images]


def test_same_seed_same_image_whatever_the_batch(tiny):
    batch = pixels(tiny.render([RenderRequest("gyoza", 1), RenderRequest("mandu", 2), RenderRequest("gyoza", 3)]))
    alone = pixels(tiny.render([RenderRequest("mandu", 2)]))
    assert batch[0].shape == (32, 32, 3)
    assert np.array_equal(alone[0], batch[1])
    assert not np.array_equal(batch[0], batch[2])  # same prompt, other seed


def test_negative_prompt_changes_the_image_under_guidance(tiny):
    options = ImageGeneratorConfig(steps=1, guidance_scale=2.0, negative_prompt="")
    plain = DiffusersImageGenerator(tiny.pipe, 32, options)
    request = [RenderRequest("gyoza", 1)]
    assert not np.array_equal(pixels(plain.render(request))[0], pixels(tiny.render(request))[0])


def test_a_saved_pipeline_loads_by_path_and_renders_the_same(tiny, tmp_path):
    tiny_sd_pipeline().save_pretrained(tmp_path)
    options = ImageGeneratorConfig(steps=1, batch_size=2, guidance_scale=2.0)
    loaded = create_image_generator(f"diffusers:{tmp_path}", 32, options)
    requests = [RenderRequest("gyoza", 1), RenderRequest("mandu", 2)]
    for a, b in zip(pixels(loaded.render(requests)), pixels(tiny.render(requests)), strict=True):
        assert np.abs(a.astype(int) - b).max() <= 1  # same weights; float rounding may move a pixel by one level
