"""LayerNorm and GroupNorm: normalization per sample (not per batch, unlike BatchNorm), so they behave the same in
training and eval and keep no running statistics. Both are composed from Tensor ops (nn/functional/normalization.py),
unlike BatchNorm's fused, hand-derived backward.
"""
from ..tensor import float32, ones, zeros
from . import functional as F
from .module import Module, Parameter


class LayerNorm(Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, mean and biased var over the last dims, of shape
    normalized_shape; weight (1) and bias (0) have that shape too (elementwise_affine=True)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, *, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        self.has_bias = bias and elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(ones(self.normalized_shape, dtype=dtype or float32, device=device))
            if bias:
                self.bias = Parameter(zeros(self.normalized_shape, dtype=dtype or float32, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

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
        if num_channels % num_groups:
            raise ValueError("num_channels must be divisible by num_groups")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        self.has_bias = bias and affine
        if affine:
            self.weight = Parameter(ones(num_channels, dtype=dtype or float32, device=device))
            if bias:
                self.bias = Parameter(zeros(num_channels, dtype=dtype or float32, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, bias={self.has_bias}"
