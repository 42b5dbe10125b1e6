"""Layer, RMS, group and instance normalization, composed from Tensor ops.

Unlike batch_norm (batchnorm.py), whose backward is one fused, hand-derived op, these are written as the formula
itself: mean, biased variance, normalize, scale and shift. Autograd differentiates the composition, which is exact;
it costs more memory and time than a fused op, which matters less here since these layers are not the hot path of
the CNNs this library is tuned for. They are gradchecked in float64 and compared with PyTorch in tests/test_compat.py
and tests/test_one_d_and_images.py.
"""
import math

import numpy as np

from .batchnorm import _raw, _update_running


def _normalize(x, dims, eps):
    """(x - mean) / sqrt(var + eps) over `dims`, with the biased variance (divided by n, as every norm layer does)."""
    mean = x.mean(dim=dims, keepdim=True)
    centred = x - mean
    var = (centred * centred).mean(dim=dims, keepdim=True)
    return centred / (var + eps).sqrt()


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalize over the last len(normalized_shape) dims of each sample, then y = x_hat * weight + bias
    (weight and bias of shape normalized_shape)."""
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(normalized_shape)
    if input.shape[input.ndim - k:] != normalized_shape:
        raise ValueError(f"layer_norm: normalized_shape {normalized_shape} does not match the last {k} dims of the "
                         f"input of shape {input.shape}")
    out = _normalize(input, tuple(range(input.ndim - k, input.ndim)), eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """Scale each sample by the root mean square over its last len(normalized_shape) dims, then by weight:

        y = x / sqrt(mean(x^2) + eps) * weight

    layer norm without the centring and without a bias (RMSNorm, Zhang and Sennrich 2019). eps=None uses the machine
    epsilon of the input's dtype (torch.finfo(dtype).eps), as PyTorch does."""
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(normalized_shape)
    if input.shape[input.ndim - k:] != normalized_shape:
        raise ValueError(f"rms_norm: normalized_shape {normalized_shape} does not match the last {k} dims of the "
                         f"input of shape {input.shape}")
    if eps is None:
        eps = float(np.finfo(input.dtype).eps)
    mean_square = (input * input).mean(dim=tuple(range(input.ndim - k, input.ndim)), keepdim=True)
    out = input / (mean_square + eps).sqrt()
    return out if weight is None else out * weight


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Split the C channels of (N, C, ...) input into num_groups groups; normalize each sample's group over its
    channels and positions; then y = x_hat * weight[c] + bias[c] per channel. num_groups=1 is layer norm over
    (C, ...), num_groups=C is instance norm."""
    if input.ndim < 2:
        raise ValueError(f"group_norm: expected input of shape (N, C, ...), got {input.shape}")
    N, C = input.shape[:2]
    if num_groups <= 0:
        raise ValueError(f"group_norm: num_groups must be a positive integer, got {num_groups!r}")
    if C % num_groups:
        raise ValueError(f"group_norm: the {C} channels of input of shape {input.shape} can not be split into "
                         f"{num_groups} groups")
    grouped = input.reshape(N, num_groups, -1)
    out = _normalize(grouped, (2,), eps).reshape(input.shape)
    per_channel = (C,) + (1,) * (input.ndim - 2)  # weight[c] broadcast over the positions
    if weight is not None:
        out = out * weight.reshape(per_channel)
    if bias is not None:
        out = out + bias.reshape(per_channel)
    return out


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Normalize each sample's each channel of an (N, C, ...) input over its positions, then y = x_hat * weight[c]
    + bias[c]: batch norm applied to every sample on its own (style transfer, GANs).

    use_input_stats=True: the instance's own mean and (biased) variance; running_mean/running_var, if given, move
    towards their average over the batch, in place, as batch norm's do:
        running = (1 - momentum) * running + momentum * stat averaged over n    (the unbiased variance)
    use_input_stats=False: normalize with running_mean and running_var instead.
    """
    if input.ndim < 3:
        raise ValueError(f"instance_norm: expected input of shape (N, C, L...), got {input.shape}")
    per_channel = (input.shape[1],) + (1,) * (input.ndim - 2)      # one value per channel, broadcast over positions
    positions = tuple(range(2, input.ndim))
    if use_input_stats:
        if math.prod(input.shape[2:]) == 1:  # one position: x - mean is 0 and the variance is undefined
            raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                             f"{list(input.shape)}")
        out = _normalize(input, positions, eps)
        if running_mean is not None or running_var is not None:
            _update_instance_running_stats(input, positions, running_mean, running_var, momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("Expected running_mean and running_var to be defined when use_input_stats is false")
        mean, var = running_mean.astype(input.dtype), running_var.astype(input.dtype)
        out = (input - mean.reshape(per_channel)) / (var.reshape(per_channel) + eps).sqrt()
    if weight is not None:
        out = out * weight.reshape(per_channel)
    if bias is not None:
        out = out + bias.reshape(per_channel)
    return out


def _update_instance_running_stats(input, positions, running_mean, running_var, momentum):
    """Each instance's mean and unbiased variance (constants: statistics are not differentiated), averaged over the
    batch, moved into the running estimates in place."""
    x = input.detach()
    for running, stat in ((running_mean, x.mean(dim=positions)), (running_var, x.var(dim=positions, unbiased=True))):
        if running is not None:
            _update_running(_raw(running), stat.mean(dim=0).array.astype(running.dtype), momentum)
