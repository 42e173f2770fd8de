"""The layers keep their direction: checks and reports never reach into probes, and no module
imports itself back through others (so each can be read, tested and replaced on its own).

Every import counts, also those inside functions: a late import hides a cycle, it does not
break one.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("scanner", "checks", "reports")


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = _modules()


def imports(path: Path) -> set[str]:
    """Every module name `path` imports, wherever in the file the import stands."""
    package = ".".join(path.relative_to(ROOT).parent.parts)
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[:len(package.split(".")) - node.level + 1], base]).strip(".")
            for alias in node.names:  # `from pkg import module` depends on that module, not on pkg
                out.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return out


def _edges() -> dict[str, set[str]]:
    return {name: {m for m in imports(path) if m in MODULES and m != name} for name, path in MODULES.items()}


def test_checks_and_reports_never_import_probes():
    """Judgement and rendering read facts and standards, never the collectors (scanner.probes)."""
    offenders = [f"{MODULES[name].relative_to(ROOT)} imports {imported}"
                 for name in MODULES if name.split(".")[0] in ("checks", "reports")
                 for imported in sorted(imports(MODULES[name]))
                 if imported == "scanner.probes" or imported.startswith("scanner.probes.")]
    assert not offenders, offenders


def test_standards_depend_on_nothing_of_ours_but_themselves():
    """Probes and checks both rest on the standards layer, so it may not rest on them."""
    offenders = [f"{name} imports {imported}" for name, targets in _edges().items()
                 if name.startswith("scanner.standards") for imported in sorted(targets)
                 if not imported.startswith("scanner.standards")]
    assert not offenders, offenders


def test_no_import_cycles():
    edges = _edges()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in sorted(edges):
        if name not in index:
            visit(name)
    assert not cycles, cycles


def test_the_graph_sees_late_imports():
    """The cycle test would be blind without this: an import inside a function is an edge."""
    assert "reports.html" in _edges()["scanner.cli"]
