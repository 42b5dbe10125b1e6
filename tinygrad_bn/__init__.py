"""tinygrad_bn: a small reverse-mode autograd framework with an analytic BatchNorm, on NumPy or CuPy.

Read it in the order the ideas build on each other (the README and docs/autograd.md follow the same order):

1. autograd.py      Function, the recorded graph, backward(): the whole idea of reverse-mode differentiation
2. ops.py           each differentiable op, forward and backward side by side
   tensor.py        the Tensor API, one hop from a method to its op (argument checks in arguments.py)
3. gradcheck.py     how any backward is checked against central differences
4. nn/functional/   convolution, batch norm (docs/batchnorm.md), pooling, activations, losses
5. nn/              Module and the layers; optim/: the optimizers; data/: the image pipeline
6. when needed: backend.py (NumPy or CuPy, one code path) and kernels/ (the speed tricks, each beside its plain
   version; TINYGRAD_BN_KERNELS=plain runs the plain ones)

`import tinygrad_bn as torch` is meant to run PyTorch model code: the package exposes `nn`, `optim`, `utils.data`,
`cuda`, `backends`, `device`, `tensor(...)` and the module-level twins of Tensor methods (functions.py).
"""
from .autograd import is_grad_enabled, no_grad
from .backend import cuda_available, manual_seed
from .gradcheck import GradcheckError, gradcheck
from .serialization import load, save
from .tensor import (Tensor, arange, bool_, cat, float32, float64, full, int32, int64, ones, ones_like, rand,
                     randn, stack, zeros, zeros_like)
# After `.tensor` (the module) is imported, the name `tinygrad_bn.tensor` is rebound to the function
# `tensor(data, ...)`, as in PyTorch; `from tinygrad_bn.tensor import Tensor` still finds the module in sys.modules.
from .functions import *  # noqa: F401,F403  (torch.* twins: flatten, max, exp, tensor, randn_like, dtype names ...)
from .functions import Generator, tensor
from .devices import device
from . import backends, cuda, nn, optim, utils
from .unsupported import missing as _missing

__version__ = "0.1.0"


def __getattr__(name):
    """PyTorch names that tinygrad_bn lacks fail with an error that says so (see unsupported.py)."""
    if name.startswith("_"):
        raise AttributeError(f"module 'tinygrad_bn' has no attribute {name!r}")
    raise _missing("tinygrad_bn", name)
