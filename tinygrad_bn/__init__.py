"""tinygrad_bn: a small reverse-mode autograd framework with an analytic BatchNorm, on NumPy or CuPy.

The package has three layers, one folder or file set each (README.md, "Reading the source", has the whole map):

the core              what a student reads end to end, in this order (the README and docs/autograd.md follow it):
  1. autograd.py      Function, the recorded graph, backward(): the whole idea of reverse-mode differentiation
  2. ops.py           the Tensor's primitive ops, forward and backward side by side
     tensors.py       the Tensor, one hop from a method to its op (argument checks in arguments.py)
  3. gradcheck.py     how any backward is checked against central differences
  4. nn/functional/   convolution, batch norm (docs/batchnorm.md), pooling, activations, losses
  5. nn/              Module and the layers; optim/: the optimizers
  6. when needed: backend.py (NumPy or CuPy, one code path) and kernels/ (the speed tricks, each beside its plain
     version; TINYGRAD_BN_KERNELS=plain runs the plain ones); viz.py draws the graph
the PyTorch surface    pytorch/: torch.* twins, the Tensor's PyTorch idioms, device, cuda, backends, utils.data,
                       the "not supported" errors; built on the core, adding no math
around the library     formats/: ONNX export, .npz and safetensors files; the cats-vs-dogs program is models/

The core imports nothing from the other two. This file is where they meet: it exports the core's names, then
installs the PyTorch surface (`pytorch.install()`), so that `import tinygrad_bn as torch` runs PyTorch model code.
"""
import sys

from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .backend import cuda_available, manual_seed
from .gradcheck import GradcheckError, gradcheck
from .tensors import (Tensor, arange, bool_, cat, float32, float64, full, int32, int64, ones, ones_like, rand,
                      randn, stack, zeros, zeros_like)
from . import nn, optim, viz

# The PyTorch surface: torch.* names (tensor, flatten, max, float, ...), torch.device, torch.cuda, torch.backends,
# torch.utils; then the Tensor's idioms and the "not supported" errors (tinygrad_bn.fft, nn.Bilinear) are attached.
from . import pytorch
from .pytorch import device, torch_backends as backends, torch_cuda as cuda, torch_jit as jit, utils

globals().update(pytorch.TORCH_NAMES)
pytorch.install()

# Around the library: saving and loading (.npz, or .safetensors), and ONNX export as `tinygrad_bn.onnx`.
from .formats import onnx
from .formats.serialization import load, save
sys.modules["tinygrad_bn.onnx"] = onnx

__version__ = "0.1.0"
