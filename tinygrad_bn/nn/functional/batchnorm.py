"""Batch normalization as one fused op with an analytic backward (derivation: docs/batchnorm.md).

Per channel c, over the m = N*H*W values x_i of that channel in the batch:

    mean    = (1/m) sum_i x_i
    var     = (1/m) sum_i (x_i - mean)^2              biased: this is what normalizes
    inv_std = 1 / sqrt(var + eps)
    x_hat_i = (x_i - mean) * inv_std
    y_i     = gamma * x_hat_i + beta

Backward, with g_i = dL/dy_i (every sum runs over the m values of the channel):

    dbeta  = sum_i g_i
    dgamma = sum_i g_i * x_hat_i
    dx_i   = gamma * inv_std / m * (m * g_i - dbeta - x_hat_i * dgamma)

Composed from primitive ops, autograd records a dozen functions and keeps several activation-sized arrays for
their backward passes (docs/batchnorm.md counts them); fused, the forward saves one: x_hat (plus the per-channel
inv_std and gamma), and the backward is the three lines above.

In eval mode mean and var are the running statistics, constants with respect to x, so dx_i = g_i * gamma * inv_std.
"""
import numpy as np

from ...autograd import Function
from ...backend import get_array_module, is_cupy_array
from .batchnorm_cuda import kernels as cuda_kernels
from ...tensor import Tensor, ones, zeros
from .layout import channel_rows, from_channel_rows
from .parallel import map_row_blocks


def _column(v):
    """A per-channel vector as a (C, 1) column, to broadcast over a (C, m) matrix."""
    return v[:, None]


# The elementwise steps of the op. On the GPU each runs as one fused kernel (batchnorm_cuda.py). On the CPU they
# are NumPy expressions that reuse their buffers, run on blocks of channels on all cores at once (NumPy itself uses
# one core; channels are independent, so each core takes its own rows). Same formulas on both.
def _variance(rows, mean):
    """var = (1/m) sum_i (x_i - mean)^2 per row (biased)."""
    if is_cupy_array(rows):
        centred = rows - _column(mean)
        return cuda_kernels().dot(centred, centred, axis=1) / rows.shape[1]
    var = np.empty(rows.shape[0], dtype=rows.dtype)

    def channels(c):
        centred = rows[c] - _column(mean[c])
        var[c] = np.einsum("cm,cm->c", centred, centred) / rows.shape[1]

    map_row_blocks(channels, rows.shape[0])
    return var


def _normalize(rows, mean, inv_std, gamma, beta):
    """x_hat = (x - mean) * inv_std,  y = gamma * x_hat + beta."""
    if is_cupy_array(rows):
        return cuda_kernels().normalize(rows, *(_column(v) for v in (mean, inv_std, gamma, beta)))
    x_hat, y = np.empty_like(rows), np.empty_like(rows)

    def channels(c):
        np.subtract(rows[c], _column(mean[c]), out=x_hat[c])
        x_hat[c] *= _column(inv_std[c])
        np.multiply(x_hat[c], _column(gamma[c]), out=y[c])
        y[c] += _column(beta[c])

    map_row_blocks(channels, rows.shape[0])
    return x_hat, y


def _dot_rows(a, b):
    """sum_i a_i * b_i per row."""
    if is_cupy_array(a):
        return cuda_kernels().dot(a, b, axis=1)
    out = np.empty(a.shape[0], dtype=np.result_type(a, b))

    def channels(c):
        out[c] = np.einsum("cm,cm->c", a[c], b[c])

    map_row_blocks(channels, a.shape[0])
    return out


def _input_grad(g_rows, x_hat, dbeta, dgamma, scale):
    """dx = scale * (g - dbeta/m - x_hat * dgamma/m),  scale = gamma * inv_std."""
    m = g_rows.shape[1]
    if is_cupy_array(g_rows):
        return cuda_kernels().input_grad(g_rows, x_hat, _column(dbeta / m), _column(dgamma / m), _column(scale))
    dx = np.empty_like(x_hat)

    def channels(c):  # built up in dx's own rows, to spare memory traffic
        np.multiply(x_hat[c], _column(dgamma[c] / m), out=dx[c])
        dx[c] += _column(dbeta[c] / m)
        np.subtract(g_rows[c], dx[c], out=dx[c])
        dx[c] *= _column(scale[c])

    map_row_blocks(channels, g_rows.shape[0])
    return dx


