"""Batch normalization as one fused op with an analytic backward (the derivation: docs/batchnorm.md).

Per channel c, over the m = N*H*W values x_i of that channel in the batch:

    mean    = (1/m) sum_i x_i
    var     = (1/m) sum_i (x_i - mean)^2              biased: this is what normalizes
    inv_std = 1 / sqrt(var + eps)
    x_hat_i = (x_i - mean) * inv_std
    y_i     = gamma * x_hat_i + beta

Backward, with g_i = dL/dy_i (every sum runs over the m values of the channel):

    dbeta  = sum_i g_i
    dgamma = sum_i g_i * x_hat_i
    dx_i   = gamma * inv_std * (g_i - dbeta / m - x_hat_i * dgamma / m)

Composed from primitive ops (`batch_norm_simple` below), autograd records a dozen functions and keeps several
activation-sized arrays for their backward passes; fused, the forward keeps one, x_hat (plus the per-channel
inv_std and gamma), and the backward is the three lines above. In eval mode mean and var are the running
statistics, constants with respect to x, so y_i = scale * x_i + shift (scale = gamma * inv_std, shift = beta -
mean * scale) and dx_i = g_i * scale.

The code works on a (C, m) matrix `rows` with one row per channel (kernels/layout.py: a view, no copy, for the
activations conv2d produces). The primitives it calls (standardize, scale_shift, bn_grads, row_dots) are the
lines of math above; tinygrad_bn/kernels/rows.py has each one's plain NumPy version beside its fast one.
"""
from ...autograd import Function
from ...backend import device_of, get_array_module
from ...kernels import bn_grads, channel_rows, from_channel_rows, row_dots, scale_shift, standardize
from ...tensors import Tensor


