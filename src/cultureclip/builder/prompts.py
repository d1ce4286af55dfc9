"""Versioned prompt files of the builder's model stages: a shipped name (builder/prompts/NAME.yaml) or a path."""

from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import yaml

from cultureclip.errors import ConfigError

PROMPTS = resources.files("cultureclip") / "builder" / "prompts"
"""The folder of the shipped prompt files."""


def prompt_file(name: str, setting: str) -> Path:
    """The file of prompt file `name` (a path, or a shipped name); `setting` is the config key that named it."""
    file = Path(name) if Path(name).is_file() else Path(str(PROMPTS / f"{name}.yaml"))
    if not file.is_file():
        raise ConfigError(f"{setting}: {name!r} is neither a file nor a shipped prompt file")
    return file


def load_prompt_file(name: str, setting: str, required: Mapping[str, type]) -> dict:
    """The prompt file `name` (see `prompt_file`), checked to hold each `required` key with a value of its type."""
    file = prompt_file(name, setting)
    prompts = yaml.safe_load(file.read_text()) or {}
    for key, kind in required.items():
        if key not in prompts or not isinstance(prompts[key], kind):
            raise ConfigError(f"{file}: {key}: missing")
    return prompts
