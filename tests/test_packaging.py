"""Packaging: what an install puts into site-packages, and what ``imu`` imports."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_package_list_names_every_package_folder_under_its_installed_name():
    tool = _pyproject()["tool"]["setuptools"]
    mapping = {"imu": "imu", **tool["package-dir"]}
    found = set()
    for name, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            if "__pycache__" in rel.parts:
                continue
            found.add(".".join([name, *rel.parts]))
    assert set(tool["packages"]) == found
    assert all(p == "imu" or p.startswith("imu.") for p in tool["packages"])
    assert "firmware" not in str(tool)


def test_the_licence_is_an_spdx_string():
    assert _pyproject()["project"]["license"] == "MIT"


def test_no_generic_top_level_package_is_importable_outside_the_repository(tmp_path):
    code = ("import importlib.util, sys;"
            "bad = [n for n in ('calibration', 'gui', 'firmware') if importlib.util.find_spec(n)];"
            "import imu.calibration, imu.gui;"
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


QT_CHECK = """
import importlib, pkgutil, sys
import imu, imu.cli
imu.cli.build_parser()
mods, todo = [], [imu]
while todo:
    pkg = todo.pop()
    for m in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + "."):
        if m.name.startswith("imu.gui") or m.name == "imu.__main__":
            continue
        mods.append(m.name)
        mod = importlib.import_module(m.name)
        if m.ispkg:
            todo.append(mod)
bad = [m for m in sys.modules if m.split(".")[0] in ("PySide6", "pyqtgraph")
       or m.startswith("imu.gui")]
print(len(mods), bad)
sys.exit(1 if bad or len([m for m in mods if m.startswith("imu.commands.")]) < 10 else 0)
"""


def test_importing_imu_and_every_command_never_imports_qt(tmp_path):
    script = tmp_path / "qt_check.py"
    script.write_text(QT_CHECK)
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                       text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_firmware_protocol_is_the_installed_protocol_module():
    fw = ROOT / "firmware" / "protocol.py"
    assert fw.resolve() == (ROOT / "imu" / "sources" / "ble" / "protocol.py").resolve()


def _imports(path: Path) -> set[str]:
    import ast

    mods = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            mods |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            mods.add(node.module)
            mods |= {f"{node.module}.{a.name}" for a in node.names}
    return mods


def test_no_command_module_imports_another():
    cmds = sorted((ROOT / "imu" / "commands").glob("*.py"))
    assert len(cmds) > 10
    offenders = {p.name: sorted(m for m in _imports(p) if m.startswith("imu.commands"))
                 for p in cmds}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_library_modules_never_import_the_commands():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "imu").rglob("*.py")
                 if "commands" not in p.parts and p.name != "cli.py"
                 and any(m.startswith("imu.commands") for m in _imports(p))]
    assert offenders == []
