"""Module-level twins of Tensor methods, mirroring `torch.*`: `torch.flatten(x, 1)`, `torch.max(x, 1)`,
`torch.tensor([...])`, `torch.randn_like(x)`, ...

PyTorch offers most ops twice, as `x.exp()` and as `torch.exp(x)`, and real code uses both. Here the math lives once,
in the Tensor methods (tensors.py) and their ops (ops.py); each function below only forwards to the method, with
PyTorch's argument names and defaults. The package exports all of them, so `import tinygrad_bn as torch` works for
code that calls them. A few are more than a forward, small programs over the Tensor methods for names PyTorch has
only at module level: `einsum` (its own section), `hstack`/`vstack`/`meshgrid`/`block_diag`/... (joining and grids).
Also here: PyTorch's dtype names (`torch.float`, `torch.long`, ...) and `Generator`.

Eleven of PyTorch's names are also Python builtins (max, min, sum, abs, pow, round, any, all, float, int, bool): in
this file they carry a `torch_` prefix, so that the builtins keep their meaning here, and `TORCH_NAMES` at the end
maps every exported PyTorch name to its object (the package exports that table).
"""
import numpy as np

from tinygrad_bn.backend import array_module, check_device, rng, to_device
from tinygrad_bn.nn.functional.distance import cdist  # noqa: F401 (torch.cdist, in TORCH_NAMES; math in the core)
from tinygrad_bn.tensors import Tensor, cat, float32, float64, full, int64, rand, randn, stack, zeros
from .index_methods import bucketize, searchsorted  # noqa: F401 (torch.* functions only, in TORCH_NAMES)

# ---------------------------------------------------------------------------------------------------- dtype names
torch_float = float32
double = float64
half = float16 = np.dtype("float16")
long = int64
int32 = np.dtype("int32")
torch_int = int32
int16, int8, uint8 = np.dtype("int16"), np.dtype("int8"), np.dtype("uint8")
torch_bool = np.dtype("bool")


# ------------------------------------------------------------------------------------------------------- creation
def _host_values(data):
    """Python data for np.asarray: Tensors inside lists (torch.tensor([t1, t2])) become their numbers."""
    if isinstance(data, Tensor):
        return data.numpy()
    if isinstance(data, (list, tuple)):
        return [_host_values(item) for item in data]
    return data


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new Tensor holding a copy of `data` (numbers, nested lists, NumPy/CuPy arrays, Tensors): torch.tensor.

    Python floats become float32, Python ints int64; an array keeps its dtype (float64 stays float64)."""
    if isinstance(data, (list, tuple)):
        data = _host_values(data)
    if isinstance(data, Tensor):
        device = device or data.device
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, device=device)


def as_tensor(data, dtype=None, device=None):
    """`data` itself when it already is a Tensor of that dtype and device, else a new Tensor."""
    if isinstance(data, Tensor) and (dtype is None or np.dtype(dtype) == data.dtype) and \
            (device is None or check_device(device) == data.device):
        return data
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array):
    """A Tensor sharing memory with the NumPy array (as torch.from_numpy: changes show through both)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    return Tensor._wrap(array)


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(input):
    return input.numel()


def empty(*size, dtype=None, device=None, requires_grad=False):
    """Like torch.empty, but filled with zeros: uninitialised memory would make runs irreproducible."""
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def _like(input, maker, dtype, device, requires_grad):
    return maker(input.shape, dtype=dtype or input.dtype, device=device or input.device, requires_grad=requires_grad)


def empty_like(input, dtype=None, device=None, requires_grad=False):
    return _like(input, zeros, dtype, device, requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False):
    return full(input.shape, fill_value, dtype=dtype or input.dtype, device=device or input.device,
                requires_grad=requires_grad)


def randn_like(input, dtype=None, device=None, requires_grad=False):
    """Standard normal samples of input's shape, dtype and device, from the library's seeded generator."""
    return _like(input, randn, dtype, device, requires_grad)


def rand_like(input, dtype=None, device=None, requires_grad=False):
    return _like(input, rand, dtype, device, requires_grad)


