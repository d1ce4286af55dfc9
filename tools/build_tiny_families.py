"""Write the shipped tiny configs of the transformers families that need their own tokenizer files.

    python tools/build_tiny_families.py   # rewrites src/cultureclip/backends/clip/model_configs/{hf-siglip2,...}

Each folder is what the hub's folder of that family holds, at tiny size and without weights (the model gets
random ones, see `config:` ids): the model config, the image processor's config and a tokenizer of the
family's own kind, trained here on the shipped catalogue's text (no hub):
  hf-siglip2         SiglipModel + GemmaTokenizer (byte-fallback BPE): SigLIP 2 at a fixed resolution
  hf-siglip2-naflex  Siglip2Model + Siglip2Tokenizer + Siglip2ImageProcessor (aspect-keeping patches)
  hf-metaclip2       MetaClip2Model + XLMRobertaTokenizer (Unigram, as MetaCLIP 2's XLM-V)
  open_clip-siglip2  open_clip's SigLIP 2 layout (ViT-B-16-SigLIP2.json) at tiny size, its Gemma tokenizer in the
                     folder (open_clip reads a local-dir model's Hugging Face tokenizer from there)
A rebuild gives the same BPE tokenizers; the Unigram trainer's scores differ in their last digits from run to run.
"""

import json
import logging
import re
import shutil
from pathlib import Path

from cultureclip.backends.clip.base import MODEL_CONFIGS

log = logging.getLogger(__name__)
VOCAB = 1000
TOWER = {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2, "num_hidden_layers": 2}
STATS = {"image_mean": [0.5, 0.5, 0.5], "image_std": [0.25, 0.25, 0.25]}
CATALOG = Path(__file__).resolve().parents[1] / "src" / "cultureclip" / "catalog" / "data"
TEMPLATES = [
    "a photo of a thing{g}.",
    "a thing{g} of kind {m}, picture {i}.",
    "concept {g} {m}",
    "A Photo of {g}, a dumpling from China!",
]


def corpus() -> list[str]:
    """The catalogue's words (names, kinds, cultures, looks) and the test data's templates, in both cases."""
    text = " ".join(p.read_text(encoding="utf-8") for p in sorted(CATALOG.glob("*.yaml")))
    lines = [" ".join(re.findall(r"[^\W_]+", line)) for line in text.splitlines()]
    synthetic = [t.format(g=g, m=m, i=i) for t in TEMPLATES for g in range(10) for m in range(4) for i in range(3)]
    return [line for line in lines if line] + synthetic + [line.upper() for line in lines if line][:200]


def gemma_like(cls):
    """A tokenizer of class `cls` (GemmaTokenizer or Siglip2Tokenizer) trained here, padding on the right."""
    bytes_ = [f"<0x{i:02X}>" for i in range(256)]
    trained = cls().train_new_from_iterator(corpus(), vocab_size=VOCAB, new_special_tokens=bytes_)
    # as open_clip's SigLIP 2 tokenizer: the end token after the text and padding after it (the tower pools the
    # last position)
    settings = {"padding_side": "right", "add_bos_token": False, "add_eos_token": True, "model_max_length": 64}
    return cls(tokenizer_object=trained.backend_tokenizer, **settings)


def xlm_roberta():
    from transformers import XLMRobertaTokenizer

    tokenizer = XLMRobertaTokenizer().train_new_from_iterator(corpus(), vocab_size=VOCAB)
    tokenizer.model_max_length = 64
    return tokenizer


def text_config(tokenizer) -> dict:
    ids = {f"{k}_token_id": getattr(tokenizer, f"{k}_token_id") for k in ("bos", "eos", "pad")}
    return TOWER | ids | {"vocab_size": len(tokenizer), "max_position_embeddings": 64}


def siglip2():
    from transformers import GemmaTokenizer, SiglipConfig, SiglipImageProcessor

    tokenizer = gemma_like(GemmaTokenizer)
    vision = TOWER | {"image_size": 32, "patch_size": 8}
    config = SiglipConfig(text_config=text_config(tokenizer) | {"projection_size": 32}, vision_config=vision)
    images = SiglipImageProcessor(size={"height": 32, "width": 32}, resample=3, **STATS)
    return config, images, tokenizer


def siglip2_naflex():
    from transformers import Siglip2Config, Siglip2ImageProcessor, Siglip2Tokenizer

    tokenizer = gemma_like(Siglip2Tokenizer)
    vision = TOWER | {"num_patches": 256, "patch_size": 16}  # Siglip2Processor's defaults, which override its images'
    config = Siglip2Config(text_config=text_config(tokenizer) | {"projection_size": 32}, vision_config=vision)
    images = Siglip2ImageProcessor(patch_size=16, max_num_patches=256, do_convert_rgb=True, **STATS)
    return config, images, tokenizer


def metaclip2():
    from transformers import CLIPImageProcessor, MetaClip2Config

    tokenizer = xlm_roberta()
    vision = TOWER | {"image_size": 32, "patch_size": 8}
    config = MetaClip2Config(text_config=text_config(tokenizer), vision_config=vision, projection_dim=32)
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}, **STATS)
    return config, images, tokenizer


def open_clip_siglip2(folder: Path) -> None:
    """open_clip's SigLIP 2 text tower (bidirectional, pooling the last position, the text cleaned to lowercase
    without punctuation) and logit bias, over open_clip's own small ViT."""
    vision = {"image_size": 32, "patch_size": 8, "width": 32, "layers": 2, "head_width": 16, "mlp_ratio": 2.0}
    tokenizer = gemma_like(__import__("transformers").GemmaTokenizer)
    text = {"context_length": 64, "vocab_size": len(tokenizer), "width": 32, "heads": 2, "layers": 2}
    text |= {
        "mlp_ratio": 2.0,
        "hf_tokenizer_name": "timm/ViT-B-16-SigLIP2",
        "tokenizer_kwargs": {"clean": "canonicalize"},
    }
    text |= {"no_causal_mask": True, "proj_bias": True, "pool_type": "last", "norm_kwargs": {"eps": 1e-6}}
    model = {"embed_dim": 32, "init_logit_bias": -10, "custom_text": True, "vision_cfg": vision, "text_cfg": text}
    preprocess = {"mean": [0.5] * 3, "std": [0.25] * 3, "interpolation": "bicubic", "resize_mode": "squash"}
    folder.mkdir(parents=True)
    (folder / "open_clip_config.json").write_text(
        json.dumps({"model_cfg": model, "preprocess_cfg": preprocess}, indent=2)
    )
    tokenizer.save_pretrained(folder)


FAMILIES = {"hf-siglip2": siglip2, "hf-siglip2-naflex": siglip2_naflex, "hf-metaclip2": metaclip2}


def main() -> None:
    for name, make in FAMILIES.items():
        folder = Path(str(MODEL_CONFIGS / name))
        shutil.rmtree(folder, ignore_errors=True)
        config, images, tokenizer = make()
        config.save_pretrained(folder)
        images.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        log.info("wrote %s (%d tokens)", folder, len(tokenizer))
    folder = Path(str(MODEL_CONFIGS / "open_clip-siglip2"))
    shutil.rmtree(folder, ignore_errors=True)
    open_clip_siglip2(folder)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main()
