"""The layers: each one owns its parameters/buffers and calls one function of `nn.functional` in `forward`.

The math lives in nn/functional; a layer only adds state (weights, running statistics, the train/eval flag) and
PyTorch's constructor arguments, defaults, initialisation and repr.
"""
import math

from ..arguments import check_groups, dims, pair
from ..tensors import float32, int64, zeros
from . import functional as F
from .functional.conv import single
from . import init
from .module import Module, Parameter


def _empty_parameter(shape, device, dtype):
    """A Parameter to be filled by reset_parameters() (zeros rather than uninitialised memory)."""
    return Parameter(zeros(shape, dtype=dtype or float32, device=device))


def _add_weight_and_bias(layer, weight_shape, bias, device, dtype):
    """Give a Linear or Conv2d its weight, its bias (or a None slot) and PyTorch's initial values."""
    layer.weight = _empty_parameter(weight_shape, device, dtype)
    if bias:
        layer.bias = _empty_parameter(weight_shape[:1], device, dtype)
    else:
        layer.register_parameter("bias", None)
    layer.reset_parameters()


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. to switch a layer off). Accepts and ignores any arguments."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """y = x W^T + b, with W of shape (out_features, in_features) and b of shape (out_features,).

    Init (PyTorch's): W and b ~ U(-1/sqrt(in_features), 1/sqrt(in_features)).
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        _add_weight_and_bias(self, (out_features, in_features), bias, device, dtype)

    def reset_parameters(self):
        _reset_weight_and_bias(self.weight, self.bias)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class _ConvNd(Module):
    """What Conv1d and Conv2d share: PyTorch's init, the forward (padding_mode other than zeros pads the input
    first, then convolves without padding, as PyTorch does) and the repr. Each subclass says which F function
    `_convolve` calls (looked up at each call, so that the ONNX exporter's recording of F.conv2d sees it)."""

    def reset_parameters(self):
        _reset_weight_and_bias(self.weight, self.bias)

    def forward(self, input):
        if self.padding_mode != "zeros":  # pad with the mode first, then convolve without padding (as PyTorch does)
            padded = F.pad(input, _padding_for_mode(self), mode=self.padding_mode)
            return self._convolve(padded, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        return self._convolve(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self):
        return _conv_repr(self)


class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation) over NCHW input with a weight of shape (out, in/groups, kh, kw).

    out[n, o, i, j] = b[o] + sum_{c, u, v} W[o, c, u, v] * x_padded[n, g*in/groups + c, i*sh + u*dh, j*sw + v*dw]
    for output channel o in group g (groups=in_channels: depthwise). padding: an int, a pair, "valid" or "same".
    Init (PyTorch's): W and b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in_channels/groups * kh * kw.
    """

    def _convolve(self, *args):
        return F.conv2d(*args)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = pair(kernel_size, "Conv2d: kernel_size")
        self.stride = pair(stride, "Conv2d: stride")
        self.padding = padding if isinstance(padding, str) else pair(padding, "Conv2d: padding")
        if isinstance(padding, str) and padding not in ("same", "valid"):  # PyTorch refuses them here, not in forward
            raise ValueError(f"Invalid padding string {padding!r}, should be one of {{'same', 'valid'}}")
        if padding == "same" and self.stride != (1, 1):
            raise ValueError(f"padding='same' is not supported for strided convolutions, got stride={self.stride}")
        self.dilation = pair(dilation, "Conv2d: dilation")
        self.groups = check_groups("Conv2d", groups, in_channels, out_channels)
        self.padding_mode = _check_padding_mode(padding_mode)
        _add_weight_and_bias(self, (out_channels, in_channels // self.groups) + self.kernel_size, bias, device, dtype)



class ConvTranspose2d(Module):
    """Transposed 2-D convolution (the input-gradient of Conv2d, used to upsample) with a weight of shape
    (in, out/groups, kh, kw). Output size: (H-1)*sh - 2*ph + dh*(kh-1) + output_padding + 1 (and the same in W).
    Init (PyTorch's): W and b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = out_channels/groups * kh * kw.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = pair(kernel_size, "ConvTranspose2d: kernel_size")
        self.stride = pair(stride, "ConvTranspose2d: stride")
        self.padding = pair(padding, "ConvTranspose2d: padding")
        self.output_padding = pair(output_padding, "ConvTranspose2d: output_padding")
        self.dilation = pair(dilation, "ConvTranspose2d: dilation")
        self.groups = check_groups("ConvTranspose2d", groups, in_channels, out_channels)
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for ConvTranspose2d, got {padding_mode!r}')
        self.padding_mode = padding_mode
        self.weight = _empty_parameter((in_channels, out_channels // self.groups) + self.kernel_size, device, dtype)
        if bias:  # one entry per output channel (the weight's first dim is the input's)
            self.bias = _empty_parameter((out_channels,), device, dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        _reset_weight_and_bias(self.weight, self.bias)

    def forward(self, input, output_size=None):
        if output_size is not None:
            raise NotImplementedError("ConvTranspose2d: output_size is not supported by tinygrad_bn; "
                                      "pass output_padding to the constructor instead")
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                                  self.groups, self.dilation)

    def extra_repr(self):
        return _conv_repr(self)


def _conv_repr(layer):
    """PyTorch's repr: the channels and kernel, then only the options that differ from their defaults."""
    text = f"{layer.in_channels}, {layer.out_channels}, kernel_size={layer.kernel_size}, stride={layer.stride}"
    none, single_step = (0,) * len(layer.kernel_size), (1,) * len(layer.kernel_size)   # (0, 0) in 2-D, (0,) in 1-D
    if layer.padding != none:
        text += f", padding={layer.padding}"
    if layer.dilation != single_step:
        text += f", dilation={layer.dilation}"
    if getattr(layer, "output_padding", none) != none:
        text += f", output_padding={layer.output_padding}"
    if layer.groups != 1:
        text += f", groups={layer.groups}"
    if layer.bias is None:
        text += ", bias=False"
    if layer.padding_mode != "zeros":
        text += f", padding_mode={layer.padding_mode}"
    return text


PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _check_padding_mode(padding_mode):
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {PADDING_MODES}, but got padding_mode={padding_mode!r}")
    return padding_mode


def _padding_for_mode(layer):
    """F.pad's sizes (last dim first, before and after) for a convolution's padding_mode: its `padding` on both
    sides, or for "same" D*(K-1) in all, the odd one after (PyTorch's choice; "valid" pads nothing)."""
    sizes = []
    for p, d, k in zip(reversed(_as_tuple(layer.padding, len(layer.kernel_size))), reversed(layer.dilation),
                       reversed(layer.kernel_size)):
        total = d * (k - 1) if p == "same" else 2 * p
        sizes += [total // 2, total - total // 2]
    return tuple(sizes)


def _as_tuple(padding, dims):
    """A padding string ("same", "valid" = 0) repeated for each dim, or the padding tuple itself."""
    return (0 if padding == "valid" else padding,) * dims if isinstance(padding, str) else padding


def _reset_weight_and_bias(weight, bias):
    """PyTorch's default for Linear and Conv2d: kaiming_uniform_(a=sqrt(5)) and the same 1/sqrt(fan_in) for b."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = init.calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(bias, -bound, bound)


class _BatchNorm(Module):
    """Batch normalization per channel (dim 1); the equations: F.batch_norm (nn/functional/batchnorm.py) and
    docs/batchnorm.md.

    Training: the batch's statistics, and the running statistics move towards them by `momentum`;
    momentum=None makes that a cumulative average (factor 1 / num_batches_tracked).
    Eval: normalise with running_mean / running_var, so a sample's output never depends on the rest of its batch.
    Buffers (saved, not learned): running_mean (0), running_var (1), num_batches_tracked (0, int64); parameters
    weight (1) and bias (0), or None when affine=False. track_running_stats=False: no buffers, batch stats always.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = _empty_parameter((num_features,), device, dtype)
            self.bias = _empty_parameter((num_features,), device, dtype)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros((num_features,), dtype=dtype or float32, device=device))
            self.register_buffer("running_var", zeros((num_features,), dtype=dtype or float32, device=device))
            self.register_buffer("num_batches_tracked", zeros((), dtype=int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def _check_input_dim(self, input):
        raise NotImplementedError

    def forward(self, input):
        """PyTorch's _BatchNorm.forward, step for step."""
        self._check_input_dim(input)
        average_factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.array += 1
            if self.momentum is None:  # cumulative moving average: the n-th batch gets weight 1/n
                average_factor = 1.0 / float(self.num_batches_tracked.item())

        # Batch statistics in training, and in eval too when there are no running statistics to use.
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        # Pass the buffers only where they are used (eval) or updated (training and tracking): a module that
        # tracks nothing must not have them updated. In training, the op (BatchNormFn) updates them in place, with
        # average_factor as its momentum.
        pass_buffers = not self.training or self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if pass_buffers else None,
            self.running_var if pass_buffers else None,
            self.weight,
            self.bias,
            training=use_batch_stats,
            momentum=average_factor,
            eps=self.eps,
        )

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """BatchNorm over (N, C) or (N, C, L) input: statistics over N, or over N and L."""

    def _check_input_dim(self, input):
        if input.ndim not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {input.ndim}D input)")


class BatchNorm2d(_BatchNorm):
    """BatchNorm over (N, C, H, W) input: statistics over N, H and W for each channel C."""

    def _check_input_dim(self, input):
        if input.ndim != 4:
            raise ValueError(f"expected 4D input (got {input.ndim}D input)")


class ReLU(Module):
    """relu(x) = max(x, 0). `inplace=True` is accepted and computed out of place (see nn/functional/activation.py)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.relu(input)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class _Pool2d(Module):
    """A pooling window of kernel_size, moved by stride (default: kernel_size), after padding. ceil_mode=True keeps
    the partial windows at the bottom/right edge (each must still start inside the input or its left padding)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """The maximum over each kernel_size window, moved by stride (default: kernel_size), after padding with -inf.
    dilation must be 1 and return_indices False (tinygrad_bn implements neither; both fail with a clear error)."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.dilation = dilation
        self.return_indices = return_indices
        if return_indices or pair(dilation, "MaxPool2d: dilation") != (1, 1):
            raise NotImplementedError(f"MaxPool2d: dilation={dilation!r}, return_indices={return_indices!r}: "
                                      "tinygrad_bn supports only dilation=1 and return_indices=False")

    def forward(self, input):
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)

    def extra_repr(self):
        return f"{super().extra_repr()}, dilation={self.dilation}, ceil_mode={self.ceil_mode}"


class AvgPool2d(_Pool2d):
    """The mean over each kernel_size window, moved by stride (default: kernel_size), after zero padding. The
    padding counts in the mean unless count_include_pad=False; divisor_override replaces the count."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output_size (H, W) whatever the input size; 1 is global average pooling."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class Flatten(Module):
    """Merge dims start_dim..end_dim into one: (N, C, H, W) -> (N, C*H*W) with the defaults."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input):
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim `dim` into `unflattened_size`: Unflatten(1, (C, H, W)) turns (N, C*H*W) into (N, C, H, W)."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim = dim
        self.unflattened_size = tuple(unflattened_size)

    def forward(self, input):
        dim = dims(input, self.dim)[0]  # out of range raises IndexError (a modulo would wrap it)
        return input.reshape(input.shape[:dim] + self.unflattened_size + input.shape[dim + 1:])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Upsample(Module):
    """Resize (N, C, H, W) images (mode "nearest" or "bilinear") or (N, C, L) sequences ("nearest" or "linear") to
    `size` or by `scale_factor` (F.interpolate)."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None):
        super().__init__()
        self.size = size
        self.scale_factor = float(scale_factor) if isinstance(scale_factor, (int, float)) else scale_factor
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        what = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return f"{what}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Upsample with mode="nearest"."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Upsample with mode="bilinear" and align_corners=True."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class Dropout(Module):
    """Training: zero each element with probability p and scale the rest by 1/(1-p). Eval: identity.
    `inplace=True` is accepted and computed out of place (see nn/functional/activation.py)."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input):
        return F.dropout(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Dropout):
    """Training: zero whole channels of (N, C, H, W) input with probability p, scale the rest by 1/(1-p)."""

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training)


class Dropout1d(Dropout):
    """Training: zero whole channels of (N, C, L) or (C, L) input with probability p, scale the rest by 1/(1-p)."""

    def forward(self, input):
        return F.dropout1d(input, self.p, self.training)


# ----------------------------------------------------------------------------------------------------------------
# 1-D layers (sequences (N, C, L)): the 2-D ones' math along the width (nn/functional/conv.py, pooling.py)
# ----------------------------------------------------------------------------------------------------------------
class Conv1d(_ConvNd):
    """1-D convolution (cross-correlation) over (N, C, L) input with a weight of shape (out, in/groups, k).

    out[n, o, l] = b[o] + sum_{c, u} W[o, c, u] * x_padded[n, g*in/groups + c, l*s + u*d]
    for output channel o in group g. padding: an int, "valid" or "same"; padding_mode "zeros", "reflect",
    "replicate" or "circular". Init (PyTorch's): W and b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in/groups * k.
    """

    def _convolve(self, *args):
        return F.conv1d(*args)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = single(kernel_size, "Conv1d: kernel_size")
        self.stride = single(stride, "Conv1d: stride")
        self.padding = padding if isinstance(padding, str) else single(padding, "Conv1d: padding")
        self.dilation = single(dilation, "Conv1d: dilation")
        self.groups = check_groups("Conv1d", groups, in_channels, out_channels)
        self.padding_mode = _check_padding_mode(padding_mode)
        _add_weight_and_bias(self, (out_channels, in_channels // self.groups) + self.kernel_size, bias, device, dtype)



class MaxPool1d(MaxPool2d):
    """The maximum over each window of kernel_size positions of (N, C, L) input, moved by stride (default:
    kernel_size), after padding with -inf. dilation must be 1 and return_indices False, as for MaxPool2d."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        if return_indices or single(dilation, "MaxPool1d: dilation") != (1,):
            raise NotImplementedError(f"MaxPool1d: dilation={dilation!r}, return_indices={return_indices!r}: "
                                      "tinygrad_bn supports only dilation=1 and return_indices=False")
        super().__init__(kernel_size, stride, padding, dilation, return_indices, ceil_mode)

    def forward(self, input):
        return F.max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)


class AvgPool1d(_Pool2d):
    """The mean over each window of kernel_size positions of (N, C, L) input, moved by stride (default:
    kernel_size), after zero padding (counted in the mean unless count_include_pad=False)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__(single(kernel_size, "AvgPool1d: kernel_size"),
                         single(stride if stride is not None else kernel_size, "AvgPool1d: stride"),
                         single(padding, "AvgPool1d: padding"), ceil_mode)
        self.count_include_pad = count_include_pad

    def forward(self, input):
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)


class AdaptiveAvgPool1d(AdaptiveAvgPool2d):
    """Average pooling of (N, C, L) input to a fixed length output_size whatever L."""

    def forward(self, input):
        return F.adaptive_avg_pool1d(input, self.output_size)


class AdaptiveMaxPool2d(Module):
    """Max pooling to a fixed output_size (H, W) whatever the input size (None keeps that input size)."""

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, input):
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(AdaptiveMaxPool2d):
    """Max pooling of (N, C, L) input to a fixed length output_size whatever L."""

    def forward(self, input):
        return F.adaptive_max_pool1d(input, self.output_size, self.return_indices)


# ----------------------------------------------------------------------------------------------------------------
# Padding layers: F.pad with a fixed mode and sizes; an int pads every side by that much
# ----------------------------------------------------------------------------------------------------------------
class _PadNd(Module):
    """Pads the last `dims` dims by `padding` ((left, right[, top, bottom]) as F.pad; an int: all sides) in `mode`."""
    dims, mode = 1, "constant"

    def __init__(self, padding):
        super().__init__()
        self.padding = (padding,) * (2 * self.dims) if isinstance(padding, int) else tuple(padding)
        if len(self.padding) != 2 * self.dims:
            raise ValueError(f"{type(self).__name__}: padding should be an int or {2 * self.dims} ints, got "
                             f"{padding!r}")

    def forward(self, input):
        return F.pad(input, self.padding, mode=self.mode)

    def extra_repr(self):
        return f"{self.padding}"


class ReflectionPad1d(_PadNd):
    """Pad the last dim with its mirror image (the edge not repeated): [1 2 3] by 2 -> [3 2 1 2 3 2 1]."""
    dims, mode = 1, "reflect"


class ReflectionPad2d(_PadNd):
    """Pad the last two dims with their mirror images (the edges not repeated)."""
    dims, mode = 2, "reflect"


class ReplicationPad1d(_PadNd):
    """Pad the last dim with copies of its edge values: [1 2 3] by 2 -> [1 1 1 2 3 3 3]."""
    dims, mode = 1, "replicate"


class ReplicationPad2d(_PadNd):
    """Pad the last two dims with copies of their edge values."""
    dims, mode = 2, "replicate"


class CircularPad1d(_PadNd):
    """Pad the last dim with the values from its other end: [1 2 3] by 2 -> [2 3 1 2 3 1 2]."""
    dims, mode = 1, "circular"


class CircularPad2d(_PadNd):
    """Pad the last two dims with the values from their other ends (the image as a torus)."""
    dims, mode = 2, "circular"


class ConstantPad1d(_PadNd):
    """Pad the last dim with `value`."""
    dims = 1

    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, mode="constant", value=self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ConstantPad2d(ConstantPad1d):
    """Pad the last two dims with `value`."""
    dims = 2


class ZeroPad1d(ConstantPad1d):
    """Pad the last dim with zeros."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad2d(ZeroPad1d):
    """Pad the last two dims with zeros."""
    dims = 2


# ----------------------------------------------------------------------------------------------------------------
# Image ops: pixels between space and channels, sliding blocks (nn/functional/pixel.py)
# ----------------------------------------------------------------------------------------------------------------
class PixelShuffle(Module):
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r), r = upscale_factor: each r*r channels become an r x r pixel block."""

    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input):
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W), r = downscale_factor: the inverse of PixelShuffle."""

    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input):
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"


class ChannelShuffle(Module):
    """Interleave the channels of (N, C, *) input from `groups` groups (ShuffleNet): see F.channel_shuffle."""

    def __init__(self, groups):
        super().__init__()
        self.groups = groups

    def forward(self, input):
        return F.channel_shuffle(input, self.groups)

    def extra_repr(self):
        return f"groups={self.groups}"


class Unfold(Module):
    """(N, C, H, W) -> (N, C*KH*KW, L): every sliding kernel_size block of the padded input as a column."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, input):
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
                f"stride={self.stride}")


class Fold(Module):
    """(N, C*KH*KW, L) -> (N, C, H, W), (H, W) = output_size: Unfold's adjoint, summing where blocks overlap."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size = output_size
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, input):
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")