def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None):
    """Integers in [low, high) of shape `size` (int64); randint(high, size) starts at 0, as in PyTorch."""
    if size is None:
        low, high, size = 0, low, high
    if low >= high:  # NumPy's own words ("high <= 0") name neither bound
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    draw = _generator_rng(generator).integers(low, high, size=tuple(size))
    return Tensor._wrap(to_device(draw.astype(np.dtype(dtype or int64)), check_device(device)))


def randperm(n, *, generator=None, dtype=None, device=None):
    """A random permutation of 0..n-1 (int64)."""
    draw = _generator_rng(generator).permutation(n)
    return Tensor._wrap(to_device(draw.astype(np.dtype(dtype or int64)), check_device(device)))


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    for name, size in (("n", n), ("m", m)):
        if size is not None and size < 0:
            raise RuntimeError(f"eye: {name} must be greater or equal to 0, got {size}")
    out = Tensor._wrap(array_module(check_device(device)).eye(n, m, dtype=np.dtype(dtype or float32)))
    return out.requires_grad_(requires_grad)


def multinomial(input, num_samples, replacement=False, *, generator=None):
    return input.multinomial(num_samples, replacement, generator=generator)


class Generator:
    """A seeded source of random numbers for one consumer (a DataLoader's shuffling, random_split, normal_).

        g = tinygrad_bn.Generator().manual_seed(0)

    It wraps a NumPy Generator, `g.rng`; anything that takes a Generator also takes a numpy.random.Generator.
    """

    def __init__(self, device="cpu"):
        self.device = check_device(device)
        self._seed = int(np.random.SeedSequence().entropy % 2**63)
        self.rng = np.random.default_rng(self._seed)

    def manual_seed(self, seed):
        self._seed = int(seed)
        self.rng = np.random.default_rng(self._seed)
        return self

    def initial_seed(self):
        return self._seed

    def seed(self):
        return self.manual_seed(np.random.SeedSequence().entropy % 2**63).initial_seed()


def _generator_rng(generator):
    """The NumPy Generator behind `generator`: a tinygrad_bn.Generator, a numpy Generator, or None (the library's)."""
    if generator is None:
        return rng("cpu")
    return generator.rng if isinstance(generator, Generator) else generator


# ---------------------------------------------------------------------------------- elementwise math and reductions
def exp(input): return input.exp()
def log(input): return input.log()
def sqrt(input): return input.sqrt()
def tanh(input): return input.tanh()
def sigmoid(input): return input.sigmoid()
def relu(input): return input.relu()
def torch_abs(input): return input.abs()
def neg(input): return -input
def clone(input): return input.clone()


def sin(input): return input.sin()
def cos(input): return input.cos()
def tan(input): return input.tan()
def asin(input): return input.asin()
def acos(input): return input.acos()
def atan(input): return input.atan()
def atan2(input, other): return input.atan2(other)
def sinh(input): return input.sinh()
def cosh(input): return input.cosh()


arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2


def clamp(input, min=None, max=None):
    return input.clamp(min, max)


clip = clamp


def add(input, other, *, alpha=1):
    return input + (other * alpha if alpha != 1 else other)


def sub(input, other, *, alpha=1):
    return input - (other * alpha if alpha != 1 else other)


def mul(input, other): return input * other
def div(input, other): return input / other
def torch_pow(input, exponent): return input ** exponent if isinstance(input, Tensor) else exponent.__rpow__(input)
def maximum(input, other): return input.maximum(other)


def where(condition, input, other):
    """input where condition is true, else other (elementwise, broadcasting); gradients flow to input and other."""
    if not isinstance(input, Tensor):  # torch.where(c, 0.0, x): lift the number onto the other side's dtype
        return other._lift(input).where(condition, other)
    return input.where(condition, other)


def minimum(input, other): return input.minimum(other)


def torch_sum(input, dim=None, keepdim=False):
    return input.sum(dim, keepdim)


def mean(input, dim=None, keepdim=False):
    return input.mean(dim, keepdim)


def var(input, dim=None, unbiased=True, keepdim=False, *, correction=None):
    return input.var(dim, unbiased, keepdim, correction=correction)


def std(input, dim=None, unbiased=True, keepdim=False, *, correction=None):
    return input.std(dim, unbiased, keepdim, correction=correction)


def prod(input, dim=None, keepdim=False, *, dtype=None):
    return input.prod(dim, keepdim, dtype=dtype)


