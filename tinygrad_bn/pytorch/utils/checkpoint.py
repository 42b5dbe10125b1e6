"""`torch.utils.checkpoint`: activation checkpointing. The mechanism is part of the core
(tinygrad_bn/activation_checkpoint.py: a graph node whose backward runs the function again); this is the import
path PyTorch code uses."""
from tinygrad_bn.activation_checkpoint import checkpoint, checkpoint_sequential

__all__ = ["checkpoint", "checkpoint_sequential"]
