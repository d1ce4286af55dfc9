"""Resolve a config: defaults <- a YAML file or a shipped preset <- `key=value` overrides."""

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from cultureclip.config.overrides import deep_merge, first_error, set_dotted
from cultureclip.config.run import RunConfig
from cultureclip.errors import ConfigError
from cultureclip.redact import redact_tree

PRESETS = resources.files("cultureclip") / "config" / "presets"


def list_presets() -> list[str]:
    return sorted(p.name.removesuffix(".yaml") for p in PRESETS.iterdir() if p.name.endswith(".yaml"))


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Resolve defaults <- YAML file (a path or a preset name) <- `key=value` overrides.

    Each layer merges into the one below, so setting one key of a section keeps the section's others.
    """
    raw: dict[str, Any] = RunConfig().model_dump(mode="json")
    source = "defaults"
    if path is not None:
        file = _find_config(path)
        source = str(file)
        deep_merge(raw, read_yaml(file))
    keys: dict[str, str] = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r}: expected key=value")
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            raise ConfigError(f"override {item!r}: the value is not valid YAML (quote it)") from None
        set_dotted(raw, key.strip(), parsed)
        keys[key.strip()] = item
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as err:
        where = ".".join(str(p) for p in err.errors()[0]["loc"])
        blamed = [item for key, item in keys.items() if _within(where, key)]
        raise ConfigError(
            f"config error in {f'override {blamed[-1]!r}' if blamed else source}: {first_error(err)}"
        ) from None


def _within(where: str, key: str) -> bool:
    """True when the config key `where` lies at, inside or above the override `key`."""
    return where == key or where.startswith(key + ".") or key.startswith(where + ".")


def _find_config(path: str | Path) -> Path:
    file = Path(path)
    if file.is_file():
        return file
    preset = PRESETS / f"{path}.yaml"
    if preset.is_file():
        return Path(str(preset))
    raise ConfigError(f"config {str(path)!r}: no such file and no such preset ({', '.join(list_presets())})")


def yaml_error_line(err: yaml.YAMLError) -> str:
    """' line N' for a YAML error that knows where it happened, else ''."""
    mark = getattr(err, "problem_mark", None)
    return f" line {mark.line + 1}" if mark else ""


def read_yaml(file: Path) -> dict[str, Any]:
    """A YAML file holding a mapping; anything else is a ConfigError naming the file (and line)."""
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"config error in {file}{yaml_error_line(err)}: not valid YAML") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"config error in {file}: not a UTF-8 text file (byte {err.start})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config error in {file}: expected a mapping at the top level")
    return raw


def dump_config(cfg: BaseModel) -> str:
    """The resolved config as YAML, saved beside every output so a run can be reproduced; URLs in it are
    redacted (a credential in `base_url` is used, never written: redact.py)."""
    return yaml.safe_dump(redact_tree(cfg.model_dump(mode="json")), sort_keys=False)
