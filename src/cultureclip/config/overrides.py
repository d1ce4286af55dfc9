"""Layered raw configs: deep merges, dotted `key=value` overrides, and validation into one-line errors."""

from typing import Any

from pydantic import BaseModel, ValidationError

from cultureclip.errors import ConfigError


def first_error(err: ValidationError) -> str:
    """The first problem of a validation error as 'dotted.key: what is wrong (got value)'.

    A rule of a whole section (a model validator) has no key of its own: its message names the fields.
    """
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"])
    if first["type"] == "extra_forbidden":
        problem = "unknown key"
    else:
        problem = first["msg"].removeprefix("Value error, ")
    given = "" if first["type"] in ("extra_forbidden", "missing", "value_error") else f" (got {first['input']!r})"
    more = f" [+{err.error_count() - 1} more]" if err.error_count() > 1 else ""
    return f"{key + ': ' if key else ''}{problem}{given}{more}"


def validate(model: type[BaseModel], raw: dict[str, Any], source: str) -> Any:
    """Validate `raw` against `model`, turning the first error into a one-line ConfigError."""
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(f"config error in {source}: {first_error(err)}") from None


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> None:
    """Merge `update` into `base` in place: mappings recursively, anything else replaced."""
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = value


def set_dotted(raw: dict[str, Any], key: str, value: Any) -> None:
    """Set raw['a']['b'] = value for key 'a.b', creating the parents (a null section becomes one)."""
    *parents, leaf = key.split(".")
    node = raw
    for part in parents:
        if node.get(part) is None:
            node[part] = {}
        child = node[part]
        if not isinstance(child, dict):
            raise ConfigError(f"override {key!r}: {part!r} is not a section")
        node = child
    node[leaf] = value


def overridden(cfg: BaseModel, overrides: dict[str, Any]) -> dict[str, Any]:
    """The raw form of `cfg` with dotted `overrides` applied (not validated)."""
    raw = cfg.model_dump(mode="json")
    for key, value in overrides.items():
        set_dotted(raw, key, value)
    return raw


def apply_overrides(cfg: BaseModel, overrides: dict[str, Any], source: str) -> Any:
    """Return a copy of `cfg` with dotted `overrides` applied and re-validated."""
    return validate(type(cfg), overridden(cfg, overrides), source)
