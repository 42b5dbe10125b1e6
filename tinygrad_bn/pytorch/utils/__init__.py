"""`tinygrad_bn.utils`: PyTorch's `torch.utils` namespace; `utils.data` holds Dataset, TensorDataset, DataLoader.

(The image pipeline of the cats-vs-dogs model, with its decoding cache and augmentations, is tinygrad_bn.data.)
"""
from . import data

__all__ = ["data"]