def cumsum(input, dim, *, dtype=None): return input.cumsum(dim, dtype=dtype)
def cumprod(input, dim, *, dtype=None): return input.cumprod(dim, dtype=dtype)


def torch_max(input, dim=None, keepdim=False):
    """max over everything; (values, indices) along dim (`torch.max(x, 1)`); or the elementwise max of two tensors."""
    return input.max(dim, keepdim)


def torch_min(input, dim=None, keepdim=False):
    return input.min(dim, keepdim)


def argmax(input, dim=None, keepdim=False):
    return input.argmax(dim, keepdim)


def argmin(input, dim=None, keepdim=False):
    return input.argmin(dim, keepdim)


def softmax(input, dim, dtype=None):
    return (input if dtype is None else input.to(dtype)).softmax(dim)


def log_softmax(input, dim, dtype=None):
    return (input if dtype is None else input.to(dtype)).log_softmax(dim)


def eq(input, other): return input == other
def ne(input, other): return input != other
def lt(input, other): return input < other
def le(input, other): return input <= other
def gt(input, other): return input > other
def ge(input, other): return input >= other


def equal(input, other):
    """True when both have the same shape and the same elements."""
    return input.shape == other.shape and bool((input.array == other.array).all())


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    xp = array_module(input.device)
    return bool(xp.allclose(input.array, other.array, rtol=rtol, atol=atol, equal_nan=equal_nan))


# ------------------------------------------------------------------------------------------- products and shapes
def matmul(input, other): return input.matmul(other)


def mm(input, mat2):
    if input.ndim != 2 or mat2.ndim != 2:
        raise ValueError(f"mm: expected two matrices, got shapes {input.shape} and {mat2.shape}")
    return input.matmul(mat2)


def bmm(input, mat2):
    if input.ndim != 3 or mat2.ndim != 3:
        raise ValueError(f"bmm: expected two 3-D batches of matrices, got shapes {input.shape} and {mat2.shape}")
    return input.matmul(mat2)


def reshape(input, shape): return input.reshape(shape)
def flatten(input, start_dim=0, end_dim=-1): return input.flatten(start_dim, end_dim)
def transpose(input, dim0, dim1): return input.transpose(dim0, dim1)
def permute(input, dims): return input.permute(dims)
def unsqueeze(input, dim): return input.unsqueeze(dim)
def squeeze(input, dim=None): return input.squeeze(dim)
def roll(input, shifts, dims=None): return input.roll(shifts, dims)
def t(input): return input.T
def flip(input, dims): return input.flip(dims)
def split(tensor, split_size_or_sections, dim=0): return tensor.split(split_size_or_sections, dim)
def chunk(input, chunks, dim=0): return input.chunk(chunks, dim)
def index_select(input, dim, index): return input.index_select(dim, index)
def broadcast_to(input, shape): return input.expand(shape)
def outer(input, vec2): return input.reshape(-1, 1) * vec2.reshape(1, -1)
def tril(input, diagonal=0): return input.tril(diagonal)
def triu(input, diagonal=0): return input.triu(diagonal)
def square(input): return input.square()
def rsqrt(input): return input.rsqrt()
def reciprocal(input): return input.reciprocal()
def norm(input, p="fro", dim=None, keepdim=False): return input.norm(p, dim, keepdim)
def logsumexp(input, dim, keepdim=False): return input.logsumexp(dim, keepdim)
def torch_any(input, dim=None, keepdim=False): return input.any(dim, keepdim)
def torch_all(input, dim=None, keepdim=False): return input.all(dim, keepdim)
def sign(input): return input.sign()
def floor(input): return input.floor()
def torch_round(input): return input.round()
def isnan(input): return input.isnan()
def isfinite(input): return input.isfinite()
def logical_not(input): return input.logical_not()
def nonzero(input): return input.nonzero()
def argsort(input, dim=-1, descending=False, stable=False): return input.argsort(dim, descending, stable)
def sort(input, dim=-1, descending=False, stable=False): return input.sort(dim, descending, stable)
def topk(input, k, dim=-1, largest=True, sorted=True): return input.topk(k, dim, largest, sorted)
def gather(input, dim, index): return input.gather(dim, index)
def scatter_add(input, dim, index, src): return input.scatter_add(dim, index, src)


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    return input.scatter(dim, index, src, value=value, reduce=reduce)


