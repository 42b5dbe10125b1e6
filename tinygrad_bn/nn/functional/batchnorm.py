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

Composed from primitive ops this graph has ~10 nodes, each storing an activation-sized array; fused, the forward
saves only x_hat and inv_std, and the backward is the three lines above.

In eval mode mean and var are the running statistics, constants with respect to x, so dx_i = g_i * gamma * inv_std.
"""
from ...autograd import Function
from ...backend import get_array_module
from ...tensor import Tensor, ones, zeros
from .layout import channel_rows, from_channel_rows


def _column(v):
    """A per-channel vector as a (C, 1) column, to broadcast over a (C, m) matrix."""
    return v[:, None]


class BatchNorm(Function):
    def forward(self, x, weight=None, bias=None, *, running_mean=None, running_var=None, training=True,
                momentum=0.1, eps=1e-5):
        xp = get_array_module(x)
        rows = channel_rows(x)                                  # (C, m): one row per channel
        m = rows.shape[1]
        if training:
            mean = rows.mean(axis=1)
            x_hat = rows - _column(mean)
            var = xp.einsum("cm,cm->c", x_hat, x_hat) / m       # biased variance, one pass, no temporary
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean
            if running_var is not None:
                running_var *= 1 - momentum
                running_var += momentum * var * (m / (m - 1))   # the running estimate is unbiased, as in PyTorch
        else:
            mean, var = running_mean, running_var
            x_hat = rows - _column(mean)
        inv_std = 1 / xp.sqrt(var + eps)
        x_hat *= _column(inv_std)
        if weight is None:
            out = x_hat.copy()
        else:
            out = x_hat * _column(weight)
            out += _column(bias)
        self.training, self.has_affine, self.shape = training, weight is not None, x.shape
        self.save_for_backward(x_hat, inv_std, weight)
        return from_channel_rows(out, x.shape)

    def backward(self, g):
        """dbeta = sum(g), dgamma = sum(g * x_hat),
        dx = gamma * inv_std / m * (m * g - dbeta - x_hat * dgamma)   (training; eval: dx = g * gamma * inv_std)"""
        x_hat, inv_std, weight = self.saved
        xp = get_array_module(g)
        g_rows = channel_rows(g)
        m = g_rows.shape[1]
        dbeta = g_rows.sum(axis=1)
        dgamma = xp.einsum("cm,cm->c", g_rows, x_hat)
        scale = inv_std if weight is None else weight * inv_std
        if self.training:
            # dx = scale / m * (m*g - dbeta - x_hat*dgamma), evaluated in one buffer to spare memory traffic
            dx = x_hat * _column(dgamma / m)
            dx += _column(dbeta / m)
            xp.subtract(g_rows, dx, out=dx)
            dx *= _column(scale)
        else:
            dx = g_rows * _column(scale)
        dx = from_channel_rows(dx, self.shape)
        return (dx, dgamma, dbeta) if self.has_affine else dx


def _raw(stat):
    """Running statistics may be given as Tensors or as raw arrays; the op updates the array in place."""
    return stat.data if isinstance(stat, Tensor) else stat


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