class BatchNorm(Function):
    def forward(self, x, weight=None, bias=None, *, running_mean=None, running_var=None, training=True,
                momentum=0.1, eps=1e-5):
        xp = get_array_module(x)
        rows = channel_rows(x)                                  # (C, m): one row per channel
        C, m = rows.shape
        if training:
            mean = rows.mean(axis=1)
            var = _variance(rows, mean)                         # biased: this is what normalizes
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean
            if running_var is not None:
                running_var *= 1 - momentum
                running_var += momentum * var * (m / (m - 1))   # the running estimate is unbiased, as in PyTorch
        else:
            mean, var = running_mean, running_var
        inv_std = 1 / xp.sqrt(var + eps)
        # One dtype for every operand (the GPU kernels are typed): float32 parameters with float64 data, say.
        gamma = weight.astype(x.dtype, copy=False) if weight is not None else xp.ones(C, dtype=x.dtype)
        beta = bias.astype(x.dtype, copy=False) if bias is not None else xp.zeros(C, dtype=x.dtype)
        mean, inv_std = mean.astype(x.dtype, copy=False), inv_std.astype(x.dtype, copy=False)
        x_hat, out = _normalize(rows, mean, inv_std, gamma, beta)
        self.training, self.has_affine, self.shape = training, weight is not None, x.shape
        self.save_for_backward(x_hat, inv_std, gamma)
        return from_channel_rows(out, x.shape)

    def backward(self, g):
        """dbeta = sum(g), dgamma = sum(g * x_hat),
        dx = gamma * inv_std / m * (m * g - dbeta - x_hat * dgamma)   (training; eval: dx = g * gamma * inv_std)"""
        x_hat, inv_std, gamma = self.saved
        g_rows = channel_rows(g)
        dbeta = g_rows.sum(axis=1)
        dgamma = _dot_rows(g_rows, x_hat)
        scale = gamma * inv_std
        if self.training:
            dx = _input_grad(g_rows, x_hat, dbeta, dgamma, scale)
        else:
            dx = g_rows * _column(scale)
        dx = from_channel_rows(dx, self.shape)
        return (dx, dgamma, dbeta) if self.has_affine else dx


def _raw(stat):
    """Running statistics may be given as Tensors or as raw arrays; the op updates the array in place."""
    return stat.array if isinstance(stat, Tensor) else stat


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalize each channel of an (N, C), (N, C, L) or (N, C, H, W) input, then scale by weight, shift by bias.

    training=True: use the batch's statistics and, if given, update running_mean/running_var in place:
        running = (1 - momentum) * running + momentum * batch_stat     (unbiased variance)
    training=False: use running_mean and running_var (never the test batch's own statistics).
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an input with a channel dim, (N, C, ...), got shape {input.shape}")
    C = input.shape[1]
    values_per_channel = input.numel() // C
    if training and values_per_channel <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {input.shape}")
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm: running_mean and running_var are required when training=False")
    for name, stat in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                       ("bias", bias)):
        if stat is not None and tuple(stat.shape) != (C,):
            raise ValueError(f"batch_norm: {name} has shape {tuple(stat.shape)} but the input (shape {input.shape}) "
                             f"has {C} channels")
    if (weight is None) != (bias is None):
        # The fused op handles "both" or "neither"; fill in the missing one as a constant.
        weight = weight if weight is not None else ones(C, dtype=input.dtype, device=input.device)
        bias = bias if bias is not None else zeros(C, dtype=input.dtype, device=input.device)
    affine = () if weight is None else (weight, bias)
    return BatchNorm.apply(input, *affine, running_mean=_raw(running_mean), running_var=_raw(running_var),
                           training=training, momentum=momentum, eps=eps)
