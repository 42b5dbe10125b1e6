"""A non-editable install holds tinygrad_bn and the program as tinygrad_bn_models, never a top-level `models`."""
import ast
import importlib.util
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_the_program_imports_itself_relatively():
    """Installed, models/ is tinygrad_bn_models: an absolute `models.` import there would fail outside the repo."""
    offenders = []
    for path in sorted((REPO / "models").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            if any(name == "models" or name.startswith("models.") for name in names):
                offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders, f"use relative imports (from .checkpoint import ...) in models/: {offenders}"


def _can_build_wheels_here():
    """Whether this environment's setuptools builds wheels by itself (70.1 and later), or has `wheel` to help."""
    try:
        import setuptools
    except ImportError:
        return False
    major, minor = (int(part) for part in re.findall(r"\d+", setuptools.__version__)[:2])
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


@pytest.mark.slow
def test_the_wheel_has_no_generic_top_level_package(tmp_path):
    source = tmp_path / "source"  # a copy: building writes build/ and *.egg-info next to the sources
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(REPO / name, source / name)
    for folder in ("tinygrad_bn", "models"):
        shutil.copytree(REPO / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    # Offline with this environment's setuptools when it can; otherwise (a fresh venv has setuptools 65 and no
    # `wheel`) pip installs pyproject's build requirements into an isolated environment, as `pip install` does.
    offline = ["--no-build-isolation"] if _can_build_wheels_here() else []
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", *offline, "-q",
                           "-w", str(tmp_path / "dist"), str(source)], capture_output=True, text=True, timeout=300)
    if done.returncode != 0 and not offline and "No matching distribution found for setuptools" in done.stderr:
        reason = next(line for line in done.stderr.splitlines() if "No matching distribution" in line)
        pytest.skip(f"this environment's setuptools can't build wheels, and pip can't get a newer one: {reason}")
    assert done.returncode == 0, done.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"tinygrad_bn", "tinygrad_bn_models"}
    for module in ("tinygrad_bn_models/catsdogs.py", "tinygrad_bn_models/images/cache.py",
                   "tinygrad_bn/formats/onnx.py", "tinygrad_bn/pytorch/utils/data/dataloader.py",
                   "tinygrad_bn/kernels/switch.py"):
        assert module in names, f"the wheel lacks {module}"
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "catsdogs = tinygrad_bn_models.catsdogs:main" in entry_points
