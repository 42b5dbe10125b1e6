"""`tinygrad_bn.cuda`: the few `torch.cuda` calls that device-choosing code makes (`torch.cuda.is_available()`).

The GPU itself is reached through CuPy in backend.py; this module only answers questions about it.
"""
from tinygrad_bn.backend import cuda_available, manual_seed as _manual_seed


def is_available():
    """True when CuPy is installed and sees a GPU (then device="cuda" works)."""
    return cuda_available()


def device_count():
    """1 with a usable GPU (the current CuPy device: one GPU is supported), else 0."""
    return 1 if cuda_available() else 0


def manual_seed(seed):
    """Seeds the library's one generator (which also seeds the GPU's), like tinygrad_bn.manual_seed."""
    _manual_seed(seed)


manual_seed_all = manual_seed


def synchronize():
    """Wait for the GPU to finish its queued work (for timing); nothing to do without a GPU."""
    if cuda_available():
        from tinygrad_bn.backend import cupy_module
        cupy_module().cuda.Device().synchronize()
