"""Every shipped CLIP config: its id encodes images and texts, saves, and reloads to the same embeddings."""

import pytest
import torch
from PIL import Image

from cultureclip.backends.clip import create_clip, tokenizer_for
from cultureclip.backends.clip.base import MODEL_CONFIGS

CONFIGS = sorted(p.name for p in MODEL_CONFIGS.iterdir() if p.is_dir())


def test_the_family_is_not_empty():
    assert CONFIGS == [
        "hf-clip",
        "hf-metaclip2",
        "hf-siglip",
        "hf-siglip2",
        "hf-siglip2-naflex",
        "open_clip-siglip2",
        "test-clip",
        "world-clip",
    ]


@pytest.mark.parametrize("name", CONFIGS)
def test_encodes_saves_and_reloads(name, tmp_path):
    torch.manual_seed(0)
    model = create_clip(f"config:{name}")
    images = [Image.new("RGB", (40, 30), (200, 40, 10)), Image.new("RGB", (30, 40), (10, 90, 200))]
    texts = ["a photo of gyoza.", "a photo of jiaozi, a dumpling from China."]
    with torch.inference_mode():
        image_emb = model.encode_images(model.images_to_tensor(images))
        text_emb = model.encode_texts(model.tokenize(texts))
    assert image_emb.shape[0] == 2 and text_emb.shape == (2, image_emb.shape[1])
    assert torch.allclose(image_emb.norm(dim=-1), torch.ones(2), atol=1e-5)
    assert tokenizer_for(f"config:{name}").count(texts[0]) <= tokenizer_for(f"config:{name}").context_length

    model.save(tmp_path / name)
    again = create_clip(f"local:{tmp_path / name}")
    with torch.inference_mode():
        assert torch.allclose(again.encode_images(again.images_to_tensor(images)), image_emb, atol=1e-6)
        assert torch.allclose(again.encode_texts(again.tokenize(texts)), text_emb, atol=1e-6)
