"""The PyTorch surface: what lets `import tinygrad_bn as torch` run code written for PyTorch.

The core (autograd, ops, Tensor, nn, optim, kernels, backend) is the library; everything here is built on it (the
Tensor and its methods, a few of its helpers such as Tensor._wrap and arguments.py) and adds no math: no new
Function, no new backward. What PyTorch code reaches for, and where it is:

tensor_methods.py   the Tensor's PyTorch idioms (x.eq(y), w.data.normal_(), x.view_as(y), x.chunk(4), ...)
index_methods.py    more of them: index writes (index_fill, index_put, ...), median, quantile, cummax, unique, ...
twins.py            module-level twins of Tensor methods (torch.flatten, torch.max, torch.tensor) and dtype names
torch_device.py     torch.device
torch_cuda.py       torch.cuda (is_available, manual_seed, synchronize)
torch_backends/     torch.backends.cudnn's flags, accepted and ignored
utils/              torch.utils.data: Dataset, TensorDataset, DataLoader, random_split, ...; torch.utils.checkpoint
torch_jit.py        torch.jit as an eager pass-through (script and trace return what they are given)
torch_nn_parallel.py  torch.nn.parallel on one device: DataParallel, data_parallel
unsupported.py      one clear error for the PyTorch names tinygrad_bn lacks (torch.fft, nn.Bilinear, ...)

`install()` below is the one place where the surface attaches itself to the core: it is called once, at the end of
tinygrad_bn/__init__.py.
"""
import sys

from . import torch_backends, torch_cuda, torch_jit, torch_nn_parallel, unsupported, utils
from .torch_device import device
from .tensor_methods import attach_to
from .twins import TORCH_NAMES, Generator, tensor

# The import paths PyTorch code uses (`import torch.backends.cudnn`, `from torch.utils.data import DataLoader`),
# each to the module here that stands in for it.
TORCH_MODULE_PATHS = {
    "tinygrad_bn.cuda": torch_cuda,
    "tinygrad_bn.backends": torch_backends,
    "tinygrad_bn.backends.cudnn": torch_backends.cudnn,
    "tinygrad_bn.utils": utils,
    "tinygrad_bn.utils.data": utils.data,
    "tinygrad_bn.utils.data.dataset": utils.data.dataset,
    "tinygrad_bn.utils.data.sampler": utils.data.sampler,
    "tinygrad_bn.utils.data.dataloader": utils.data.dataloader,
    "tinygrad_bn.utils.checkpoint": utils.checkpoint,
    "tinygrad_bn.jit": torch_jit,
    "tinygrad_bn.nn.parallel": torch_nn_parallel,
}


def install():
    """Attach the surface to the core: the Tensor's idioms, the torch-style module paths, and the errors that name
    what is missing on `tinygrad_bn`, `tinygrad_bn.nn` and `tinygrad_bn.nn.functional`. Installing twice (a
    reload) changes nothing."""
    import tinygrad_bn
    from tinygrad_bn import nn
    from tinygrad_bn.tensors import Tensor
    attach_to(Tensor)
    sys.modules.update(TORCH_MODULE_PATHS)
    nn.parallel, nn.DataParallel = torch_nn_parallel, torch_nn_parallel.DataParallel
    for module in (tinygrad_bn, nn, nn.functional):
        module.__getattr__ = unsupported.missing_attribute_of(module.__name__)


__all__ = ["TORCH_NAMES", "TORCH_MODULE_PATHS", "Generator", "device", "install", "tensor", "torch_backends",
           "torch_cuda", "torch_jit", "torch_nn_parallel", "unsupported", "utils"]
