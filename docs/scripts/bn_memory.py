"""What the backward pass keeps alive: BN composed from primitive ops vs the fused op (docs/batchnorm.md, section 4).

Builds both graphs on one (64, 64, 32, 32) float32 input and walks them from the output. An array stays in memory
until backward() when a recorded node either saved it (save_for_backward) or takes it as an input (the graph holds
its input tensors, to walk them). Arrays are counted once, by the memory they own (a view counts as its base).

Run from the repository root:  python docs/scripts/bn_memory.py
"""
import numpy as np

import tinygrad_bn.nn.functional as F
from tinygrad_bn import Tensor
from tinygrad_bn.autograd import topological_order

SHAPE = (64, 64, 32, 32)


def composed_batch_norm(x, gamma, beta, eps=1e-5):
    """The forward graph of docs/batchnorm.md, one primitive op per node; also returns the named intermediates."""
    axes = (0, 2, 3)
    mean = x.mean(dim=axes, keepdim=True)
    centred = x - mean
    squared = centred * centred
    var = squared.mean(dim=axes, keepdim=True)
    inv_std = 1 / (var + eps).sqrt()
    x_hat = centred * inv_std
    scaled = x_hat * gamma.reshape(1, -1, 1, 1)
    y = scaled + beta.reshape(1, -1, 1, 1)
    return y, {"centred": centred, "squared": squared, "x_hat": x_hat, "scaled": scaled, "y": y}


def owner(array):
    """The array that owns the memory of `array` (itself, or the base of a view)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def held_arrays(out, names):
    """Every array a backward from `out` keeps alive: {id of its memory owner: (array, why it is held)}."""
    made_by = {id(owner(t.data)): type(t._ctx).__name__ for t in topological_order(out) if t._ctx is not None}
    made_by.update({id(owner(t.data)): f"{name} = {made_by[id(owner(t.data))]}" for name, t in names.items()})
    held = {}
    for tensor in topological_order(out):
        fn = tensor._ctx
        if fn is None:
            continue
        name = type(fn).__name__
        for parent in fn.inputs:
            key = id(owner(parent.data))
            producer = made_by.get(key, "a leaf")
            held.setdefault(key, (owner(parent.data), f"{producer}, kept as the input of {name}"))
        for array in fn.saved or ():
            if isinstance(array, np.ndarray):
                held.setdefault(id(owner(array)), (owner(array), f"saved by {name}"))
    return held


def report(title, out, x, names):
    nodes = [type(t._ctx).__name__ for t in topological_order(out) if t._ctx is not None]
    held = held_arrays(out, names)
    activation = [(a, why) for a, why in held.values() if a.size == x.data.size and a is not owner(x.data)]
    small = [a for a, _ in held.values() if a.size < x.data.size]
    mib = sum(a.nbytes for a, _ in activation) / 2**20
    print(f"{title}: {len(nodes)} nodes ({', '.join(nodes)})")
    print(f"  besides x, {len(activation)} activation-sized arrays held until backward ({mib:.0f} MiB):")
    for array, why in activation:
        print(f"    {str(array.shape):18} {array.dtype}  {why}")
    print(f"  plus {len(small)} small arrays of at most {max(a.size for a in small)} values "
          f"(per-channel statistics, gamma, beta)\n")


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal(SHAPE, dtype=np.float32), requires_grad=True)
    gamma = Tensor(np.ones(SHAPE[1], dtype=np.float32), requires_grad=True)
    beta = Tensor(np.zeros(SHAPE[1], dtype=np.float32), requires_grad=True)
    print(f"input x: {SHAPE} float32 = {x.data.nbytes / 2**20:.0f} MiB\n")
    y, intermediates = composed_batch_norm(x, gamma, beta)
    report("composed from primitive ops", y, x, intermediates)
    report("fused F.batch_norm", F.batch_norm(x, None, None, gamma, beta, training=True), x, {})
