"""How the Tensor API turns PyTorch-style arguments into what the ops take, and the errors that name bad ones.

tensors.py reads as the API: each method checks its arguments here, then applies an op of ops.py. Nothing here
computes or differentiates anything: dtype promotion, dims, shapes, indices, and clear messages.
"""
import numbers

import numpy as np

from .backend import device_of, get_array_module, to_device


def is_float(dtype):
    return np.issubdtype(dtype, np.floating)


def shape_argument(shape):
    """`f(2, 3)` and `f((2, 3))` both mean the shape (2, 3), as in PyTorch."""
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)


# ----------------------------------------------------------------------------------------------- dtype promotion
def lift(tensor, other):
    """A Python number, list or array as a Tensor on `tensor`'s device, ready to meet `tensor` in an op."""
    from .tensors import Tensor

    if isinstance(other, Tensor):
        return other
    xp = get_array_module(tensor.array)
    if isinstance(other, numbers.Number):
        # A Python number takes the tensor's dtype, as in PyTorch: 2.0 * (float32 tensor) stays float32.
        dtype = np.dtype("float32") if isinstance(other, float) and not is_float(tensor.dtype) else tensor.dtype
        return Tensor._wrap(xp.asarray(other, dtype=dtype))
    return Tensor._wrap(xp.asarray(other))


def binary_operands(name, tensor, other, reverse=False):
    """The two operands of an elementwise op, in order, with one dtype rule and a broadcast check.

    An integer tensor meeting a float one takes the float's dtype, as in PyTorch (NumPy would promote int64 with
    float32 to float64)."""
    other = lift(tensor, other)
    x, y = (other, tensor) if reverse else (tensor, other)
    if is_float(x.dtype) != is_float(y.dtype):
        x, y = (x, y.astype(x.dtype)) if is_float(x.dtype) else (x.astype(y.dtype), y)
    try:
        np.broadcast_shapes(x.shape, y.shape)
    except ValueError:
        raise ValueError(f"{name}: shapes {x.shape} and {y.shape} cannot be broadcast together") from None
    return x, y


# ------------------------------------------------------------------------------------------------- dims, shapes
def dims(tensor, dim):
    """`dim` (None, an int or a tuple, possibly negative) as a tuple of axes in range, or None for all."""
    if dim is None:
        return None
    dims_ = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    ndim = max(tensor.ndim, 1)  # a 0-d tensor accepts dim 0 and -1, as in PyTorch
    for d in dims_:
        if not -ndim <= d < ndim:
            raise IndexError(f"dim {d} is out of range for a tensor of shape {tensor.shape}")
    return tuple(int(d) % ndim for d in dims_)


def reshape_target(tensor, shape):
    """The shape `tensor` can be reshaped to (one -1 allowed), or an error naming both shapes."""
    known = int(np.prod([s for s in shape if s != -1]))
    unknown = shape.count(-1)
    n = tensor.numel()
    if not ((unknown == 0 and known == n) or (unknown == 1 and known > 0 and n % known == 0)):
        raise ValueError(f"reshape: shape {shape} is invalid for a tensor of shape {tensor.shape} ({n} elements)")
    return shape


def expand_target(tensor, shape):
    """The full target shape of `expand` (-1 keeps a size), or an error saying why it cannot be reached."""
    lead = len(shape) - tensor.ndim
    if lead < 0:
        raise ValueError(f"expand: the target {shape} has fewer dims than the tensor's shape {tensor.shape}")
    if -1 in shape[:lead]:
        raise ValueError(f"expand: -1 (keep the size) is not allowed in a new leading dim: {shape}")
    target = tuple(tensor.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
    if any(s < 0 for s in target):
        raise ValueError(f"expand: sizes must be non-negative (or -1 to keep a size), got {shape}")
    for size, new in zip(tensor.shape, target[lead:]):
        if size != new and size != 1:
            raise ValueError(f"expand: cannot expand shape {tensor.shape} to {shape}")
    return target


def permutation(tensor, order):
    axes = dims(tensor, order)
    if sorted(axes) != list(range(tensor.ndim)):
        raise ValueError(f"permute: {tuple(order)} is not a permutation of the {tensor.ndim} dims of shape "
                         f"{tensor.shape}")
    return axes


def check_matmul(a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both arguments need at least 1 dimension, got shapes {a.shape} and {b.shape}")
    inner_a, inner_b = a.shape[-1], (b.shape[0] if b.ndim == 1 else b.shape[-2])
    if inner_a != inner_b:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned ({inner_a} != {inner_b})")
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch dimensions of shapes {a.shape} and {b.shape} cannot be broadcast "
                         "together") from None


def join_axis(name, tensors, dim):
    """The axis along which cat (an existing dim) or stack (a new dim) joins `tensors`, after checking shapes."""
    if not tensors:
        raise ValueError(f"{name}: expected a non-empty list of tensors")
    first = tensors[0]
    if name == "stack":
        ndim = first.ndim + 1  # stack inserts a new dim, so it may go at any of ndim + 1 places
        if not -ndim <= dim < ndim:
            raise IndexError(f"stack: dim {dim} is out of range for tensors of shape {first.shape}")
        for t in tensors[1:]:
            if t.shape != first.shape:
                raise ValueError(f"stack: expected tensors of equal shape, got {first.shape} and {t.shape}")
        return dim % ndim
    axis = dims(first, dim)[0]
    for t in tensors[1:]:
        if t.ndim != first.ndim or any(a != b for i, (a, b) in enumerate(zip(t.shape, first.shape)) if i != axis):
            raise ValueError(f"cat: shapes {first.shape} and {t.shape} differ outside dim {axis}")
    return axis


# --------------------------------------------------------------------------------------- convolution and pooling
def pair(value, name):
    """An int or a pair of ints -> a pair (kernel sizes, strides, paddings); a clear error otherwise."""
    pair_ = (value, value) if isinstance(value, (int, np.integer)) else tuple(value) \
        if isinstance(value, (tuple, list)) else ()
    if len(pair_) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in pair_):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return tuple(int(v) for v in pair_)


def positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_groups(name, groups, in_channels, out_channels):
    """groups must be a positive int that divides both channel counts (PyTorch's errors)."""
    groups = positive_int(f"{name}: groups", groups)
    if in_channels % groups:
        raise ValueError(f"{name}: in_channels ({in_channels}) must be divisible by groups ({groups})")
    if out_channels % groups:
        raise ValueError(f"{name}: out_channels ({out_channels}) must be divisible by groups ({groups})")
    return int(groups)


# ------------------------------------------------------------------------------------------------------ indices
def raw_index(index, device):
    """Indices may contain Tensors (e.g. labels) or lists; ops index raw arrays, on the indexed tensor's device."""
    if isinstance(index, tuple):
        return tuple(_raw_index_part(part, device) for part in index)
    return _raw_index_part(index, device)


def _raw_index_part(part, device):
    from .tensors import Tensor

    if isinstance(part, Tensor):
        part = part.array
    elif isinstance(part, list):
        part = np.asarray(part)
    if isinstance(part, np.ndarray) or device_of(part) == "cuda":  # an index array: move it to the data
        return to_device(part, device)
    return part  # an int, slice, None or Ellipsis


def check_index_values(name, index, dim, size):
    """Every value of the integer array `index` is a position along `dim` (of length `size`): PyTorch's error."""
    if index.dtype.kind not in "iu":
        raise TypeError(f"{name}(): expected an integer index tensor, got dtype {index.dtype}")
    if index.size:
        bad = index[(index < 0) | (index >= size)]
        if bad.size:
            raise IndexError(f"{name}(): index {int(bad[0])} is out of bounds for dimension {dim} with size {size}")


def scatter_positions(name, tensor, dim, index, src=None):
    """The positions `gather`, `scatter` and `scatter_add` reach, as a NumPy index (one array per dim).

    For dim 1 of a 3-D tensor, element [i, j, k] of `index` stands for position [i, index[i, j, k], k]: along `dim`
    the index gives the coordinate, along every other dim the element's own coordinate (an arange) does. The index
    may be smaller than the tensor (and than src) in every dim but `dim`, as in PyTorch."""
    from .tensors import Tensor

    axis = dims(tensor, dim)[0]
    index = index.array if isinstance(index, Tensor) else to_device(np.asarray(index), device_of(tensor.array))
    if index.ndim != tensor.ndim:
        raise ValueError(f"{name}(): index tensor must have the same number of dimensions as input tensor, got "
                         f"index shape {tuple(index.shape)} and input shape {tensor.shape}")
    for d in range(tensor.ndim):
        if (d != axis and index.shape[d] > tensor.shape[d]) or (src is not None and index.shape[d] > src.shape[d]):
            against = "" if src is None else f" and to be no larger than src {list(src.shape)}"
            raise ValueError(f"{name}(): expected index {list(index.shape)} to be no larger than self "
                             f"{list(tensor.shape)} apart from dimension {axis}{against}")
    check_index_values(name, index, axis, tensor.shape[axis] if tensor.ndim else 1)
    xp = get_array_module(index)
    return tuple(index if d == axis else xp.arange(n).reshape((n,) + (1,) * (index.ndim - d - 1))
                 for d, n in enumerate(index.shape))


def is_device_name(name):
    """A device name ("cuda:0") or a tinygrad_bn.device object (which prints as its name)."""
    name = str(name) if type(name).__name__ == "device" else name
    if not isinstance(name, str):
        return False
    try:  # "float16" is a dtype; any other string is a device, so that t.to("mps") names the unknown device
        np.dtype(name)
        return False
    except (TypeError, ValueError):
        return True
