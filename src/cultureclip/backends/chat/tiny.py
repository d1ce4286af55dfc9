"""Tiny chat models with random weights built from configs (seed 0): plumbing tests and smoke runs.

Their tokenizer has one token per byte (no vocabulary file to download); their replies are noise.
"""

import torch

from cultureclip.backends.chat.transformers import CausalLMGenerator, TransformersVLM
from cultureclip.backends.loaded import shared
from cultureclip.config import ChatModelConfig
from cultureclip.errors import ConfigError
from cultureclip.runtime import resolve_device

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
VISION_TOKENS = ("<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>")
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% if m['content'] is string %}{{ m['content'] }}"
    "{% else %}{% for c in m['content'] %}{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% else %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def byte_level_tokenizer(specials: tuple[str, ...] = ()):
    """A tokenizer with one token per byte, ChatML's end and start tokens, a pad token and `specials`
    (for tiny models built in code: no vocabulary file to download)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    core = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(alphabet)}, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token="<|im_end|>",
        pad_token="<|pad|>",
        additional_special_tokens=["<|im_start|>", *specials],
    )


def tiny_causal_lm(cfg: ChatModelConfig) -> CausalLMGenerator:
    """A 2-layer Llama with random weights (seed 0) and a byte-level tokenizer with a ChatML template."""
    device = resolve_device(cfg.device)
    return CausalLMGenerator(*shared(("tiny:causal-lm", device), _tiny_causal_lm), cfg, device)


def _tiny_causal_lm():
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = byte_level_tokenizer()
    tokenizer.chat_template = CHATML
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    return LlamaForCausalLM(config), tokenizer


def tiny_vlm(cfg: ChatModelConfig) -> TransformersVLM:
    """A Qwen2-VL with a 1-block vision tower and 2 text layers, random weights (seed 0), byte-level
    tokenizer; images are resized to 56x56 (4 image tokens). Its replies are noise: for plumbing tests."""
    device = resolve_device(cfg.device)
    return TransformersVLM(*shared(("tiny:vlm", device), _tiny_vlm), cfg, device)


def _tiny_vlm():
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
    return Qwen2VLForConditionalGeneration(config), processor


def create(ref: str, cfg: ChatModelConfig) -> CausalLMGenerator | TransformersVLM:
    """tiny:causal-lm (text only) or tiny:vlm (reads images)."""
    if ref not in TINY_MODELS:
        raise ConfigError(f"chat model tiny:{ref}: no such tiny model; known: {', '.join(TINY_MODELS)}")
    return TINY_MODELS[ref](cfg)


TINY_MODELS = {"causal-lm": tiny_causal_lm, "vlm": tiny_vlm}
