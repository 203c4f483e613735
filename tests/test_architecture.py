"""The shape of the package: imports point down, no private names cross modules, rooms stay small."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dataeval_gpu"
MAX_MODULE_LINES = 520
MAX_FUNCTION_LINES = 100
# A function may run longer when its first line carries this marker and a reason.
LONG_OK = "# long:"


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _private_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module is not None:
            absolute = node.level == 0 and node.module.split(".")[0] == "dataeval_gpu"
            if node.level or absolute:
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        found.append(f"{path.name}:{node.lineno} {alias.name} from {node.module}")
    return found


def test_no_private_name_imported_across_modules() -> None:
    bad = [row for path in _modules() for row in _private_imports(path)]
    assert bad == []


def test_the_check_sees_a_private_import(tmp_path: Path) -> None:
    bad = tmp_path / "mod.py"
    bad.write_text("from .stats import _pool\nfrom dataeval_gpu.io import _short\nfrom .x import public\n")
    rows = _private_imports(bad)
    assert [r.split()[1] for r in rows] == ["_pool", "_short"]


def test_modules_stay_small() -> None:
    big = {str(p.relative_to(PACKAGE.parent)): n for p in _modules() if (n := p.read_text().count("\n")) > MAX_MODULE_LINES}
    assert big == {}


def test_functions_stay_short_or_say_why() -> None:
    long = []
    for path in _modules():
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                head = "\n".join(lines[node.lineno - 1 : node.body[0].lineno])
                if n > MAX_FUNCTION_LINES and LONG_OK not in head:
                    long.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name} ({n} lines)")
    assert long == []


@pytest.mark.parametrize("layer,forbidden", [("functional", ("audit", "cli", "report", "integrations", "detectors", "metrics"))])
def test_imports_point_down(layer: str, forbidden: tuple[str, ...]) -> None:
    bad = []
    for path in (PACKAGE / layer).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                name = parts[1] if parts[0] == "dataeval_gpu" and len(parts) > 1 else parts[0]
                if (node.level >= 2 or parts[0] == "dataeval_gpu") and name in forbidden:
                    bad.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} imports {node.module}")
    assert bad == []
