"""Activations, dropout, linear layers and softmax: small functions built on the Tensor's ops."""
from ...backend import rng
from ...tensor import Tensor


def relu(input):
    """max(x, 0); backward: dx = dy * (x > 0)."""
    return input.relu()


def linear(input, weight, bias=None):
    """y = x @ W^T + b with W of shape (out_features, in_features), as PyTorch stores it."""
    if input.shape[-1] != weight.shape[-1]:
        raise ValueError(f"linear: input of shape {input.shape} has {input.shape[-1]} features but the weight of shape "
                         f"{weight.shape} expects {weight.shape[-1]}")
    out = input @ weight.T
    return out if bias is None else out + bias


def dropout(input, p=0.5, training=True):
    """Zero each element with probability p and scale the rest by 1/(1-p), so the expected value is unchanged.

    The mask is a constant of the graph, so the backward is dx = dy * mask / (1-p). Identity when not training.
    """
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return input
    if p == 1:
        return input * 0
    keep = rng(input.device).random(input.shape, dtype=input.dtype) >= p
    return input * Tensor._wrap(keep.astype(input.dtype) / input.dtype.type(1 - p))


def softmax(input, dim):
    return input.softmax(dim)


def log_softmax(input, dim):
    return input.log_softmax(dim)
