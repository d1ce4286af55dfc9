"""Import cycles among the modules of a package, from their source alone (nothing is imported).

Walks every module under the package folder with `ast` and records each import of another module of
the package, as a module-level edge (run when the module is imported) or a function-level edge (run
when the function is called). Prints the import edges between the package's top-level parts, then
the cycles among modules, module-level and with function-level imports. Exits 1 when a module-level
cycle exists: such a cycle makes the result of an import depend on which module is imported first.

    python tools/check_imports.py [src/cultureclip]
"""

import ast
import sys
from collections import defaultdict
from pathlib import Path

Graph = dict[str, set[str]]


def module_names(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under the package folder `root`."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = [root.name, *path.relative_to(root).with_suffix("").parts]
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute name an ImportFrom names (relative imports resolved against `module`)."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(module: str, path: Path, known: set[str]) -> tuple[set[str], set[str]]:
    """(module-level, function-level) imports of package modules by `module`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    top, inner = set(), set()

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            targets: list[str] = []
            if isinstance(child, ast.Import):
                targets = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = _resolve(module, path.name == "__init__.py", child)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in child.names]
            for target in targets:
                while target and target not in known:  # `import a.b.c` of a name inside a module
                    target = target.rpartition(".")[0]
                if target and target != module:
                    (inner if in_function else top).add(target)
            visit(child, nested)

    visit(tree, False)
    return top, inner - top


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted, in name order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted(found)


def part_of(module: str) -> str:
    """The top-level part a module belongs to: `pkg.backends.clip.base` -> `backends`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "(package)"


def part_edges(graph: Graph) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for module, targets in graph.items():
        for target in targets:
            if part_of(module) != part_of(target):
                edges[part_of(module)].add(part_of(target))
    return edges


def check(root: Path) -> tuple[str, int]:
    """The report for the package at `root`, and the exit status (1 on a module-level cycle)."""
    names = module_names(root)
    top: Graph = {}
    inner: Graph = {}
    for module, path in names.items():
        top[module], inner[module] = imports_of(module, path, set(names))
    both = {m: top[m] | inner[m] for m in names}
    lines = [f"{len(names)} modules under {root}", "", "module-level imports between top-level parts:"]
    lines += [f"  {part} -> {', '.join(sorted(targets))}" for part, targets in sorted(part_edges(top).items())]
    lines += ["", "function-level imports between top-level parts (not also module-level):"]
    top_parts = part_edges(top)
    for part, targets in sorted(part_edges(inner).items()):
        if extra := sorted(targets - top_parts.get(part, set())):
            lines.append(f"  {part} -> {', '.join(extra)}")
    module_cycles = cycles(top)
    lines += ["", f"module-level cycles: {len(module_cycles)}"]
    lines += [f"  {' <-> '.join(c)}" for c in module_cycles]
    call_cycles = [c for c in cycles(both) if c not in module_cycles]
    lines += ["", f"cycles through function-level imports: {len(call_cycles)}"]
    lines += [f"  {' <-> '.join(c)}" for c in call_cycles]
    return "\n".join(lines), 1 if module_cycles else 0


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else Path(__file__).resolve().parents[1] / "src" / "cultureclip")
    report, status = check(root)
    print(report)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