def index_add(input, dim, index, source, *, alpha=1):
    return input.index_add(dim, index, source, alpha=alpha)


# ------------------------------------------------------------------------------------- more math: twins of methods
def log1p(input): return input.log1p()
def expm1(input): return input.expm1()
def log2(input): return input.log2()
def log10(input): return input.log10()
def erf(input): return input.erf()
def erfc(input): return input.erfc()
def lerp(input, end, weight): return input.lerp(end, weight)
def logaddexp(input, other): return input.logaddexp(other)
def hypot(input, other): return input.hypot(other)
def logit(input, eps=None): return input.logit(eps)
def nan_to_num(input, nan=0.0, posinf=None, neginf=None): return input.nan_to_num(nan, posinf, neginf)
def clamp_min(input, min): return input.clamp_min(min)
def clamp_max(input, max): return input.clamp_max(max)
def fmod(input, other): return input.fmod(other)
def remainder(input, other): return input.remainder(other) if isinstance(input, Tensor) else other.__rmod__(input)
def floor_divide(input, other): return input.floor_divide(other)
def amax(input, dim=(), keepdim=False): return input.amax(dim, keepdim)
def amin(input, dim=(), keepdim=False): return input.amin(dim, keepdim)
def aminmax(input, *, dim=None, keepdim=False): return input.aminmax(dim=dim, keepdim=keepdim)
def count_nonzero(input, dim=None): return input.count_nonzero(dim)
def logcumsumexp(input, dim): return input.logcumsumexp(dim)


def var_mean(input, dim=None, unbiased=True, keepdim=False, *, correction=None):
    """(var, mean) over the same dims: var as torch.var (unbiased or `correction`), mean as torch.mean."""
    return input.var(dim, unbiased, keepdim, correction=correction), input.mean(dim, keepdim)


def std_mean(input, dim=None, unbiased=True, keepdim=False, *, correction=None):
    return input.std(dim, unbiased, keepdim, correction=correction), input.mean(dim, keepdim)


def addmm(input, mat1, mat2, *, beta=1, alpha=1): return input.addmm(mat1, mat2, beta=beta, alpha=alpha)
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1): return input.baddbmm(batch1, batch2, beta=beta, alpha=alpha)
def addbmm(input, batch1, batch2, *, beta=1, alpha=1): return input.addbmm(batch1, batch2, beta=beta, alpha=alpha)
def diag(input, diagonal=0): return input.diag(diagonal)
def diagonal(input, offset=0, dim1=0, dim2=1): return input.diagonal(offset, dim1, dim2)
def trace(input): return input.trace()
def cross(input, other, dim=None): return input.cross(other, dim)
def kron(input, other): return input.kron(other)
def tile(input, dims): return input.tile(dims)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """input's elements (or slices along dim) repeated; with one argument, input holds the repeats and the result
    is arange(len(input)) repeated by them: torch.repeat_interleave(tensor([2, 1])) = [0, 0, 1]."""
    if repeats is None:
        return Tensor._wrap(to_device(np.arange(input.numel()), input.device)).repeat_interleave(
            input, output_size=output_size)
    return input.repeat_interleave(repeats, dim, output_size=output_size)


def movedim(input, source, destination): return input.movedim(source, destination)
def swapaxes(input, axis0, axis1): return input.swapaxes(axis0, axis1)
def swapdims(input, dim0, dim1): return input.swapdims(dim0, dim1)


moveaxis = movedim


def tensor_split(input, indices_or_sections, dim=0): return input.tensor_split(indices_or_sections, dim)
def hsplit(input, indices_or_sections): return input.hsplit(indices_or_sections)
def vsplit(input, indices_or_sections): return input.vsplit(indices_or_sections)
def dsplit(input, indices_or_sections): return input.dsplit(indices_or_sections)
def rot90(input, k=1, dims=(0, 1)): return input.rot90(k, dims)
def flipud(input): return input.flipud()
def fliplr(input): return input.fliplr()
def narrow(input, dim, start, length): return input.narrow(dim, start, length)
def take_along_dim(input, indices, dim=None): return input.take_along_dim(indices, dim)
def masked_select(input, mask): return input.masked_select(mask)
def diff(input, n=1, dim=-1, prepend=None, append=None): return input.diff(n, dim, prepend, append)


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    return input.scatter_reduce(dim, index, src, reduce, include_self=include_self)


