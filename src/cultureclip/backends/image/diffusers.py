"""Text-to-image with diffusers: any pipeline by hub name or local path, and a tiny one built from configs.

Every request carries its own seed and gets its own torch.Generator (on the CPU, so a seed gives the
same starting noise on every device): the same seed renders the same image whatever the batch.
"""

import logging
import tempfile
from pathlib import Path

import torch
from PIL import Image

from cultureclip.backends.image.base import RenderRequest
from cultureclip.backends.loaded import shared
from cultureclip.config import ImageGeneratorConfig
from cultureclip.errors import ConfigError, MissingDependencyError
from cultureclip.runtime import resolve_device, resolve_dtype

log = logging.getLogger(__name__)


class DiffusersImageGenerator:
    """`render(requests)` with a diffusers text-to-image pipeline, in batches, seeded per request."""

    def __init__(self, pipe, image_size: int, options: ImageGeneratorConfig):
        self.pipe = pipe
        self.pipe.set_progress_bar_config(disable=True)
        self.image_size = image_size
        self.options = options

    def render(self, requests: list[RenderRequest]) -> list[Image.Image]:
        size = self.options.batch_size
        return [im for i in range(0, len(requests), size) for im in self._batch(requests[i : i + size])]

    def _batch(self, requests: list[RenderRequest]) -> list[Image.Image]:
        negative = self.options.negative_prompt or None
        result = self.pipe(
            prompt=[r.prompt for r in requests],
            negative_prompt=[negative] * len(requests) if negative else None,
            num_inference_steps=self.options.steps,
            guidance_scale=self.options.guidance_scale,
            height=self.image_size,
            width=self.image_size,
            generator=[torch.Generator("cpu").manual_seed(r.seed) for r in requests],
            output_type="pil",
        )
        return list(result.images)


def _diffusers():
    try:
        import diffusers
    except ImportError:
        raise MissingDependencyError("image generator diffusers:...: `pip install 'cultureclip[gen]'`") from None
    return diffusers


def create(ref: str, image_size: int, options: ImageGeneratorConfig) -> DiffusersImageGenerator:
    """diffusers:HUB_NAME_OR_PATH: any text-to-image pipeline."""

    def load(dtype: torch.dtype):
        return _diffusers().AutoPipelineForText2Image.from_pretrained(ref, dtype=dtype)

    return DiffusersImageGenerator(_placed(ref, load, options), image_size, options)


def create_tiny(ref: str, image_size: int, options: ImageGeneratorConfig) -> DiffusersImageGenerator:
    """tiny:sd: the toy pipeline of `tiny_sd_pipeline`."""
    if ref != "sd":
        raise ConfigError(f"image generator tiny:{ref}: no such tiny pipeline; known: sd")
    return DiffusersImageGenerator(
        _placed("tiny:sd", lambda dtype: tiny_sd_pipeline().to(dtype=dtype), options), image_size, options
    )


def _placed(ref: str, load, options: ImageGeneratorConfig):
    """The pipeline `load(dtype)` gives, in the dtype and on the device `options` mean, loaded once per process
    (`backends.loaded`); with `offload`, each part moves to the GPU only while it runs."""
    device = resolve_device(options.device)
    dtype = resolve_dtype(options.dtype, device)

    def place():
        log.info(
            "loading text-to-image pipeline %s on %s in %s%s", ref, device, dtype, " (offloaded)" * options.offload
        )
        pipe = load(dtype)
        if options.offload and device != "cpu":
            pipe.enable_model_cpu_offload(device=device)
            return pipe
        return pipe.to(device)

    return shared(("diffusers", ref, device, str(dtype), options.offload), place)


def tiny_sd_pipeline():
    """A Stable Diffusion pipeline at toy size with random weights (seed 0): UNet, VAE, CLIP text encoder."""
    diffusers = _diffusers()
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    unet = diffusers.UNet2DConditionModel(
        block_out_channels=(8, 16),
        layers_per_block=1,
        sample_size=16,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=4,
        norm_num_groups=4,
    )
    vae = diffusers.AutoencoderKL(
        block_out_channels=(8, 16),
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        latent_channels=4,
        norm_num_groups=4,
    )
    tokenizer = clip_bpe_tokenizer()
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            max_position_embeddings=77,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    return diffusers.StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=diffusers.EulerDiscreteScheduler(steps_offset=1),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def clip_bpe_tokenizer():
    """CLIP's real BPE tokenizer, from the vocabulary file open_clip ships (no download)."""
    import json

    from open_clip.tokenizer import SimpleTokenizer
    from transformers import CLIPTokenizer

    bpe = SimpleTokenizer()
    with tempfile.TemporaryDirectory() as folder:
        vocab, merges = Path(folder) / "vocab.json", Path(folder) / "merges.txt"
        vocab.write_text(json.dumps(bpe.encoder))
        ranked = sorted(bpe.bpe_ranks.items(), key=lambda kv: kv[1])
        merges.write_text("#version: 0.2\n" + "\n".join(" ".join(pair) for pair, _ in ranked) + "\n")
        return CLIPTokenizer(str(vocab), str(merges), pad_token="<|endoftext|>", model_max_length=77)