class BatchNormFn(Function):
    def forward(self, x, gamma, beta, *, running_mean, running_var, momentum, eps, training):
        """Training: per channel, the batch's mean and biased var, inv_std = 1 / sqrt(var + eps),
        x_hat = (x - mean) * inv_std (standardize: x read once) and y = gamma * x_hat + beta; then, as PyTorch's op
        does, the running estimates given move towards this batch's statistics, in place:
            running = (1 - momentum) * running + momentum * stat      (the unbiased variance, var * m / (m - 1))
        Eval: mean and var are the running statistics, constants, so y is one affine map per channel,
        y = scale * x + shift with scale = gamma * inv_std, shift = beta - mean * scale."""
        rows = channel_rows(x)
        self.training = training
        if training:
            mean, var, inv_std, x_hat = standardize(rows, eps)
            y = scale_shift(x_hat, gamma, beta)
            self.save_for_backward(x_hat, inv_std, gamma)
            m = rows.shape[1]
            for running, batch_stat in ((running_mean, mean), (running_var, var * (m / (m - 1)))):
                if running is not None:
                    _update_running(running, batch_stat, momentum)
        else:
            mean, var = (stat.astype(x.dtype, copy=False) for stat in (running_mean, running_var))
            inv_std = 1 / get_array_module(x).sqrt(var + eps)
            scale = gamma * inv_std
            y = scale_shift(rows, scale, beta - mean * scale)
            self.save_for_backward(x, mean, inv_std, gamma)  # x_hat is rebuilt by a backward that needs dgamma
        return from_channel_rows(y, x.shape)

    def backward(self, g):
        """dbeta = sum(g), dgamma = sum(g * x_hat), dx = gamma * inv_std * (g - dbeta/m - x_hat * dgamma/m)
        (eval: dx = g * gamma * inv_std)"""
        shape, g = g.shape, channel_rows(g)
        if self.training:  # one call (the fast CPU version reads g and x_hat from RAM once for all three)
            x_hat, inv_std, gamma = self.saved
            dx, dgamma, dbeta = bn_grads(g, x_hat, gamma * inv_std)
        else:  # x_hat is rebuilt from the saved input, and only when gamma needs its gradient
            x, mean, inv_std, gamma = self.saved
            dbeta = g.sum(axis=1)
            dgamma = row_dots(g, (channel_rows(x) - mean[:, None]) * inv_std[:, None]) if self.needs_grad[1] else None
            dx = g * (gamma * inv_std)[:, None]
        return from_channel_rows(dx, shape), dgamma, dbeta


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalize each channel of an (N, C), (N, C, L) or (N, C, H, W) input, then scale by weight, shift by bias.

    training=True: use the batch's statistics and, if given, update running_mean/running_var in place:
        running = (1 - momentum) * running + momentum * batch_stat     (with the unbiased variance)
    training=False: use running_mean and running_var (never the test batch's own statistics).
    """
    C = _check_batch_norm_args(input, running_mean, running_var, weight, bias, training)
    eps = float(eps)  # a Python float: a NumPy float64 eps would promote float32 statistics to float64
    if eps < 0 or (training and eps == 0):  # PyTorch's errors: sqrt(var + eps) of a constant channel would be 0
        raise ValueError(f"batch_norm eps must be {'positive during training' if training else 'non-negative'}, "
                         f"but got {eps}")
    dtype, xp = input.dtype, get_array_module(input.array)
    # The fused op always takes gamma and beta: constants 1 and 0 when the layer has none (affine=False).
    gamma = weight if weight is not None else Tensor._wrap(xp.ones(C, dtype=dtype))
    beta = bias if bias is not None else Tensor._wrap(xp.zeros(C, dtype=dtype))
    if gamma.dtype != dtype or beta.dtype != dtype:  # float32 parameters with float64 data: one dtype throughout
        gamma, beta = gamma.astype(dtype), beta.astype(dtype)
    return BatchNormFn.apply(input, gamma, beta, running_mean=_raw(running_mean), running_var=_raw(running_var),
                             momentum=momentum, eps=eps, training=training)


def _update_running(running, batch_stat, momentum):
    """running = (1 - momentum) * running + momentum * batch_stat, in place (the buffer is the module's)."""
    running *= 1 - momentum
    running += momentum * batch_stat


def _raw(stat):
    """Running statistics may be given as Tensors or as raw arrays; the update writes into the array."""
    return stat.array if isinstance(stat, Tensor) else stat


def _check_batch_norm_args(input, running_mean, running_var, weight, bias, training):
    """Raise PyTorch's errors for inputs batch norm cannot handle; return the number of channels C."""
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an input with a channel dim, (N, C, ...), got shape {input.shape}")
    C = input.shape[1]
    if training and input.numel() // max(C, 1) <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {input.shape}")
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm: running_mean and running_var are required when training=False")
    for name, stat in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                       ("bias", bias)):
        if stat is not None and tuple(stat.shape) != (C,):
            raise ValueError(f"batch_norm: {name} has shape {tuple(stat.shape)} but the input (shape {input.shape}) "
                             f"has {C} channels")
        if stat is not None and device_of(_raw(stat)) != input.device:  # not silently copied: the stats update in place
            raise RuntimeError(f"batch_norm: expected all tensors on the same device, got the input on {input.device} "
                               f"and {name} on {device_of(_raw(stat))}; move the module or the statistics with "
                               f".to(device)")
    return C


def batch_norm_simple(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
                      eps=1e-5):
    """The same batch norm composed from primitive Tensor ops: autograd differentiates it op by op.

    The reference the fused op is tested against (tests/test_batchnorm.py) and measured against
    (benchmarks/step.py): same outputs, same gradients, same running statistics, more memory and time."""
    C = _check_batch_norm_args(input, running_mean, running_var, weight, bias, training)
    channel = (1, C) + (1,) * (input.ndim - 2)
    axes = (0,) + tuple(range(2, input.ndim))
    if training:
        mean = input.mean(dim=axes, keepdim=True)
        centred = input - mean
        var = (centred * centred).mean(dim=axes, keepdim=True)
    else:
        mean = Tensor(_raw(running_mean).reshape(channel), dtype=input.dtype, device=input.device)
        var = Tensor(_raw(running_var).reshape(channel), dtype=input.dtype, device=input.device)
        centred = input - mean
    x_hat = centred / (var + eps).sqrt()
    y = x_hat
    if weight is not None:
        y = y * weight.reshape(*channel)
    if bias is not None:
        y = y + bias.reshape(*channel)
    if training:  # after the forward, as batch_norm() does
        m = input.numel() // C
        for running, batch_stat in ((running_mean, mean), (running_var, var * (m / (m - 1)))):
            if running is not None:
                _update_running(_raw(running), batch_stat.array.reshape(C), momentum)
    return y
