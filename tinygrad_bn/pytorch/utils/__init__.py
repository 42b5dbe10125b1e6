"""`tinygrad_bn.utils`: PyTorch's `torch.utils` namespace; `utils.data` holds Dataset, TensorDataset, DataLoader,
`utils.checkpoint` activation checkpointing.

(The image pipeline of the cats-vs-dogs program, with its decoding cache and augmentations, is models/images/.)
"""
from . import checkpoint, data

__all__ = ["checkpoint", "data"]
