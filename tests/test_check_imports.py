import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("check_imports", ROOT / "tools" / "check_imports.py")
check_imports = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_imports)


def test_the_package_has_no_import_cycle():
    report, status = check_imports.check(ROOT / "src" / "cultureclip")
    assert status == 0, report
    assert "module-level cycles: 0" in report and "cycles through function-level imports: 0" in report


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root / "pkg"


def test_module_level_and_function_level_cycles_are_reported_apart(tmp_path):
    pkg = write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a/__init__.py": "",
            "pkg/a/one.py": "from pkg.b import two\n",
            "pkg/b/__init__.py": "",
            "pkg/b/two.py": "from ..a.one import x\nimport os\n",
            "pkg/c.py": "def f():\n    from pkg import d\n",
            "pkg/d.py": "import pkg.c\n",
        },
    )
    report, status = check_imports.check(pkg)
    assert status == 1
    assert report.splitlines()[2:] == [
        "module-level imports between top-level parts:",
        "  a -> b",
        "  b -> a",
        "  d -> c",
        "",
        "function-level imports between top-level parts (not also module-level):",
        "  c -> d",
        "",
        "module-level cycles: 1",
        "  pkg.a.one <-> pkg.b.two",
        "",
        "cycles through function-level imports: 1",
        "  pkg.c <-> pkg.d",
    ]


def test_without_a_module_level_cycle_the_exit_status_is_0(tmp_path, capsys):
    pkg = write(
        tmp_path, {"pkg/__init__.py": "", "pkg/c.py": "def f():\n    import pkg.d\n", "pkg/d.py": "import pkg.c\n"}
    )
    assert check_imports.main([str(pkg)]) == 0
    assert "cycles through function-level imports: 1\n  pkg.c <-> pkg.d" in capsys.readouterr().out
