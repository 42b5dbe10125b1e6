"""Every autograd Function of the library was gradchecked (float64, central differences) somewhere in the suite.

The op tables (test_tensor_ops.py, test_more_ops.py) and each layer's tests call gradcheck; conftest.py notes which
Functions each gradcheck differentiated. This file runs last (pytest takes test files in name order) and compares
the notes with every Function subclass in tinygrad_bn: a new op without a gradcheck fails here. It needs the whole
suite and PyTorch (many gradchecks sit in tests that compare with PyTorch first), and skips visibly otherwise.
"""
from pathlib import Path

import pytest

import tinygrad_bn  # noqa: F401 (every Function subclass is defined once the package is imported)
from tinygrad_bn.autograd import Function
from conftest import GRADCHECKED_FUNCTIONS

# Functions a CPU-only run cannot differentiate, with the reason; each is gradchecked where it can be.
NOT_ON_THIS_MACHINE = {
    "ToDeviceFn": "moves a tensor between the CPU and the GPU: differentiated in test_autograd.py's device tests "
                  "when CuPy sees a GPU",
}


def all_functions():
    found, todo = set(), [Function]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub.__module__.startswith("tinygrad_bn"):
                found.add(sub.__name__)
            todo.append(sub)
    return found


def test_every_function_is_gradchecked(request):
    pytest.importorskip("torch", reason="the op tables' gradchecks run only where PyTorch (the oracle) is installed")
    ran = {Path(str(item.fspath)).name for item in request.session.items}
    every_file = {path.name for path in Path(__file__).parent.glob("test_*.py")}
    if ran != every_file or request.config.option.keyword or request.config.option.markexpr:
        pytest.skip("checks the whole suite's gradchecks: run `pytest` with no file, -k or -m selection")
    missing = sorted(all_functions() - GRADCHECKED_FUNCTIONS - set(NOT_ON_THIS_MACHINE))
    assert missing == [], f"Functions no test gradchecks: {missing} (add a row to tests/test_tensor_ops.py's CASES)"
