"""Helpers every backend shares: data files inside installed packages."""

import importlib.util
from pathlib import Path

from cultureclip.errors import DataError, MissingDependencyError


def package_dir(package: str, missing: str) -> Path:
    """The folder of an installed package, found without importing it; MissingDependencyError(`missing`) if absent."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(missing)
    return Path(next(iter(spec.submodule_search_locations)))


def package_file(package: str, relative: str, pip_name: str) -> Path:
    """A data file (or folder) inside an installed package, found without importing the package."""
    path = package_dir(package, f"package {package!r} is not installed: pip install {pip_name}") / relative
    if not path.exists():
        raise DataError(f"{path}: missing from the installed package {pip_name}; reinstall it")
    return path
