"""Batch norm's primitives on a (C, m) matrix with one row per channel: plain, threaded in place, or CUDA.

Plain NumPy evaluates `(x - mean) * inv_std * gamma + beta` as four passes over memory, each writing a new
activation-sized temporary. The fast CPU versions compute the same expressions in place, in buffers they reuse, on
blocks of channels: the channels are independent, so each core takes its own rows (NumPy alone uses one core), and
walks them a few rows at a time (parallel.map_row_blocks), so that of a primitive's several passes only the first
reads from RAM, the others find the rows in cache. The mean is subtracted once: row_mean_var hands the centred rows
it built for the variance to normalize, which scales them into x_hat in place. On a GPU, normalize, scale_shift,
row_dots and bn_input_grad are each one fused CUDA kernel (cuda.py; every pass over memory is a kernel launch), and the
variance is CuPy's mean and subtraction followed by the `dot` kernel.
Per-channel vectors (mean, inv_std, gamma, ...) have shape (C,); `_column` makes them (C, 1) to broadcast over rows.
"""
import numpy as np

from ..backend import is_cupy_array
from . import use_plain
from .cuda import kernels as cuda_kernels
from .parallel import map_row_blocks


def _column(v):
    return v[:, None]


def row_mean_var(rows):
    """Per row: the mean, the biased variance (1/m) sum_i (x_i - mean)^2, and the centred rows x - mean, which the
    variance is made of and normalize() reuses (so x - mean is computed once).

    Plain: mean = rows.mean(axis=1); centred = rows - mean[:, None]; var = (centred ** 2).mean(axis=1)"""
    if use_plain():
        mean = rows.mean(axis=1)
        centred = rows - _column(mean)
        return mean, (centred ** 2).mean(axis=1), centred
    if is_cupy_array(rows):
        mean = rows.mean(axis=1)
        centred = rows - _column(mean)
        return mean, cuda_kernels().dot(centred, centred, axis=1) / rows.shape[1], centred
    mean, var = np.empty(rows.shape[0], dtype=rows.dtype), np.empty(rows.shape[0], dtype=rows.dtype)
    centred = np.empty_like(rows)

    def channels(c):  # a few rows at a time: the variance's pass reads `centred` while it is still in cache
        mean[c] = rows[c].mean(axis=1)
        np.subtract(rows[c], _column(mean[c]), out=centred[c])
        var[c] = np.einsum("cm,cm->c", centred[c], centred[c]) / rows.shape[1]

    map_row_blocks(channels, rows.shape[0], row_bytes=rows[0].nbytes)
    return mean, var, centred


def normalize(centred, inv_std, gamma, beta):
    """x_hat = (x - mean) * inv_std and y = gamma * x_hat + beta, both returned, from the centred rows x - mean
    (which row_mean_var built for the variance, so the mean is subtracted once). The fast CPU version scales
    `centred` into x_hat in place.

    Plain: x_hat = centred * inv_std[:, None]; y = gamma[:, None] * x_hat + beta[:, None]"""
    if use_plain():
        x_hat = centred * _column(inv_std)
        return x_hat, _column(gamma) * x_hat + _column(beta)
    if is_cupy_array(centred):
        return cuda_kernels().normalize(centred, *(_column(v) for v in (inv_std, gamma, beta)))
    x_hat, y = centred, np.empty_like(centred)

    def channels(c):  # a few rows at a time, so that the passes after the first find them in cache
        x_hat[c] *= _column(inv_std[c])
        np.multiply(x_hat[c], _column(gamma[c]), out=y[c])
        y[c] += _column(beta[c])

    map_row_blocks(channels, x_hat.shape[0], row_bytes=x_hat[0].nbytes)
    return x_hat, y


def scale_shift(rows, scale, shift):
    """y = scale * x + shift per row: batch norm in eval mode, where (x - mean) * inv_std * gamma + beta is one
    affine map per channel, with scale = gamma * inv_std and shift = beta - mean * scale (two passes, not four).

    Plain: scale[:, None] * rows + shift[:, None]"""
    if use_plain():
        return _column(scale) * rows + _column(shift)
    if is_cupy_array(rows):
        return cuda_kernels().scale_shift(rows, _column(scale), _column(shift))
    y = np.empty_like(rows)

    def channels(c):
        np.multiply(rows[c], _column(scale[c]), out=y[c])
        y[c] += _column(shift[c])

    map_row_blocks(channels, rows.shape[0], row_bytes=rows[0].nbytes)
    return y


def row_dots(a, b):
    """sum_i a_i * b_i per row (dgamma = sum_i g_i * x_hat_i), without an activation-sized product temporary.

    Plain: (a * b).sum(axis=1)"""
    if use_plain():
        return (a * b).sum(axis=1)
    if is_cupy_array(a):
        return cuda_kernels().dot(a, b, axis=1)
    out = np.empty(a.shape[0], dtype=np.result_type(a, b))

    def channels(c):
        out[c] = np.einsum("cm,cm->c", a[c], b[c])

    map_row_blocks(channels, a.shape[0], row_bytes=a[0].nbytes + b[0].nbytes)
    return out


def bn_input_grad(g, x_hat, dbeta, dgamma, scale):
    """dx = scale * (g - dbeta / m - x_hat * dgamma / m), with scale = gamma * inv_std: batch norm's input gradient.

    Plain: scale[:, None] * (g - dbeta[:, None] / m - x_hat * dgamma[:, None] / m)"""
    m = g.shape[1]
    if use_plain():
        return _column(scale) * (g - _column(dbeta) / m - x_hat * _column(dgamma) / m)
    if is_cupy_array(g):
        return cuda_kernels().input_grad(g, x_hat, _column(dbeta / m), _column(dgamma / m), _column(scale))
    dx = np.empty_like(x_hat)

    def channels(c):  # built up in dx's own rows: no temporaries, so less memory traffic
        np.multiply(x_hat[c], _column(dgamma[c] / m), out=dx[c])
        dx[c] += _column(dbeta[c] / m)
        np.subtract(g[c], dx[c], out=dx[c])
        dx[c] *= _column(scale[c])

    map_row_blocks(channels, g.shape[0], row_bytes=g[0].nbytes + x_hat[0].nbytes)
    return dx
