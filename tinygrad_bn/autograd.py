"""Reverse-mode automatic differentiation: the Function protocol and the backward pass.

Every differentiable op is a small `Function` subclass with `forward` and `backward` side by side (the early-tinygrad
layout). `forward` computes the output array from input arrays and saves what `backward` needs; `backward` receives
dL/d(output) and returns dL/d(input) for each input. `Function.apply` wraps that in Tensors and, when a gradient is
needed, records the function on the output tensor, so the tensors and functions form a graph.

`backward` (below) walks that graph from the loss to the leaves in reverse topological order. The order is found
with an explicit stack, not recursion, so a 10,000-op chain works; gradients of a tensor used several times are
summed before they flow further; and the graph is freed as it is consumed, so training steps don't accumulate memory.
"""
import contextlib
import threading

_state = threading.local()


def is_grad_enabled():
    return getattr(_state, "grad_enabled", True)


@contextlib.contextmanager
def no_grad():
    """Inside `with no_grad():` ops record no graph (inference, optimizer updates, gradcheck's probes)."""
    previous = is_grad_enabled()
    _state.grad_enabled = False
    try:
        yield
    finally:
        _state.grad_enabled = previous


def unbroadcast(grad, shape):
    """Sum `grad` down to `shape`: the adjoint of broadcasting is a sum over the broadcast axes.

    Broadcasting copies an input along new leading axes and along axes of size 1, so each input element fed several
    output elements, and its gradient is the sum of theirs.
    """
    if grad.shape == tuple(shape):
        return grad
    extra_leading = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(extra_leading)))
    stretched = tuple(axis for axis, size in enumerate(shape) if size == 1 and grad.shape[axis] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


class Function:
    """One differentiable op. Subclasses define `forward(self, *arrays, **options)` and `backward(self, grad)`.

    The graph links functions, not tensors: `parents` holds, for each input, the Function that computed it, the
    input itself if it is a leaf that requires grad (a parameter), or None. So an intermediate tensor's array is
    freed as soon as nothing refers to it; only what a backward saved explicitly (`saved`) stays until backward.
    """

    def __init__(self):
        self.parents = ()        # set by apply when a gradient is needed; None once a backward pass freed it
        self.input_specs = ()    # (shape, dtype) of each input, to check and cast the gradients sent back
        self.needs_grad = ()     # which inputs need a gradient, so backward can skip the others
        self.saved = ()

    def save_for_backward(self, *arrays):
        self.saved = arrays

    @classmethod
    def apply(cls, *inputs, **options):
        """Run the op on Tensors; return a Tensor that remembers this function if a gradient is needed."""
        from .tensor import Tensor  # tensor.py builds on this module, so the import is deferred

        devices = {t.device for t in inputs}
        if len(devices) > 1:
            names = " and ".join(f"{t.device} (shape {t.shape})" for t in inputs)
            raise RuntimeError(f"{cls.__name__}: expected all tensors on the same device, got {names}; "
                               "move them with .to(device)")
        fn = cls()
        fn.needs_grad = tuple(t.requires_grad for t in inputs)
        out = Tensor._wrap(fn.forward(*(t.data for t in inputs), **options))
        if is_grad_enabled() and any(fn.needs_grad):
            fn.parents = tuple(t._ctx if t._ctx is not None else (t if t.requires_grad else None) for t in inputs)
            fn.input_specs = tuple((t.data.shape, t.data.dtype) for t in inputs)
            out.requires_grad = True
            out._ctx = fn
        return out

    def forward(self, *arrays, **options):
        raise NotImplementedError

    def backward(self, grad):
        """Return dL/d(input) for each input (a tuple, or one array for one input); None where none is needed."""
        raise NotImplementedError


def topological_order(root):
    """Graph nodes (Functions and leaf Tensors) reachable from `root`, each after every node it was computed from.

    Iterative depth-first search: a node is emitted after all its parents (post-order), using an explicit stack
    of (node, parents_already_pushed) pairs instead of Python recursion, so a 10,000-op chain works.
    """
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent in getattr(node, "parents", None) or ():  # leaf Tensors and freed functions have none
            if parent is not None and id(parent) not in visited:
                stack.append((parent, False))
    return order


def backward(root, grad, retain_graph=False):
    """Propagate `grad` = dL/d(root) to every leaf tensor that requires grad, accumulating into `leaf.grad`."""
    start = root._ctx if root._ctx is not None else root
    grads = {id(start): grad}
    for node in reversed(topological_order(start)):
        grad = grads.pop(id(node), None)
        if grad is None:
            continue
        if not isinstance(node, Function):
            _accumulate(node, grad)
            continue
        if node.parents is None:
            raise RuntimeError("Trying to backward through the graph a second time: its saved arrays were freed "
                               "after the first backward(). Use backward(retain_graph=True) the first time.")
        input_grads = node.backward(grad)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        for parent, (shape, dtype), parent_grad in zip(node.parents, node.input_specs, input_grads):
            if parent is None or parent_grad is None:
                continue
            if parent_grad.shape != shape:  # a wrong shape could broadcast silently into a wrong sum
                raise RuntimeError(f"{type(node).__name__}.backward returned a gradient of shape "
                                   f"{parent_grad.shape} for an input of shape {shape}")
            if parent_grad.dtype != dtype:  # e.g. a float64 scalar folded into a float32 op
                parent_grad = parent_grad.astype(dtype)
            key = id(parent)
            grads[key] = parent_grad if key not in grads else grads[key] + parent_grad
        if not retain_graph:
            node.parents, node.saved = None, None  # free the graph: saved activations go as soon as they are used


def _accumulate(leaf, grad):
    """Leaves keep their gradient, and it accumulates across backward() calls until zeroed."""
    from .tensor import Tensor

    if leaf.grad is None:
        leaf.grad = Tensor._wrap(grad.copy(order="K"))  # a copy (same memory layout): `grad` may be shared with another node's gradient
    else:
        leaf.grad.data += grad
