"""Shared test fixtures and helpers.

- `device`: every backend-dependent test takes this fixture and runs once per device; "cuda" is skipped, with the
  reason shown in the summary (`pytest -rs`), where CuPy or a GPU is missing. One suite, parameterised over the
  backend, instead of a GPU copy of each test.
- `tensor`, `torch_tensor`, `assert_close`: build identical inputs in both libraries and compare what comes out.
  PyTorch is a test oracle only; tests that need it are skipped where it is not installed.

Test files import the helpers with `from conftest import assert_close, tensor, torch_tensor`.
"""
import numpy as np
import pytest

import tinygrad_bn as tg
from tinygrad_bn.autograd import Function
from tinygrad_bn.backend import cuda_available
from tinygrad_bn.kernels import use_plain

CUDA_SKIP_REASON = ("cuda: CuPy with a GPU is not available here (install CuPy on a machine with an NVIDIA GPU, "
                    "e.g. `pip install cupy-cuda12x`, to run these tests on the GPU)")


# Every Function a gradcheck differentiated, by name: test_zz_every_function_is_gradchecked.py checks at the end of
# a whole run that no Function of the library was left out. While a gradcheck runs, Function.apply notes each
# Function that recorded a graph node. Both names of gradcheck are wrapped (tg.gradcheck, and the one that
# `from tinygrad_bn import gradcheck` binds), before any test module imports them.
GRADCHECKED_FUNCTIONS = set()
_gradcheck, _apply = tg.gradcheck, Function.apply.__func__


def _noting_apply(cls, *inputs, **options):
    out = _apply(cls, *inputs, **options)
    if out.grad_fn is not None:
        GRADCHECKED_FUNCTIONS.add(cls.__name__)
    return out


def _recording_gradcheck(*args, **kwargs):
    Function.apply = classmethod(_noting_apply)
    try:
        return _gradcheck(*args, **kwargs)
    finally:
        Function.apply = classmethod(_apply)


tg.gradcheck = _recording_gradcheck


@pytest.fixture(params=["cpu", "cuda"])
def device(request):
    """The device a test runs on: "cpu", then "cuda" where CuPy sees a GPU (skipped, visibly, elsewhere)."""
    if request.param == "cuda" and not cuda_available():
        pytest.skip(CUDA_SKIP_REASON)
    return request.param


# For tests of a property only the fast kernels have (a memory layout, a split into chunks): under
# TINYGRAD_BN_KERNELS=plain the plain versions run, which compute the same numbers without that property.
fast_kernels_only = pytest.mark.skipif(use_plain(), reason="tests a fast kernel's layout or chunking; "
                                       "TINYGRAD_BN_KERNELS=plain runs the plain versions")


def import_torch():
    """PyTorch, the test oracle; the calling test is skipped where it is not installed."""
    return pytest.importorskip("torch")


def tensor(array, device, requires_grad=False, dtype=None):
    """A tinygrad_bn Tensor holding `array`'s numbers on `device` (a float64 array stays float64)."""
    return tg.Tensor(np.asarray(array), requires_grad=requires_grad, dtype=dtype, device=device)


def torch_tensor(array, requires_grad=False):
    """A CPU torch tensor holding the same numbers, in the same dtype, as `array` (a NumPy array or a Tensor)."""
    torch = import_torch()
    array = array.numpy() if isinstance(array, tg.Tensor) else np.asarray(array)
    return torch.tensor(array, requires_grad=requires_grad)


def to_numpy(value):
    """A host NumPy array from a tinygrad_bn Tensor, a torch tensor, an array or a number."""
    if isinstance(value, tg.Tensor):
        return value.numpy()
    if hasattr(value, "detach"):  # a torch tensor
        return value.detach().cpu().numpy()
    return np.asarray(value)


def assert_close(actual, expected, rtol=1e-8, atol=1e-12, what=""):
    """Same shape, and |actual - expected| <= atol + rtol * |expected| elementwise (either library, or arrays)."""
    actual, expected = to_numpy(actual), to_numpy(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != expected {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


class FakeCudaArray(np.ndarray):
    """A NumPy array the backend takes for a CuPy one: it tells devices apart by the array type's module.

    This lets a machine without a GPU check that mixing devices is refused before any op runs."""


FakeCudaArray.__module__ = "cupy"


@pytest.fixture(scope="module")
def check_links():
    """docs/scripts/check_links.py as a module (docs/scripts is not a package; registered while in use, so that its
    dataclasses resolve their module). Its link parser skips code blocks and code spans."""
    import importlib.util
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "docs" / "scripts" / "check_links.py"
    spec = importlib.util.spec_from_file_location("check_links", script)
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_links"] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("check_links", None)
