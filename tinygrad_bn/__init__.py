"""tinygrad_bn: a small reverse-mode autograd framework with an analytic BatchNorm, on NumPy or CuPy.

Read it in this order: backend.py (NumPy or CuPy), autograd.py (Function, backward), ops.py and tensor.py (the
Tensor and its ops), gradcheck.py, nn/functional/ (conv, batch norm, pooling, losses), nn/ (modules), optim/, data/.
"""
from .autograd import is_grad_enabled, no_grad
from .backend import cuda_available, manual_seed
from .gradcheck import GradcheckError, gradcheck
from .serialization import load, save
from .tensor import (Tensor, arange, bool_, cat, float32, float64, full, int32, int64, ones, ones_like, rand,
                     randn, stack, zeros, zeros_like)

__version__ = "0.1.0"
