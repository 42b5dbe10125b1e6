"""Weight initialisation, PyTorch's defaults (torch/nn/init.py), filling a Tensor in place.

Random values are drawn on the host from the library's seeded generator (`backend.rng("cpu")`), in the tensor's
dtype, and then copied to the tensor's device: `tg.manual_seed(0)` gives the same initial model on CPU and GPU.

Why Linear and Conv2d use `kaiming_uniform_(w, a=sqrt(5))`: the Kaiming bound is
    bound = gain * sqrt(3 / fan_in),   gain = sqrt(2 / (1 + a^2))   (leaky_relu with negative slope a)
and a = sqrt(5) makes gain = sqrt(1/3), so bound = 1 / sqrt(fan_in): weights ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
the same rule PyTorch uses for the bias.
"""
import math
import warnings

import numpy as np

from ..backend import device_of, rng, to_device


def calculate_gain(nonlinearity, param=None):
    """The factor that keeps activations' variance steady through `nonlinearity` (PyTorch's table)."""
    if nonlinearity in ("linear", "conv2d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        negative_slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    raise ValueError(f"unsupported nonlinearity {nonlinearity}")


def calculate_fan_in_and_fan_out(tensor):
    """fan_in = inputs feeding one output unit, fan_out = outputs fed by one input unit.

    Weights are (out, in) for Linear and (out, in, kh, kw) for Conv2d: each kernel position counts as an input.
    """
    if len(tensor.shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive_field = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _fill(tensor, host_values):
    """Write host values into the tensor's array, on its device, in place."""
    tensor.array[...] = to_device(np.asarray(host_values, dtype=tensor.array.dtype), device_of(tensor.array))
    return tensor


def _draw_dtype(tensor):
    """NumPy's Generator draws float32 or float64 directly; other dtypes are drawn as float32 and cast."""
    return tensor.array.dtype if tensor.array.dtype in (np.float32, np.float64) else np.float32


def uniform_(tensor, a=0.0, b=1.0):
    """Fill with U(a, b)."""
    u = rng("cpu").random(tensor.shape, dtype=_draw_dtype(tensor))
    return _fill(tensor, a + (b - a) * u)


def normal_(tensor, mean=0.0, std=1.0):
    """Fill with N(mean, std^2)."""
    z = rng("cpu").standard_normal(tensor.shape, dtype=_draw_dtype(tensor))
    return _fill(tensor, mean + std * z)


def constant_(tensor, value):
    return _fill(tensor, np.full(tensor.shape, value))


def zeros_(tensor):
    return constant_(tensor, 0)


def ones_(tensor):
    return constant_(tensor, 1)


def _has_no_elements(tensor):
    """PyTorch's rule: a weight with a 0 in its shape (Linear(0, 3)) has nothing to fill, and its fan may be 0."""
    if 0 not in tensor.shape:
        return False
    warnings.warn("Initializing zero-element tensors is a no-op")
    return True


def _kaiming_std(tensor, a, mode, nonlinearity):
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode {mode!r} not supported, please use one of 'fan_in', 'fan_out'")
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """Fill with U(-bound, bound), bound = sqrt(3) * gain / sqrt(fan): the uniform law with the Kaiming std."""
    if _has_no_elements(tensor):
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """Fill with N(0, std^2), std = gain / sqrt(fan) (He et al., 2015)."""
    if _has_no_elements(tensor):
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity))


def xavier_uniform_(tensor, gain=1.0):
    """Fill with U(-bound, bound), bound = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor, gain=1.0):
    """Fill with N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0):
    """Fill with N(mean, std^2) restricted to [a, b]: values outside are drawn again until all fall inside.
    (The same distribution as PyTorch's, which inverts the CDF instead; the numbers differ.)"""
    values = mean + std * rng("cpu").standard_normal(tensor.shape)
    outside = (values < a) | (values > b)
    while outside.any():
        values[outside] = mean + std * rng("cpu").standard_normal(int(outside.sum()))
        outside = (values < a) | (values > b)
    return _fill(tensor, values)


def eye_(tensor):
    """The identity matrix (a 2-D tensor): ones on the diagonal, zeros elsewhere."""
    if len(tensor.shape) != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return _fill(tensor, np.eye(*tensor.shape))


def orthogonal_(tensor, gain=1, generator=None):
    """Fill with a (semi-)orthogonal matrix times gain (Saxe et al., 2013), PyTorch's construction: the tensor is
    seen as rows x cols (rows = size of dim 0, cols = the rest), a Gaussian matrix of that shape (transposed if
    rows < cols, so that it is tall) is factored as Q R, and Q's columns are multiplied by the signs of R's diagonal,
    which makes Q the unique factor with R's diagonal positive: uniformly distributed over orthogonal matrices.
    Then rows are orthonormal if rows <= cols, columns if rows >= cols."""
    if len(tensor.shape) < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    draw = rng("cpu") if generator is None else getattr(generator, "rng", generator)
    gaussian = draw.standard_normal((rows, cols), dtype=_draw_dtype(tensor))
    if rows < cols:
        gaussian = gaussian.T
    q, r = np.linalg.qr(gaussian)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))
