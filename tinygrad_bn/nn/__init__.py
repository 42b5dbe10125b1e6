"""Neural-network building blocks: `Module` and the layers (this package), the math in `nn.functional`.

    import tinygrad_bn.nn as nn
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(8 * 16 * 16, 2))
"""
from . import functional, init
from .layers import (AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, Dropout, Flatten, Identity,
                     Linear, MaxPool2d, ReLU)
from .module import Module, Parameter, Sequential

__all__ = ["Module", "Parameter", "Sequential", "Linear", "Conv2d", "BatchNorm1d", "BatchNorm2d", "ReLU", "MaxPool2d",
           "AvgPool2d", "AdaptiveAvgPool2d", "Flatten", "Dropout", "Identity", "functional", "init"]
