"""Lengths, directions and distances of vectors, with PyTorch's signatures: `vector_norm`, `normalize`,
`cosine_similarity`, `pairwise_distance`, and `cdist` (every row of one set against every row of another; the
package exports it as `torch.cdist`).

All are composed from Tensor ops, so autograd differentiates them op by op. The one subtlety is the gradient of a
norm where the norm is 0: the chain rule gives 0/0 there (d sqrt(s)/ds = 1 / (2 sqrt(s))), and PyTorch, like the
math's subgradient, uses 0. `vector_norm` takes the root only where the sum is positive, so no NaN is ever made.
"""
import math

import numpy as np

from ...backend import get_array_module
from ...tensors import Tensor


def vector_norm(x, p=2.0, dim=None, keepdim=False):
    """||x||_p = (sum_i |x_i|^p)^(1/p) along `dim` (every element when None).

    p = inf: max_i |x_i| (tied maxima share the gradient evenly, as in PyTorch's norm); p = 0: the number of
    nonzero elements (gradient 0). Where the norm is 0 its gradient is 0, not NaN.
    """
    if x.ndim == 0:  # a scalar's norm is its magnitude; reductions need an axis, so give it one
        return vector_norm(x.reshape(1), p, 0)
    axes = x._axes(dim)
    if p == 0:  # a count: its gradient is 0, but as in PyTorch it stays on the graph, so backward() runs
        nonzero = (x.array != 0).sum(axis=axes, keepdims=keepdim)
        return (x * 0.0).sum(dim, keepdim) + Tensor._wrap(nonzero.astype(x.dtype))
    magnitude = x.abs()
    if p == math.inf:
        largest = magnitude.array.max(axis=axes, keepdims=True)
        ties = (magnitude.array == largest).astype(x.dtype)  # the maxima: one each, unless values repeat
        count = Tensor._wrap(ties.sum(axis=axes, keepdims=keepdim))
        return (magnitude * Tensor._wrap(ties)).sum(dim, keepdim) / count
    if p == 1:
        return magnitude.sum(dim, keepdim)
    total = (x * x if p == 2 else magnitude ** p).sum(dim, keepdim)
    positive = total.array > 0
    safe_total = total.where(positive, 1.0)  # a harmless 1 where the sum is 0: its root is never used
    root = safe_total.sqrt() if p == 2 else safe_total ** (1.0 / p)
    return root.where(positive, 0.0)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p, eps) along `dim`: unit vectors, and zeros (not NaN) for zero vectors."""
    if out is not None:
        raise TypeError("normalize: out= is not supported by tinygrad_bn (assign the result instead)")
    return input / vector_norm(input, p, dim, keepdim=True).clamp(min=eps)


def _check_float(name, *tensors):
    for t in tensors:
        if t.dtype.kind != "f":
            raise RuntimeError(f"{name}: expected floating point inputs, got dtype {t.dtype}")


def _broadcast_shape(name, x1, x2):
    try:
        return np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise RuntimeError(f"{name}: shapes {x1.shape} and {x2.shape} cannot be broadcast together") from None


def clamped_value(x, low):
    """max(x, low) in value, with the gradient of x itself (PyTorch clamps under no_grad in cosine_similarity and
    gaussian_nll_loss, so a tiny norm or variance still passes its gradient on). What is added is a constant."""
    clamped = get_array_module(x.array).maximum(x.array, low)
    return x + Tensor._wrap(clamped - x.array)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum_i (x1_i / ||x1||) (x2_i / ||x2||) along `dim`, each norm kept >= eps; x1 and x2 broadcast together.

    Each vector is divided by its norm before the product, which keeps the result in [-1, 1] (PyTorch's order)."""
    _check_float("cosine_similarity", x1, x2)
    shape = _broadcast_shape("cosine_similarity", x1, x2)
    x1, x2 = x1.expand(shape), x2.expand(shape)
    n1 = clamped_value(vector_norm(x1, 2, dim, keepdim=True), eps)
    n2 = clamped_value(vector_norm(x2, 2, dim, keepdim=True), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p along the last dim (of the one with more dims; the two broadcast together).

    eps keeps the distance of equal vectors away from 0, where a norm has no derivative."""
    if p < 0:
        raise RuntimeError(f"pairwise_distance: p must be non-negative, got p={p}")
    _broadcast_shape("pairwise_distance", x1, x2)
    last = max(x1.ndim, x2.ndim) - 1
    return vector_norm(x1 - x2 + eps, p, last if last >= 0 else None, keepdim)


CDIST_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist")


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """out[..., i, j] = ||x1[..., i, :] - x2[..., j, :]||_p for x1 (..., P, M) and x2 (..., R, M): (..., P, R).

    Computed from the differences, (..., P, R, M) of them, for every p. compute_mode is accepted and checked but not
    used: PyTorch's matrix-product shortcut for p = 2 (||a||^2 - 2 a.b + ||b||^2) trades accuracy for speed."""
    if x1.ndim < 2 or x2.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1.ndim}D, X2 got: {x2.ndim}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: "
                           f"{x2.shape[-1]}")
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got p={p}")
    if compute_mode not in CDIST_MODES:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    _check_float("cdist", x1, x2)
    differences = x1.unsqueeze(-2) - x2.unsqueeze(-3)  # (..., P, 1, M) - (..., 1, R, M)
    return vector_norm(differences, p, -1)