def index_fill(input, dim, index, value): return input.index_fill(dim, index, value)
def index_copy(input, dim, index, source): return input.index_copy(dim, index, source)
def index_put(input, indices, values, accumulate=False): return input.index_put(indices, values, accumulate)
def masked_scatter(input, mask, source): return input.masked_scatter(mask, source)
def median(input, dim=None, keepdim=False): return input.median(dim, keepdim)
def mode(input, dim=-1, keepdim=False): return input.mode(dim, keepdim)
def nanmean(input, dim=None, keepdim=False): return input.nanmean(dim, keepdim)
def cummax(input, dim): return input.cummax(dim)
def cummin(input, dim): return input.cummin(dim)
def unflatten(input, dim, sizes): return input.unflatten(dim, sizes)
def bincount(input, weights=None, minlength=0): return input.bincount(weights, minlength)


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    return input.quantile(q, dim, keepdim, interpolation=interpolation)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    return input.unique(sorted, return_inverse, return_counts, dim)


def tensordot(a, b, dims=2):
    """Sum of products over pairs of dims: dims=n pairs a's last n dims with b's first n, dims=([i, ...], [j, ...])
    pairs a's dim i with b's dim j. Composed: a's kept dims and b's kept dims become the rows and columns of one
    matrix product, the paired dims its inner dim."""
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        pairs_a, pairs_b = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        pairs_a, pairs_b = ([d] if isinstance(d, int) else list(d) for d in dims)
    if len(pairs_a) != len(pairs_b):
        raise RuntimeError(f"both dimension lists should have same length, got {pairs_a} and {pairs_b}")
    pairs_a, pairs_b = list(a._axes(tuple(pairs_a))), list(b._axes(tuple(pairs_b)))
    for da, db in zip(pairs_a, pairs_b):
        if a.shape[da] != b.shape[db]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {a.shape[da]} in dim {da} "
                               f"and second has size {b.shape[db]} in dim {db}")
    kept_a = [d for d in range(a.ndim) if d not in pairs_a]
    kept_b = [d for d in range(b.ndim) if d not in pairs_b]
    inner = int(np.prod([a.shape[d] for d in pairs_a]))
    rows = a.permute(kept_a + pairs_a).reshape(-1, inner)
    columns = b.permute(pairs_b + kept_b).reshape(inner, -1)
    return (rows @ columns).reshape([a.shape[d] for d in kept_a] + [b.shape[d] for d in kept_b])


# ----------------------------------------------------------------------------- joining and grids (no Tensor method)
def _at_least(ndim, where, tensors):
    """Each tensor reshaped to at least `ndim` dims, its own dims placed at `where[its ndim]`; one tensor in, one
    out, else a tuple (as torch.atleast_1d/2d/3d)."""
    single = len(tensors) == 1 and isinstance(tensors[0], Tensor)
    tensors = tensors if not (len(tensors) == 1 and isinstance(tensors[0], (list, tuple))) else tuple(tensors[0])
    out = tuple(t if t.ndim >= ndim else t.reshape(where[t.ndim](t.shape)) for t in tensors)
    return out[0] if single else out


def atleast_1d(*tensors): return _at_least(1, {0: lambda s: (1,)}, tensors)
def atleast_2d(*tensors): return _at_least(2, {0: lambda s: (1, 1), 1: lambda s: (1,) + s}, tensors)


def atleast_3d(*tensors):
    """0-d -> (1, 1, 1), (n,) -> (1, n, 1), (m, n) -> (m, n, 1), as NumPy and PyTorch do."""
    return _at_least(3, {0: lambda s: (1, 1, 1), 1: lambda s: (1,) + s + (1,), 2: lambda s: s + (1,)}, tensors)


def hstack(tensors):
    """Join along dim 1 (dim 0 for vectors)."""
    tensors = atleast_1d(*tensors)
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors):
    """Join along dim 0, vectors as rows."""
    return cat(atleast_2d(*tensors), 0)


row_stack = vstack


def dstack(tensors):
    """Join along dim 2 (depth), after atleast_3d."""
    return cat(atleast_3d(*tensors), 2)


