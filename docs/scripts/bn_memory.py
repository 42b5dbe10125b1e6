"""What the backward pass keeps alive: BN composed from primitive ops vs the fused op (docs/batchnorm.md, section 4).

Builds both graphs on one (64, 64, 32, 32) float32 input. The autograd graph links Functions, so an intermediate
array stays in memory after the forward only if some Function saved it for its backward (save_for_backward).
The script shows it three ways: which named intermediates are still alive once the forward returns (weak
references), which arrays the Functions saved, and the memory NumPy reports to tracemalloc (held after the
forward, and the peak during forward + backward).

Run from the repository root:  PYTHONPATH=. python docs/scripts/bn_memory.py
"""
import gc
import tracemalloc
import weakref

import numpy as np

import tinygrad_bn.nn.functional as F
from tinygrad_bn import Tensor
from tinygrad_bn.autograd import Function, topological_order

SHAPE = (64, 64, 32, 32)
MiB = 2**20


def owner(array):
    """The array that owns the memory of `array` (itself, or the base of a view)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def composed_batch_norm(x, gamma, beta, eps=1e-5):
    """The forward graph of docs/batchnorm.md, one primitive op per node. Returns y and weak references to the
    activation-sized intermediates, which let us see which of them outlive the forward without keeping them alive."""
    axes = (0, 2, 3)
    mean = x.mean(dim=axes, keepdim=True)
    centred = x - mean
    squared = centred * centred
    var = squared.mean(dim=axes, keepdim=True)
    inv_std = 1 / (var + eps).sqrt()
    x_hat = centred * inv_std
    scaled = x_hat * gamma.reshape(1, -1, 1, 1)
    y = scaled + beta.reshape(1, -1, 1, 1)
    names = {"centred": centred, "squared": squared, "x_hat": x_hat, "scaled = gamma * x_hat": scaled}
    return y, {name: weakref.ref(owner(t.array)) for name, t in names.items()}


def fused_batch_norm(x, gamma, beta):
    return F.batch_norm(x, None, None, gamma, beta, training=True), {}


def saved_arrays(y):
    """(Function name, array) for every activation-sized array the graph of y saved, each memory owner once."""
    seen, found = set(), []
    for node in topological_order(y.grad_fn):
        if isinstance(node, Function):
            for array in node.saved or ():
                if isinstance(array, np.ndarray) and array.size == y.array.size and id(owner(array)) not in seen:
                    seen.add(id(owner(array)))
                    found.append((type(node).__name__, owner(array)))
    return found


def report(title, build, x, gamma, beta, g):
    gc.collect()
    tracemalloc.reset_peak()
    start = tracemalloc.get_traced_memory()[0]
    y, intermediates = build(x, gamma, beta)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - start - y.array.nbytes
    nodes = [type(n).__name__ for n in topological_order(y.grad_fn) if isinstance(n, Function)]
    print(f"{title}: {len(nodes)} Functions ({', '.join(nodes)})")
    for name, ref in intermediates.items():
        print(f"    {name:24} {'alive (saved for backward)' if ref() is not None else 'freed after the forward'}")
    saved = saved_arrays(y)
    print(f"  activation-sized arrays saved for backward: {len(saved)} "
          f"({', '.join(f'{a.shape} by {name}' for name, a in saved)})")
    y.backward(g)
    peak = tracemalloc.get_traced_memory()[1] - start
    print(f"  memory held by the graph after the forward (besides x and y): {held / MiB:.0f} MiB; "
          f"peak during forward + backward: {peak / MiB:.0f} MiB\n")
    x.grad = gamma.grad = beta.grad = None


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal(SHAPE, dtype=np.float32), requires_grad=True)
    gamma = Tensor(np.ones(SHAPE[1], dtype=np.float32), requires_grad=True)
    beta = Tensor(np.zeros(SHAPE[1], dtype=np.float32), requires_grad=True)
    g = Tensor(rng.standard_normal(SHAPE, dtype=np.float32))
    print(f"input x: {SHAPE} float32, one activation-sized array = {x.array.nbytes / MiB:.0f} MiB\n")
    tracemalloc.start()
    report("composed from primitive ops", composed_batch_norm, x, gamma, beta, g)
    report("fused F.batch_norm", fused_batch_norm, x, gamma, beta, g)
