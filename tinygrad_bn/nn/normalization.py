"""LayerNorm and GroupNorm: normalization per sample (not per batch, unlike BatchNorm), so they behave the same in
training and eval and keep no running statistics. Both are composed from Tensor ops (nn/functional/normalization.py),
unlike BatchNorm's fused, hand-derived backward.
"""
from ..tensors import float32, ones, zeros
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