def column_stack(tensors):
    """Vectors (and numbers) as columns, matrices as they are, joined along dim 1."""
    return cat([t.reshape(t.numel(), 1) if t.ndim <= 1 else t for t in tensors], 1)


def meshgrid(*tensors, indexing=None):
    """Grids from 1-D tensors: out[i] varies along dim i with tensors[i]'s values (indexing "ij", the default),
    or, with "xy", the first two swap places (dim 1 for the first tensor, dim 0 for the second), as in NumPy."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    indexing = "ij" if indexing is None else indexing
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}')
    for t in tensors:
        if t.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: shape {t.shape}")
    positions = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) >= 2:
        positions[0], positions[1] = 1, 0
    shape = [0] * len(tensors)
    for t, position in zip(tensors, positions):
        shape[position] = t.numel()
    return tuple(t.reshape([-1 if d == position else 1 for d in range(len(shape))]).expand(shape)
                 for t, position in zip(tensors, positions))


def cartesian_prod(*tensors):
    """Every combination of one element from each 1-D tensor, one per row (the first tensor varies slowest)."""
    if len(tensors) == 1:
        return tensors[0]
    return stack([grid.flatten() for grid in meshgrid(*tensors, indexing="ij")], 1)


def block_diag(*tensors):
    """The tensors (numbers, vectors as rows, matrices) along the diagonal of one matrix, zeros elsewhere."""
    for i, t in enumerate(tensors):
        if t.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has "
                               f"{t.ndim} dimensions")
    blocks = [t.reshape((1,) * (2 - t.ndim) + t.shape) for t in tensors]
    if not blocks:
        return zeros(0, 0)
    dtype = np.result_type(*(b.dtype for b in blocks))
    blocks = [b if b.dtype == dtype else b.astype(dtype) for b in blocks]
    width, device = sum(b.shape[1] for b in blocks), blocks[0].device
    rows, left = [], 0
    for b in blocks:
        rows.append(cat([zeros(b.shape[0], left, dtype=dtype, device=device), b,
                         zeros(b.shape[0], width - left - b.shape[1], dtype=dtype, device=device)], 1))
        left += b.shape[1]
    return cat(rows, 0)


def _triangle_indices(numpy_indices, row, col, offset, dtype, device):
    rows, cols = numpy_indices(row, offset, col)
    return Tensor._wrap(to_device(np.stack([rows, cols]).astype(np.dtype(dtype or int64)), check_device(device)))


def triu_indices(row, col, offset=0, *, dtype=None, device=None):
    """(2, n): the row and column indices of the upper triangle of a row x col matrix (j >= i + offset), row by
    row."""
    return _triangle_indices(np.triu_indices, row, col, offset, dtype, device)


def tril_indices(row, col, offset=0, *, dtype=None, device=None):
    """(2, n): the indices of the lower triangle (j <= i + offset), row by row."""
    return _triangle_indices(np.tril_indices, row, col, offset, dtype, device)


# ---------------------------------------------------------------------------------------------------------- einsum
# einsum is not one method but a small program over them: take diagonals (repeated subscripts), sum away what no one
# needs, and contract two operands at a time as one batched matrix product, so its gradient is that of the
# permute/reshape/expand/sum/matmul it is made of.
BROADCAST_LABELS = "".join(chr(0x3B1 + i) for i in range(24))  # Greek letters stand for the dims of "..."


def einsum(equation, *operands):
    """Sum of products over the subscripts of `equation`, as in torch.einsum: "ij,jk->ik" is a matrix product,
    "bij,bjk->bik" a batched one, "i,j->ij" an outer product, "ii->i" a diagonal, "...ij->...ji" a transpose of the
    last two dims. Without "->", the output has the subscripts that occur once, in alphabetical order."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    inputs, output = _einsum_subscripts(equation, operands)
    terms = [_einsum_diagonal(x, labels) for x, labels in zip(operands, inputs)]
    sizes = {}  # each label's size: equal in every operand, or 1 there (broadcast)
    for i, (x, labels) in enumerate(terms):
        for label, n in zip(labels, x.shape):
            if sizes.get(label, 1) not in (1, n) and n != 1:
                name = "..." if label in BROADCAST_LABELS else label
                raise ValueError(f"einsum(): subscript {name} has size {n} for operand {i} which does not "
                                 f"broadcast with previously seen size {sizes[label]}")
            sizes[label] = n if sizes.get(label, 1) == 1 else sizes[label]
    x, labels = terms[0]
    for i in range(1, len(terms)):
        needed = set(output).union(*(later for _, later in terms[i + 1:]))
        x, labels = _einsum_pair(x, labels, *terms[i], needed, sizes)
    x, labels = _einsum_sum_out(x, labels, set(output))
    x = x.permute([labels.index(label) for label in output]) if output else x
    return _broadcast(x, tuple(sizes[label] for label in output))  # a size-1 dim that met no full-size one


