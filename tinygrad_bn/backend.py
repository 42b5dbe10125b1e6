"""Backend: which array library holds a tensor's numbers, NumPy (device "cpu") or CuPy (device "cuda").

Every op is written once, against the *array module* of its inputs:

    xp = get_array_module(x)      # numpy for a NumPy array, cupy for a CuPy array
    y = xp.maximum(x, 0)

so the same line runs on the CPU and on the GPU (the DeZero/Chainer idiom). This is the only module that imports
CuPy, and it does so lazily: NumPy users never need it installed.
"""
import os

import numpy as np

DEVICES = ("cpu", "cuda")

_CUDA_HELP = (
    "Install CuPy for your CUDA version, e.g. `pip install cupy-cuda12x` (or `pip install \"tinygrad_bn[cuda]\"`), "
    "on a machine with an NVIDIA GPU and driver, or use device='cpu'."
)


def is_cupy_array(array):
    """True for a CuPy array, tested without importing CuPy (so NumPy-only machines never try to)."""
    return type(array).__module__.split(".")[0] == "cupy"


def get_array_module(array):
    """numpy or cupy: the module whose functions operate on `array`."""
    return cupy_module() if is_cupy_array(array) else np


def device_of(array):
    return "cuda" if is_cupy_array(array) else "cpu"


def check_device(device):
    """Normalise a device name ("cpu", "cuda", "cuda:0"); None means the default device."""
    if device is None:
        device = default_device()
    name = str(device)
    kind, colon, index = name.lower().partition(":")
    if kind not in DEVICES:  # PyTorch's RuntimeError; its other device types (mps, xpu, ...) can't run here either
        raise RuntimeError(f"Expected one of {', '.join(DEVICES)} device type at start of device string: {name} "
                           f"(unknown device {kind!r}: tinygrad_bn runs on the CPU with NumPy, on a GPU with CuPy)")
    if colon and not (index.isdigit() and str(int(index)) == index):  # an index is a plain non-negative integer
        raise RuntimeError(f"Invalid device string: {name!r}")
    return kind  # "cuda:N": one GPU is supported, the current CuPy device


def default_device():
    """The device used when none is given: $TINYGRAD_BN_DEVICE ("cpu" or "cuda"), else "cpu"."""
    device = os.environ.get("TINYGRAD_BN_DEVICE", "cpu").strip().lower() or "cpu"
    try:
        return check_device(device)  # the same rules as a device string given in code ("cuda:x" is refused)
    except RuntimeError as error:
        raise ValueError(f"TINYGRAD_BN_DEVICE={device!r} is not a device: expected one of {DEVICES} ({error})") \
            from None


_cupy = None


def cupy_module():
    """Import CuPy on first use and check that it sees a GPU; raise a clear, actionable error otherwise."""
    global _cupy
    if _cupy is None:
        try:
            import cupy
        except ImportError as error:
            raise RuntimeError(f"device 'cuda' needs CuPy, which is not installed ({error}). {_CUDA_HELP}") from None
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as error:  # CuPy raises its own CUDA errors when the driver is missing
            raise RuntimeError(f"device 'cuda': CuPy is installed but found no usable GPU ({error}). {_CUDA_HELP}") from None
        if count == 0:
            raise RuntimeError(f"device 'cuda': CuPy is installed but sees no GPU. {_CUDA_HELP}")
        _cupy = cupy
    return _cupy


def cuda_available():
    """True when CuPy is installed and sees at least one GPU."""
    try:
        cupy_module()
        return True
    except RuntimeError:
        return False


def array_module(device):
    """numpy for "cpu", cupy for "cuda"."""
    return cupy_module() if check_device(device) == "cuda" else np


def to_device(array, device):
    """`array` on `device` (no copy when it is already there), in the same memory layout.

    Host-device copies move contiguous buffers, so an array stored in another axis order (the channel-major
    activations of layout.py) is moved in its storage order and viewed back as the same shape.
    """
    device = check_device(device)
    if device_of(array) == device:
        return array
    storage_order = tuple(int(a) for a in np.argsort([-abs(s) for s in array.strides], kind="stable"))
    stored = array.transpose(storage_order)
    if device == "cuda":
        moved = cupy_module().asarray(np.asarray(stored, order="C"))
    else:
        moved = cupy_module().asarray(stored, order="C").get()
    return moved.transpose(tuple(int(a) for a in np.argsort(storage_order)))


def to_numpy(array):
    """A host NumPy array: the one explicit device-to-host exit."""
    return to_device(array, "cpu") if is_cupy_array(array) else np.asarray(array)


def scatter_add(target, index, values):
    """target[index] += values, where repeated indices add up (`add.at`, in NumPy and in CuPy >= 13).

    Plain `target[index] += values` would keep only one of the values aimed at a repeated index."""
    get_array_module(target).add.at(target, index, values)


# One seeded generator for the whole library. Initial weights are drawn on the host, so a seed gives the same
# model on the CPU and on the GPU; per-step randomness on the GPU (dropout masks) uses CuPy's generator.
_seed = None
_host_rng = np.random.default_rng()
_cuda_rng = None


def manual_seed(seed):
    """Seed every random number the library draws (initialisation, randn/rand, dropout)."""
    global _seed, _host_rng, _cuda_rng
    _seed = int(seed)
    _host_rng = np.random.default_rng(_seed)
    _cuda_rng = None  # re-created from the seed on first use on the GPU


def rng(device="cpu"):
    """The random generator for `device`: a numpy.random.Generator, or CuPy's on "cuda"."""
    global _cuda_rng
    if check_device(device) == "cpu":
        return _host_rng
    if _cuda_rng is None:
        seed = _seed if _seed is not None else int(_host_rng.integers(2**31))
        _cuda_rng = cupy_module().random.default_rng(seed)
    return _cuda_rng
