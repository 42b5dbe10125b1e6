"""Fused CUDA kernels for batch norm's primitives (rows.py), used when the arrays live on the GPU (CuPy).

The math is exactly that of the plain versions in rows.py. What changes is how it runs: NumPy-style code evaluates
`(x - mean) * inv_std * gamma + beta` as four passes over memory with a temporary array each, and on a GPU every
pass is a kernel launch and a trip through memory. Each kernel below reads its inputs once and writes its outputs
once. Per-channel values arrive as (C, 1) columns and broadcast over the (C, m) rows. CuPy compiles each kernel on
first use and caches it.
"""
import functools
from types import SimpleNamespace

from ..backend import cupy_module


@functools.lru_cache(maxsize=None)
def kernels():
    cp = cupy_module()
    return SimpleNamespace(
        # y = scale * x + shift in one pass: y = gamma * x_hat + beta in training, the whole of batch norm in eval
        scale_shift=cp.ElementwiseKernel(
            "T x, T scale, T shift", "T y", "y = scale * x + shift", "tinygrad_bn_scale_shift"),
        # sum_i a_i * b_i per row: dgamma (and the variance's sum of squares) without a product temporary
        dot=cp.ReductionKernel(
            "T a, T b", "T total", "a * b", "a + b", "total = a", "0", "tinygrad_bn_dot"),
        # dx = scale * (g - dbeta / m - x_hat * dgamma / m), the closed-form backward, in one pass
        input_grad=cp.ElementwiseKernel(
            "T g, T x_hat, T dbeta_over_m, T dgamma_over_m, T scale", "T dx",
            "dx = scale * (g - dbeta_over_m - x_hat * dgamma_over_m)",
            "tinygrad_bn_input_grad"),
    )