def _einsum_subscripts(equation, operands):
    """The labels of each operand's dims and of the output's: one character per dim, "..." spelled out."""
    lhs, arrow, rhs = equation.replace(" ", "").partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(operands):
        raise ValueError(f"einsum(): the equation {equation!r} has subscripts for {len(inputs)} operands, but "
                         f"{len(operands)} were given")
    for subscripts in inputs + [rhs]:
        letters = subscripts.replace("...", "")
        if not all(c.isascii() and c.isalpha() for c in letters):
            raise ValueError(f"einsum(): invalid subscripts {subscripts!r} in {equation!r}: use letters a-z, A-Z and "
                             "at most one ellipsis (...) per operand")
    broadcast_ndims = []
    for i, (subscripts, x) in enumerate(zip(inputs, operands)):
        letters = len(subscripts.replace("...", ""))
        if ("..." in subscripts and x.ndim < letters) or ("..." not in subscripts and x.ndim != letters):
            raise ValueError(f"einsum(): the subscripts {subscripts!r} do not fit operand {i} of shape {x.shape}")
        broadcast_ndims.append(x.ndim - letters)
    spread = max(broadcast_ndims)
    broadcast = BROADCAST_LABELS[:spread]
    labels = [s.replace("...", broadcast[spread - n:]) for s, n in zip(inputs, broadcast_ndims)]
    if arrow:
        output = rhs.replace("...", broadcast)
        for label in output:
            if output.count(label) > 1 or not any(label in s for s in labels):
                raise ValueError(f"einsum(): output subscript {label} in {equation!r} appears more than once or "
                                 "in no operand")
    else:
        every = "".join(labels)
        output = broadcast + "".join(sorted(c for c in set(every) if every.count(c) == 1 and c not in broadcast))
    return labels, output


def _einsum_diagonal(x, labels):
    """x with a subscript repeated within it ("ii") replaced by the diagonal along those dims, and its labels."""
    labels = list(labels)
    for label in dict.fromkeys(labels):
        while labels.count(label) > 1:
            first = labels.index(label)
            second = labels.index(label, first + 1)
            if x.shape[first] != x.shape[second]:
                raise ValueError(f"einsum(): subscript {label} is repeated for dims of sizes {x.shape[first]} and "
                                 f"{x.shape[second]}")
            rest = [d for d in range(x.ndim) if d not in (first, second)]
            diagonal = np.arange(x.shape[first])
            x = x.permute(rest + [first, second])[..., diagonal, diagonal]
            labels = [labels[d] for d in rest] + [label]
    return x, labels


def _einsum_sum_out(x, labels, keep):
    """x summed over the dims whose labels are not in `keep`."""
    gone = tuple(d for d, label in enumerate(labels) if label not in keep)
    return (x.sum(gone) if gone else x), [label for label in labels if label in keep]


def _broadcast(x, shape):
    return x if x.shape == shape else x.expand(shape)


