"""Registries by name: backends and other pluggable pieces are chosen by a config string."""

from collections.abc import Callable
from typing import Generic, TypeVar

from cultureclip.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named table of factories; registering a name twice is an error."""

    def __init__(self, kind: str):
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._factories:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._factories[name] = factory
            return factory

        return decorator

    def create(self, name: str, *args, **kwargs) -> T:
        """Build the registered `name`; an unknown name is a ConfigError listing the known ones."""
        if name not in self._factories:
            raise ConfigError(f"unknown {self.kind} {name!r}; known: {', '.join(self.list())}")
        return self._factories[name](*args, **kwargs)

    def list(self) -> list[str]:
        return sorted(self._factories)
