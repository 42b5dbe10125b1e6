"""LayerNorm, RMSNorm, GroupNorm and InstanceNorm: normalization per sample (not per batch, unlike BatchNorm), so they behave
the same in training and eval and keep no running statistics (InstanceNorm may keep them, as an option). All are
composed from Tensor ops (nn/functional/normalization.py),
unlike BatchNorm's fused, hand-derived backward.
"""
from ..tensors import float32, int64, ones, zeros
from . import functional as F
from .module import Module, Parameter


def _add_scale_and_shift(layer, shape, affine, bias, device, dtype):
    """weight (ones) and bias (zeros) of `shape`, or None slots: what affine=False and bias=False leave out."""
    dtype = dtype or float32
    layer.register_parameter("weight", Parameter(ones(shape, dtype=dtype, device=device)) if affine else None)
    layer.register_parameter("bias", Parameter(zeros(shape, dtype=dtype, device=device)) if affine and bias else None)


class LayerNorm(Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, mean and biased var over the last dims, of shape
    normalized_shape; weight (1) and bias (0) have that shape too (elementwise_affine=True)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, *, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        self.has_bias = bias and elementwise_affine
        _add_scale_and_shift(self, self.normalized_shape, elementwise_affine, bias, device, dtype)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.has_bias}")


class RMSNorm(Module):
    """y = x / sqrt(mean(x^2) + eps) * weight, the mean over the last dims, of shape normalized_shape; weight (1) has
    that shape too (elementwise_affine=True). eps=None: the machine epsilon of the input's dtype, as PyTorch."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        weight = ones(self.normalized_shape, dtype=dtype or float32, device=device)
        self.register_parameter("weight", Parameter(weight) if elementwise_affine else None)  # no bias (PyTorch's)

    def forward(self, input):
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    """Normalize each sample's channels in num_groups groups (over the group's channels and positions), then scale
    and shift per channel: weight (1) and bias (0) of shape (num_channels,) when affine=True (no bias if
    bias=False)."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, bias=True, *, device=None, dtype=None):
        super().__init__()
        if num_groups <= 0:  # PyTorch divides by zero at 0
            raise ValueError(f"GroupNorm: num_groups must be a positive integer, got {num_groups!r}")
        if num_channels % num_groups:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        self.has_bias = bias and affine
        _add_scale_and_shift(self, (num_channels,), affine, bias, device, dtype)

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, bias={self.has_bias}"


class _InstanceNorm(Module):
    """Normalize each sample's each channel over its positions (F.instance_norm), then scale and shift per channel
    (weight (1) and bias (0) of shape (num_features,) when affine=True).

    track_running_stats=True keeps running_mean (0) and running_var (1) buffers, moved in training towards the batch's
    average instance statistics by `momentum`, and used in eval instead of each instance's own (as BatchNorm does).
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, device=None,
                 dtype=None, *, bias=True):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats, self.has_bias = affine, track_running_stats, bias and affine
        _add_scale_and_shift(self, (num_features,), affine, bias, device, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", zeros((num_features,), dtype=dtype or float32, device=device))
            self.register_buffer("running_var", ones((num_features,), dtype=dtype or float32, device=device))
            self.register_buffer("num_batches_tracked", zeros((), dtype=int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def forward(self, input):
        if input.ndim not in (self.dims + 1, self.dims + 2):
            raise ValueError(f"expected {self.dims + 1}D or {self.dims + 2}D input (got {input.ndim}D input)")
        channels = input.ndim - self.dims - 1
        if input.shape[channels] != self.num_features and self.affine:
            raise ValueError(f"expected input's size at dim={channels} to match num_features ({self.num_features}), "
                             f"but got: {input.shape[channels]}.")
        if channels == 0:  # unbatched (C, ...): a batch of one
            return self.forward(input.unsqueeze(0)).squeeze(0)
        # As PyTorch: momentum=None means no update (not a cumulative average), num_batches_tracked stays 0.
        use_input_stats = self.training or not self.track_running_stats
        return F.instance_norm(input, self.running_mean, self.running_var, self.weight, self.bias, use_input_stats,
                               self.momentum if self.momentum is not None else 0.0, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.has_bias}, track_running_stats={self.track_running_stats}")


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization of (N, C, L) (or unbatched (C, L)) input: statistics over L for each (n, c)."""
    dims = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization of (N, C, H, W) (or unbatched (C, H, W)) input: statistics over H, W for each (n, c)."""
    dims = 2
