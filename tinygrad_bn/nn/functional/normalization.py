"""Layer normalization and group normalization, composed from Tensor ops.

Unlike batch_norm (batchnorm.py), whose backward is one fused, hand-derived op, these are written as the formula
itself: mean, biased variance, normalize, scale and shift. Autograd differentiates the composition, which is exact;
it costs more memory and time than a fused op, which matters less here since these layers are not the hot path of
the CNNs this library is tuned for. Both are gradchecked in float64 and compared with PyTorch in tests/test_compat.py.
"""


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
