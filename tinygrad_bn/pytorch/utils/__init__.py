"""`tinygrad_bn.utils`: PyTorch's `torch.utils` namespace; `utils.data` holds Dataset, TensorDataset, DataLoader.

(The image pipeline of the cats-vs-dogs program, with its decoding cache and augmentations, is models/images/.)
"""
from . import data

__all__ = ["data"]
