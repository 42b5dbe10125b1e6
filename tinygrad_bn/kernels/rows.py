"""Batch norm's primitives on a (C, m) matrix with one row per channel: plain, threaded in place, or CUDA.

Plain NumPy evaluates `(x - mean) / sqrt(var + eps) * gamma + beta` as a pass over memory per operation, each
writing a new activation-sized temporary. The fast CPU versions compute the same expressions in place, in buffers
they reuse, on blocks of channels: the channels are independent, so each core takes its own rows (NumPy alone uses
one core), and walks them a few rows at a time (parallel.map_row_blocks), so that of a primitive's several passes
only the first reads from RAM, the others find the rows in cache. So standardize reads x once and writes x_hat once
(the centred rows it builds for the variance become x_hat in place), and bn_grads reads g and x_hat once for both
sums and dx. On a GPU, scale_shift, the `dot` of row_dots and the variance, and dx are each one fused CUDA kernel
(cuda.py; every pass over memory is a kernel launch).
Per-channel vectors (mean, inv_std, gamma, ...) have shape (C,); `_column` makes them (C, 1) to broadcast over rows.
"""
import numpy as np

from ..backend import is_cupy_array
from .switch import use_plain
from .cuda import kernels as cuda_kernels
from .parallel import map_row_blocks


def _column(v):
    return v[:, None]


def standardize(rows, eps):
    """Per row: the mean, the biased variance (1/m) sum_i (x_i - mean)^2, inv_std = 1 / sqrt(var + eps) and
    x_hat = (x - mean) * inv_std, returned as (mean, var, inv_std, x_hat).

    Plain: mean = rows.mean(axis=1); centred = rows - mean[:, None]; var = (centred ** 2).mean(axis=1);
           inv_std = 1 / (var + eps) ** 0.5; x_hat = centred * inv_std[:, None]
    Fast (CPU): all the steps on a few rows at a time, in x_hat's own buffer: one read of x from RAM and one write
    of x_hat, the other passes in cache; the centred rows the variance is made of become x_hat in place."""
    if use_plain():
        mean = rows.mean(axis=1)
        centred = rows - _column(mean)
        var = (centred ** 2).mean(axis=1)
        inv_std = 1 / (var + eps) ** 0.5
        return mean, var, inv_std, centred * _column(inv_std)
    if is_cupy_array(rows):
        mean = rows.mean(axis=1)
        x_hat = rows - _column(mean)  # centred, then scaled in place
        var = cuda_kernels().dot(x_hat, x_hat, axis=1) / rows.shape[1]
        inv_std = 1 / (var + eps) ** 0.5
        x_hat *= _column(inv_std)
        return mean, var, inv_std, x_hat
    mean, var, inv_std = (np.empty(rows.shape[0], dtype=rows.dtype) for _ in range(3))
    x_hat = np.empty_like(rows)

    def channels(c):  # a few rows at a time: every pass after the mean's reads them while they are in cache
        mean[c] = rows[c].mean(axis=1)
        np.subtract(rows[c], _column(mean[c]), out=x_hat[c])
        var[c] = np.einsum("cm,cm->c", x_hat[c], x_hat[c]) / rows.shape[1]
        inv_std[c] = 1 / np.sqrt(var[c] + eps)
        x_hat[c] *= _column(inv_std[c])

    map_row_blocks(channels, rows.shape[0], row_bytes=rows[0].nbytes)
    return mean, var, inv_std, x_hat


def scale_shift(rows, scale, shift):
    """y = scale * x + shift per row. In training, y = gamma * x_hat + beta; in eval mode the whole of batch norm,
    (x - mean) * inv_std * gamma + beta, is one affine map per channel, with scale = gamma * inv_std and
    shift = beta - mean * scale (two passes, not four).

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


def bn_grads(g, x_hat, scale):
    """Batch norm's three gradients in training, with scale = gamma * inv_std and m values per row:
    dbeta = sum_i g_i,  dgamma = sum_i g_i * x_hat_i,  dx = scale * (g - dbeta / m - x_hat * dgamma / m),
    returned as (dx, dgamma, dbeta): the order of the op's inputs (x, gamma, beta).

    Plain: dbeta = g.sum(axis=1); dgamma = (g * x_hat).sum(axis=1);
           dx = scale[:, None] * (g - dbeta[:, None] / m - x_hat * dgamma[:, None] / m)
    Fast (CPU): the two sums and dx on a few rows at a time, so g and x_hat are read from RAM once (not three and
    two times), and dx is built up in its own rows, with no activation-sized temporaries."""
    m = g.shape[1]
    if use_plain():
        dbeta, dgamma = g.sum(axis=1), (g * x_hat).sum(axis=1)
        return _column(scale) * (g - _column(dbeta) / m - x_hat * _column(dgamma) / m), dgamma, dbeta
    if is_cupy_array(g):
        dbeta, dgamma = g.sum(axis=1), cuda_kernels().dot(g, x_hat, axis=1)
        dx = cuda_kernels().input_grad(g, x_hat, _column(dbeta / m), _column(dgamma / m), _column(scale))
        return dx, dgamma, dbeta
    dx = np.empty_like(x_hat)
    dbeta, dgamma = (np.empty(g.shape[0], dtype=np.result_type(g, x_hat)) for _ in range(2))

    def channels(c):  # a few rows at a time: the sums read g and x_hat from RAM, dx finds them in cache
        dbeta[c] = g[c].sum(axis=1)
        dgamma[c] = np.einsum("cm,cm->c", g[c], x_hat[c])
        np.multiply(x_hat[c], _column(dgamma[c] / m), out=dx[c])
        dx[c] += _column(dbeta[c] / m)
        np.subtract(g[c], dx[c], out=dx[c])
        dx[c] *= _column(scale[c])

    map_row_blocks(channels, g.shape[0], row_bytes=g[0].nbytes + x_hat[0].nbytes)
    return dx, dgamma, dbeta
