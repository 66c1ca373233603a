"""The layout keeps its promises: the pure numerical modules do no I/O and lean on no I/O
module, so they can be called on arrays and DataFrames from anywhere."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "capability"
PURE = sorted([*ROOT.glob("estimation/*.py"), *ROOT.glob("laws/*.py"),
               *ROOT.glob("prediction/*.py"), ROOT / "records" / "score.py",
               ROOT / "records" / "backtest.py", ROOT / "records" / "coverage.py",
               ROOT / "records" / "track_record.py", ROOT / "evaluation" / "passk.py",
               ROOT / "checks.py", ROOT / "sampling" / "chat.py"])
IO_MODULES = {"os", "io", "pathlib", "json", "csv", "tempfile", "shutil", "subprocess",
              "sqlite3", "gzip", "sandbox"}
IO_PACKAGES = ("capability.files", "capability.execution", "capability.records.registry",
               "capability.reports", "capability.sampling", "capability.pipeline",
               "capability.cli", "capability.demo")


def _imports(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_every_pure_module_is_found():
    assert len(PURE) >= 20 and all(p.exists() for p in PURE)


@pytest.mark.parametrize("path", PURE, ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_module_does_no_io(path):
    tree = ast.parse(path.read_text())
    imported = _imports(tree)
    assert not {m for m in imported if m.split(".")[0] in IO_MODULES}
    assert not {m for m in imported if m.startswith(IO_PACKAGES)}
    calls = {n.func.id for n in ast.walk(tree)
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert not calls & {"open", "print", "input"}
