"""The packages form layers: no cycle among them (checked here from the import graph
itself, not from our contract), and the README's table says exactly what the import
contract in pyproject.toml enforces."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("console", "ops", "settle", "notices", "registry", "diary", "vendors", "clients")


def _package_graph() -> dict[str, set[str]]:
    """Which of our top-level packages (and core) each imports."""
    graph = grimp.build_graph("notegateway", cache_dir=None)
    top = {f"notegateway.{name}" for name in (*PACKAGES, "core")}
    edges: dict[str, set[str]] = {name: set() for name in top}
    for importer in top:
        modules = {importer} | (
            graph.find_descendants(importer) if importer != "notegateway.settle" else set()
        )
        for module in modules:
            for imported in graph.find_modules_directly_imported_by(module):
                target = next(
                    (t for t in top if imported == t or imported.startswith(t + ".")), None
                )
                if target is not None and target != importer:
                    edges[importer].add(target)
    return edges


def test_no_package_imports_one_that_imports_it_back() -> None:
    edges = _package_graph()
    for start in edges:
        seen, pending = set(), list(edges[start])
        while pending:
            name = pending.pop()
            assert name != start, f"{start} reaches itself through its imports"
            if name not in seen:
                seen.add(name)
                pending.extend(edges[name])


def test_the_readme_describes_the_import_contract() -> None:
    contract = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    [layers] = [c["layers"] for c in contract["contracts"] if c["type"] == "layers"]
    enforced = [
        sorted(part.strip().removeprefix("notegateway.") for part in layer.split("|"))
        for layer in layers
    ]
    readme = (ROOT / "README.md").read_text()
    table = readme.split("| layer | imports |", 1)[1].split("\n\n", 1)[0]
    described = [
        sorted(re.findall(r"`([a-z]+)`", row.split("|")[1]))
        for row in table.strip().splitlines()[1:]
    ]
    assert described == enforced
