"""Every CLIP source's export loads with its own library alone and gives the image and text embeddings of
the model that wrote it: open_clip's create_model_and_transforms + get_tokenizer, or transformers' AutoModel
+ AutoProcessor. Each model is fine-tuned first (full or LoRA, merged on export, as the trainer saves it), so
the weights are not a config's random ones; "ours" is the model in memory, never a reload of the export.
"""

import pytest
import torch
from PIL import Image

from conftest import synthetic_train_data
from cultureclip.backends.clip import create_clip
from cultureclip.config import TowersConfig, TrainConfig, TuneConfig
from cultureclip.eval.wise import export_wise, wise
from cultureclip.train.loop import train

IMAGES = [Image.new("RGB", (40, 30), (200, 40, 10)), Image.new("L", (30, 40), 90), Image.new("RGB", (32, 32), "navy")]
TEXTS = ["a photo of gyoza.", "A Photo of JIAOZI, a dumpling from China!", "gate", "café crème brûlée 🍮"]
FULL = TuneConfig()
SOURCES = {  # name: (model id, how it is tuned, the library that loads the export)
    "open_clip": ("config:test-clip", FULL, "open_clip"),
    "open_clip-lora": ("config:test-clip", TuneConfig(mode="lora", lora_targets=["attn", "c_fc"]), "open_clip"),
    "hf-clip": ("config:hf-clip", FULL, "transformers"),
    "hf-clip-lora": ("config:hf-clip", TuneConfig(mode="lora"), "transformers"),
    "hf-siglip": ("config:hf-siglip", FULL, "transformers"),
    "hf-siglip-lora": ("config:hf-siglip", TuneConfig(mode="lora"), "transformers"),
    "towers": ("towers:lite", TuneConfig(mode="last_blocks", blocks=1), "open_clip"),
}


def fine_tuned(model_id: str, tune: TuneConfig, work):
    torch.manual_seed(0)
    model = create_clip(model_id, towers=TowersConfig(image_size=32, embed_dim=16, context_length=16))
    train(model, synthetic_train_data(), TrainConfig(steps=2, batch_size=4, lr=0.01, warmup=1, tune=tune), 0, work)
    return model


@torch.no_grad()
def ours(model) -> tuple[torch.Tensor, torch.Tensor]:
    model.model.eval()
    return model.encode_images(model.images_to_tensor(IMAGES)), model.encode_texts(model.tokenize(TEXTS))


@torch.no_grad()
def open_clip_alone(folder) -> tuple[torch.Tensor, torch.Tensor]:
    import open_clip

    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{folder}")
    tokenizer = open_clip.get_tokenizer(f"local-dir:{folder}")
    model.eval()
    pixels = torch.stack([preprocess(image) for image in IMAGES])
    return model.encode_image(pixels, normalize=True), model.encode_text(tokenizer(TEXTS), normalize=True)


@torch.no_grad()
def transformers_alone(folder) -> tuple[torch.Tensor, torch.Tensor]:
    from transformers import AutoModel, AutoProcessor

    model, processor = AutoModel.from_pretrained(folder).eval(), AutoProcessor.from_pretrained(folder)
    out = model(**processor(text=TEXTS, images=IMAGES, padding="max_length", return_tensors="pt"))
    return out.image_embeds, out.text_embeds


ALONE = {"open_clip": open_clip_alone, "transformers": transformers_alone}


def assert_same(library: tuple[torch.Tensor, torch.Tensor], expected: tuple[torch.Tensor, torch.Tensor]) -> None:
    for side, got, want in zip(("image", "text"), library, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-6, msg=lambda m, side=side: f"{side}: {m}")


@pytest.mark.parametrize("source", SOURCES)
def test_an_export_loads_with_its_library_alone_and_gives_our_embeddings(source, tmp_path):
    model_id, tune, library = SOURCES[source]
    model = fine_tuned(model_id, tune, tmp_path / "work")
    assert model.lora is None  # merged: a plain model of its library
    model.save(tmp_path / "export")
    assert_same(ALONE[library](tmp_path / "export"), ours(model))


def test_a_wise_export_of_a_lora_tune_loads_with_transformers_alone(tmp_path):
    torch.manual_seed(0)
    base = create_clip("config:hf-clip")  # the tune's start
    tuned = fine_tuned("config:hf-clip", TuneConfig(mode="lora"), tmp_path / "work")
    export_wise(base, tuned, 0.5, tmp_path / "export")
    assert_same(transformers_alone(tmp_path / "export"), ours(wise(base, tuned, 0.5)))


@pytest.fixture
def full_clip_folder(tmp_path):
    """A transformers CLIP folder as the hub has them (model, tokenizer files, processor), with an image
    processor unlike the shipped config's and a 77-token tokenizer: what `hf:PATH` loads."""
    from transformers import AutoImageProcessor, CLIPModel, CLIPProcessor

    from cultureclip.backends.clip.base import MODEL_CONFIGS
    from cultureclip.backends.clip.hf import clip_bpe_tokenizer

    shipped = MODEL_CONFIGS / "hf-clip"
    torch.manual_seed(0)
    tiny = create_clip("config:hf-clip").model
    CLIPModel(tiny.config).save_pretrained(tmp_path / "clip")
    images = AutoImageProcessor.from_pretrained(shipped, image_mean=[0.4, 0.45, 0.5], size={"shortest_edge": 36})
    tokenizer = clip_bpe_tokenizer(77)
    tokenizer.model_input_names = ["input_ids", "attention_mask"]  # as OpenAI's CLIP tokenizer
    CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(tmp_path / "clip")
    return tmp_path / "clip"


def test_a_tuned_hub_folder_model_exports_the_processor_it_was_trained_with(full_clip_folder, tmp_path):
    from transformers import AutoProcessor

    model = fine_tuned(f"hf:{full_clip_folder}", FULL, tmp_path / "work")
    model.save(tmp_path / "export")
    source, export = AutoProcessor.from_pretrained(full_clip_folder), AutoProcessor.from_pretrained(tmp_path / "export")
    settings = export.image_processor.to_dict()
    assert settings == source.image_processor.to_dict()
    assert list(settings["image_mean"]) == [0.4, 0.45, 0.5] and dict(settings["size"])["shortest_edge"] == 36
    assert export.tokenizer.model_max_length == 77 and len(export.tokenizer) == 49408
    assert export.tokenizer(TEXTS).input_ids == source.tokenizer(TEXTS).input_ids
    assert_same(transformers_alone(tmp_path / "export"), ours(model))


def test_a_folder_without_tokenizer_files_exports_clips_full_vocabulary(tmp_path):
    """The tiny configs carry no tokenizer: their export holds the CLIP BPE they tokenize with (49408
    tokens), not the 2-token vocabulary transformers would make up, which gives every text the same ids."""
    from transformers import AutoTokenizer

    create_clip("config:hf-clip").save(tmp_path / "export")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "export")
    assert len(tokenizer) == 49408 and tokenizer.model_max_length == 64
    assert tokenizer(["a photo of gyoza.", "gate"]).input_ids == [
        [49406, 320, 1125, 539, 70, 586, 2186, 269, 49407],
        [49406, 3302, 49407],
    ]
