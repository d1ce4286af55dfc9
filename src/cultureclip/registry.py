"""Registries by name: backends and other pluggable pieces are chosen by a config string.

Built-in entries are registered lazily, as "module:attribute" strings, so a registry lists its names
without importing them (no torch for `cultureclip --help`) and an implementation module may import
the registry's module without the registry importing it back. User code may also register eagerly
with the decorator.
"""

import importlib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from cultureclip.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named table of entries (factories, or any object); registering a name twice is an error."""

    def __init__(self, kind: str, lazy: dict[str, str] | None = None):
        self.kind = kind
        self._entries: dict[str, Any] = {}
        self._lazy: dict[str, str] = {}
        for name, target in (lazy or {}).items():
            self.register_lazy(name, target)

    def register(self, name: str) -> Callable[[Any], Any]:
        """Decorator: register the decorated object under `name`."""

        def decorator(entry: Any) -> Any:
            self._claim(name)
            self._entries[name] = entry
            return entry

        return decorator

    def register_lazy(self, name: str, target: str) -> None:
        """Register `target` ("package.module:attribute") under `name`, imported on first use."""
        if ":" not in target:
            raise ValueError(f"{self.kind} {name!r}: lazy target {target!r} is not 'module:attribute'")
        self._claim(name)
        self._lazy[name] = target

    def get(self, name: str) -> Any:
        """The entry registered as `name`; an unknown name is a ConfigError listing the known ones."""
        if name in self._lazy:
            module, _, attribute = self._lazy.pop(name).partition(":")
            self._entries[name] = getattr(importlib.import_module(module), attribute)
        if name not in self._entries:
            raise ConfigError(f"unknown {self.kind} {name!r}; known: {', '.join(self.list())}")
        return self._entries[name]

    def create(self, name: str, *args, **kwargs) -> T:
        """Call the factory registered as `name` with the given arguments."""
        return self.get(name)(*args, **kwargs)

    def unregister(self, name: str) -> None:
        """Remove `name` (eager or lazy); for plug-ins and tests that register temporarily."""
        if name not in self:
            raise ConfigError(f"unknown {self.kind} {name!r}; known: {', '.join(self.list())}")
        self._entries.pop(name, None)
        self._lazy.pop(name, None)

    def list(self) -> list[str]:
        """Every registered name, sorted, without importing lazy entries."""
        return sorted({*self._entries, *self._lazy})

    def __contains__(self, name: str) -> bool:
        return name in self._entries or name in self._lazy

    def _claim(self, name: str) -> None:
        if name in self:
            raise ValueError(f"{self.kind} {name!r} is already registered")
