"""The package's three layers stay apart, and its names stay unambiguous (README.md, "Where things go").

- the core (everything in tinygrad_bn/ but pytorch/ and formats/) imports nothing from the PyTorch surface
  (tinygrad_bn/pytorch/) or from what sits around the library (tinygrad_bn/formats/); the package's __init__.py is
  where they meet, and is the one exception;
- every autograd Function is named ...Fn, and no Module is, so a graph node never reads like a layer;
- no module of the package defines a name that hides a Python builtin (PyTorch's names that are builtins, max or
  float, are exported from a table in pytorch/twins.py);
- the kernels' submodules do not import from the kernels package itself (no import cycle);
- the import paths PyTorch code uses keep working.
"""
import ast
import builtins
import importlib
from pathlib import Path

import pytest

import tinygrad_bn
from tinygrad_bn.autograd import Function
from tinygrad_bn.nn import Module

PACKAGE = Path(tinygrad_bn.__file__).parent
OUTER_LAYERS = ("pytorch", "formats")


def python_files(folder):
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path, name=None):
    """Every module `path` (the module `name`) imports, as absolute dotted names (relative imports resolved)."""
    name = name or module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return names


def core_files():
    return [p for p in python_files(PACKAGE) if p != PACKAGE / "__init__.py"
            and p.relative_to(PACKAGE).parts[0] not in OUTER_LAYERS]


@pytest.mark.parametrize("path", core_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_core_imports_nothing_from_the_outer_layers(path):
    outer = [name for name in imported_modules(path)
             if any(name == f"tinygrad_bn.{layer}" or name.startswith(f"tinygrad_bn.{layer}.")
                    for layer in OUTER_LAYERS)]
    assert not outer, f"{path.relative_to(PACKAGE.parent)} (the core) imports {outer}"


def test_the_import_scan_sees_relative_and_absolute_imports(tmp_path):
    """The check above can fail: a core file that reaches into pytorch/ is caught, however the import is written."""
    probe = tmp_path / "probe.py"
    probe.write_text("from ..pytorch import twins\nimport tinygrad_bn.formats.onnx\nfrom . import functional\n")
    names = imported_modules(probe, "tinygrad_bn.nn.probe")
    assert {"tinygrad_bn.pytorch.twins", "tinygrad_bn.formats.onnx", "tinygrad_bn.nn.functional"} <= set(names)


def all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from all_subclasses(sub)


def test_every_function_is_named_fn_and_no_module_is():
    functions = [f for f in all_subclasses(Function) if f.__module__.startswith("tinygrad_bn")]
    assert len(functions) >= 40, "the Functions were not found: is the package imported?"
    assert [f.__name__ for f in functions if not f.__name__.endswith("Fn")] == []
    modules = [m for m in all_subclasses(Module) if m.__module__.startswith("tinygrad_bn")]
    assert [m.__name__ for m in modules if m.__name__.endswith("Fn")] == []


@pytest.mark.parametrize("path", python_files(PACKAGE), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_of_the_package_defines_a_builtin_name(path):
    """Module-level definitions only: PyTorch fixes some argument names (`input`, `min`, `max` of clamp)."""
    defined = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            defined |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    shadowed = sorted(name for name in defined & set(dir(builtins)) if not name.startswith("__"))
    assert shadowed == [], f"{path.relative_to(PACKAGE.parent)} defines builtin names {shadowed}"


@pytest.mark.parametrize("path", python_files(PACKAGE / "kernels"), ids=lambda p: p.name)
def test_kernel_modules_do_not_import_their_own_package(path):
    if path.name == "__init__.py":
        return
    assert "tinygrad_bn.kernels" not in imported_modules(path), \
        f"kernels/{path.name} imports from kernels/__init__.py, which imports it: an import cycle"


def test_pytorch_names_that_are_builtins_are_exported_under_pytorchs_names():
    x = tinygrad_bn.tensor([[1.0, 5.0], [3.0, 2.0]])
    assert tinygrad_bn.max(x).item() == 5.0 and tinygrad_bn.sum(x).item() == 11.0
    assert tinygrad_bn.float == tinygrad_bn.float32 and tinygrad_bn.long == tinygrad_bn.int64
    assert max(3, 4) == 4  # and the builtins are untouched


@pytest.mark.parametrize("path", ["tinygrad_bn.utils.data", "tinygrad_bn.backends.cudnn", "tinygrad_bn.cuda",
                                  "tinygrad_bn.onnx", "tinygrad_bn.nn.functional", "tinygrad_bn.optim.lr_scheduler"])
def test_pytorchs_import_paths_work(path):
    """`import tinygrad_bn.cuda` and `tinygrad_bn.cuda` (the attribute) are the same module object."""
    module = importlib.import_module(path)
    by_attribute = tinygrad_bn
    for part in path.split(".")[1:]:
        by_attribute = getattr(by_attribute, part)
    assert module is by_attribute


def test_the_surface_is_one_object_by_either_path():
    from tinygrad_bn.pytorch.utils.data import DataLoader as by_layer
    from tinygrad_bn.utils.data import DataLoader as by_torch_path
    assert by_layer is by_torch_path
