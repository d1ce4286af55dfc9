"""The README is true to the code: each base class and method its extension table names exists where the
table says, each registry it names is a Registry there (and every extension registry has its row), and
each folder its layout names exists."""

import importlib
import re
from pathlib import Path

import pytest

from cultureclip.registry import Registry

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "cultureclip"
README = (ROOT / "README.md").read_text()
INTERNAL = {"ENTRY_POINTS"}
"""Registries that are not extension points: the package root's entry points."""


def section(title: str) -> str:
    return README.split(f"\n## {title}", 1)[1].split("\n## ", 1)[0]


def table_rows() -> list[dict[str, str]]:
    lines = [line.strip().strip("|") for line in section("Extending it").splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].split("|")]
    return [dict(zip(header, (cell.strip() for cell in line.split("|")), strict=True)) for line in lines[2:]]


ROWS = table_rows()


def spans(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def module_of(cell: str):
    """The module a cell names by its path (`backends/clip/base.py`), imported."""
    paths = [s for s in spans(cell) if s.endswith(".py")]
    assert len(paths) == 1, f"{cell!r}: names {len(paths)} modules, expected one"
    assert (SRC / paths[0]).is_file(), f"{paths[0]}: no such file under src/cultureclip"
    name = paths[0].removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    return importlib.import_module(f"cultureclip.{name}")


@pytest.mark.parametrize("row", ROWS, ids=[r["to add"] for r in ROWS])
def test_each_named_class_and_method_exists_where_the_table_says(row):
    cell = row["implement (in)"]
    module, owner = module_of(cell), None
    for name in spans(cell):
        if re.fullmatch(r"[A-Z]\w*(\.\w+)?", name):
            cls, _, attribute = name.partition(".")
            assert hasattr(module, cls), f"{row['to add']}: {module.__name__} has no {cls}"
            owner = getattr(module, cls)
            assert not attribute or callable(getattr(owner, attribute, None)), f"{name}: no such method"
        elif re.fullmatch(r"[a-z_]\w*", name):  # an attribute or field the last class declares (`inputs`)
            fields = getattr(owner, "__dataclass_fields__", {})
            assert hasattr(owner, name) or name in fields, f"{row['to add']}: no attribute {name!r}"
    assert owner is not None, f"{row['to add']}: names no class to implement"


@pytest.mark.parametrize("row", ROWS, ids=[r["to add"] for r in ROWS])
def test_each_named_registry_is_a_registry_and_each_decorator_exists(row):
    cell = row["register in"]
    decorators = [s[1:].split("(")[0] for s in spans(row["implement (in)"]) if s.startswith("@")]
    if cell.startswith("none"):
        assert not decorators
        return
    module = module_of(cell)
    (name,) = [s for s in spans(cell) if re.fullmatch(r"[A-Z_]+", s)]
    assert isinstance(getattr(module, name, None), Registry), f"{module.__name__}.{name} is not a Registry"
    for decorator in decorators:
        assert callable(getattr(module, decorator, None)), f"{module.__name__} has no decorator {decorator}"


@pytest.mark.parametrize("row", ROWS, ids=[r["to add"] for r in ROWS])
def test_each_file_to_write_goes_into_a_folder_that_exists(row):
    path = spans(row["write"])[0]
    assert (SRC / path).parent.is_dir(), f"{path}: no folder {(SRC / path).parent}"


def test_every_extension_registry_has_its_row():
    defined = {
        m.group(1)
        for path in SRC.rglob("*.py")
        for m in re.finditer(r"^([A-Z_]+)(?:: [^=]+)? = Registry\(", path.read_text(), re.M)
    }
    named = {s for row in ROWS for s in spans(row["register in"]) if re.fullmatch(r"[A-Z_]+", s)}
    assert defined - INTERNAL == named


def test_each_folder_of_the_layout_exists():
    layout = section("Layout").split("```")[1]
    top, package = ROOT, SRC
    for line in layout.splitlines():
        entry = line.split()[0] if line.strip() else ""
        if line.startswith("src/cultureclip/"):
            continue
        if line.startswith("  ") and not line.startswith("   ") and entry.endswith(("/", ".py")):
            assert (package / entry).exists(), f"README layout: src/cultureclip/{entry} does not exist"
        elif not line.startswith(" ") and entry.endswith("/"):
            assert (top / entry).is_dir(), f"README layout: {entry} does not exist"


def test_the_library_examples_imports_resolve():
    example = section("Use it as a library").split("```python", 1)[1].split("```", 1)[0]
    imports = [line for line in example.splitlines() if line.startswith(("from ", "import "))]
    assert imports and "from cultureclip import" in imports[0]
    exec("\n".join(imports), {})
