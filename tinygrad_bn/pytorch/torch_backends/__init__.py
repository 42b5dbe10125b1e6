"""`tinygrad_bn.backends`: a namespace for PyTorch's `torch.backends.cudnn.benchmark = True` and the like.

tinygrad_bn has no cuDNN: these are settings that code may assign, kept so the assignment works, and ignored.
(The array libraries themselves are chosen in backend.py.)
"""
from . import cudnn

__all__ = ["cudnn"]