def _einsum_pair(x, x_labels, y, y_labels, needed, sizes):
    """The product of two operands summed over the labels they share that are not `needed` later: one matmul of
    (batch, left, summed) by (batch, summed, right) matrices."""
    x, x_labels = _einsum_sum_out(x, x_labels, needed | set(y_labels))
    y, y_labels = _einsum_sum_out(y, y_labels, needed | set(x_labels))
    shared = [label for label in x_labels if label in y_labels]
    batch = [label for label in shared if label in needed]
    summed = [label for label in shared if label not in needed]
    left = [label for label in x_labels if label not in y_labels]
    right = [label for label in y_labels if label not in x_labels]
    # A shared dim of size 1 meets one of full size: broadcast it first, so the two line up in the matmul.
    x = _broadcast(x, tuple(sizes[label] if label in shared else n for label, n in zip(x_labels, x.shape)))
    y = _broadcast(y, tuple(sizes[label] if label in shared else n for label, n in zip(y_labels, y.shape)))
    size_x = dict(zip(x_labels, x.shape))
    size_y = dict(zip(y_labels, y.shape))

    def count(labels, size_of):
        return int(np.prod([size_of[label] for label in labels]))

    x = x.permute([x_labels.index(label) for label in batch + left + summed])
    y = y.permute([y_labels.index(label) for label in batch + summed + right])
    product = x.reshape(count(batch, size_x), count(left, size_x), count(summed, size_x)) @ \
        y.reshape(count(batch, size_y), count(summed, size_y), count(right, size_y))
    shape = [size_x[label] for label in batch + left] + [size_y[label] for label in right]
    return product.reshape(shape), batch + left + right


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    if steps < 0:
        raise RuntimeError(f"linspace: number of steps must be non-negative, got steps={steps}")
    out = Tensor._wrap(array_module(check_device(device)).linspace(start, end, steps, dtype=np.dtype(dtype or float32)))
    return out.requires_grad_(requires_grad)


def get_default_dtype():
    """float32: the dtype of tensors made from Python floats (it can not be changed here)."""
    return float32


# The PyTorch names this module exports (`import tinygrad_bn as torch; torch.flatten(...)`), each to its object.
_SAME_NAME = [
    "double", "half", "float16", "long", "int16", "int8", "uint8", "tensor", "as_tensor", "from_numpy", "is_tensor",
    "numel", "empty", "empty_like", "full_like", "randn_like", "rand_like", "randint", "randperm", "eye",
    "Generator", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "neg", "clone", "clamp", "clip", "add", "sub",
    "mul", "div", "maximum", "minimum", "where", "mean", "var", "std", "argmax", "argmin", "softmax", "log_softmax",
    "eq", "ne", "lt", "le", "gt", "ge", "equal", "allclose", "matmul", "mm", "bmm", "reshape", "flatten",
    "transpose", "permute", "unsqueeze", "squeeze", "roll", "t", "flip", "split", "chunk", "index_select",
    "broadcast_to", "outer", "tril", "triu", "square", "rsqrt", "reciprocal", "norm", "logsumexp", "sign", "floor",
    "isnan", "isfinite", "logical_not", "nonzero", "argsort", "linspace", "get_default_dtype",
    "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "arcsin", "arccos", "arctan", "arctan2",
    "prod", "cumsum", "cumprod", "sort", "topk", "gather", "scatter", "scatter_add", "index_add", "einsum",
    "multinomial", "log1p", "expm1", "log2", "log10", "erf", "erfc", "lerp", "logaddexp", "hypot", "logit",
    "nan_to_num", "clamp_min", "clamp_max", "fmod", "remainder", "floor_divide", "amax", "amin", "aminmax",
    "count_nonzero", "logcumsumexp", "var_mean", "std_mean", "addmm", "baddbmm", "addbmm", "diag", "diagonal",
    "trace", "cross", "kron", "tile", "repeat_interleave", "movedim", "moveaxis", "swapaxes", "swapdims",
    "tensor_split", "hsplit", "vsplit", "dsplit", "rot90", "flipud", "fliplr", "narrow", "take_along_dim",
    "masked_select", "diff", "atleast_1d", "atleast_2d", "atleast_3d", "hstack", "vstack", "row_stack", "dstack",
    "column_stack", "meshgrid", "cartesian_prod", "block_diag", "triu_indices", "tril_indices",
    "cdist", "scatter_reduce", "index_fill", "index_copy", "index_put", "masked_scatter", "median", "mode",
    "nanmean", "cummax", "cummin", "quantile", "unflatten", "tensordot", "bincount", "unique", "searchsorted",
    "bucketize",
]
TORCH_NAMES = {name: globals()[name] for name in _SAME_NAME}
TORCH_NAMES.update({name: globals()["torch_" + name] for name in
                    ("float", "int", "bool", "abs", "pow", "sum", "max", "min", "round", "any", "all")})
