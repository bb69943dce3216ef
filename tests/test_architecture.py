"""The code's house rules, checked with the tests so they cannot break unnoticed: the layers of .importlinter (the
data's path: ingestion below retrieval below the features, interfaces on top; the features independent of one
another), and modules of a readable size."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP_PACKAGES = ("assistant", "audit", "config", "ingestion", "retrieval", "vectorstore")
MAX_MODULE_LINES = 500
# One cohesive class each (the segment store; the structure and heading grammars are one table of patterns each).
COHESIVE = {"vectorstore/segments.py", "ingestion/headings.py", "ingestion/structure.py"}
MAX_SERVICE_FUNCTION_LINES = 60


def test_imports_point_down_only() -> None:
    # In its own process: import-linter configures logging for itself, disabling every logger already made.
    linted = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--config", str(ROOT / ".importlinter"),
                             "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert linted.returncode == 0, linted.stdout[-3000:]
    assert "BROKEN" not in linted.stdout and "KEPT" in linted.stdout


def _app_modules() -> list[Path]:
    return [path for package in APP_PACKAGES for path in (ROOT / package).rglob("*.py")
            if "migrations" not in path.parts]


def test_no_app_module_is_over_five_hundred_lines_unless_one_cohesive_unit() -> None:
    long = {str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines()) for path in _app_modules()}
    assert {name: lines for name, lines in long.items() if lines > MAX_MODULE_LINES and name not in COHESIVE} == {}


def test_service_functions_stay_short() -> None:
    too_long = []
    for path in _app_modules():
        if path.name != "services.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.end_lineno - node.lineno + 1 > MAX_SERVICE_FUNCTION_LINES:
                too_long.append(f"{path.relative_to(ROOT)}:{node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert too_long == []
