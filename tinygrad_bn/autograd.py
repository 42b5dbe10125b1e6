"""Reverse-mode automatic differentiation: how a graph is recorded, and how backward() walks it.

The lesson that goes with this file is docs/autograd.md. In short:

1. **Recording.** Every differentiable op is a small `Function` subclass with `forward` and `backward` side by side.
   `Function.apply` runs `forward` on the input arrays and, when some input needs a gradient, keeps the function
   object on the output tensor as `out.grad_fn` ("the function that made me", PyTorch's name). The function in
   turn remembers where each of its inputs came from, in `fn.parents`. So the tensors' `grad_fn`s and the
   functions' `parents` form a graph that runs from the loss back to the parameters.
2. **Ordering.** `backward(loss)` lists the graph's nodes in topological order (every node after all the nodes it
   was computed from) and visits them in reverse: from the loss towards the leaves. By the time a node is visited,
   every use of its output has already sent its share of the gradient, so the shares can be summed first.
3. **Chain rule.** Visiting a function calls its `backward(g)` with g = dL/d(output); it returns dL/d(input) for
   each input, which is added to that input's pending gradient. At a leaf (a parameter) the gradient is added
   into `leaf.grad`, where it accumulates across `backward()` calls until zeroed. The gradient of a slice x[t] is
   zero outside the slice, so it travels as an `IndexedGradient` and is added into x's pending gradient in place:
   a loop over the T steps of a sequence costs O(T), not T arrays the size of x.
4. **Freeing.** Once a function has been visited, its `parents` and saved arrays are dropped: a training step's
   activations are freed during the backward pass, not kept until the next step.

Around these: the grad mode (`no_grad`, `enable_grad`, `set_grad_enabled`) decides whether `apply` records at all,
and hooks (`register_hook`) let a user see or replace the gradient as backward() reaches a node.
"""
import contextlib
import copy
import threading

from .backend import get_array_module, scatter_add

_state = threading.local()  # grad mode is per thread, as in PyTorch


def is_grad_enabled():
    return getattr(_state, "grad_enabled", True)


class _GradMode(contextlib.ContextDecorator):
    """A grad-mode switch, as a context manager or a decorator: on entry remember the mode and set `self.mode`, on
    exit put the remembered mode back."""

    def __enter__(self):
        self.previous = is_grad_enabled()
        _state.grad_enabled = self.mode

    def __exit__(self, *exc_info):
        _state.grad_enabled = self.previous
        return False

    def _recreate_cm(self):  # a decorated function gets a fresh switch per call, so that it may call itself
        return copy.copy(self)


class no_grad(_GradMode):
    """Inside `with no_grad():` ops record no graph (inference, optimizer updates, gradcheck's probes). Also a
    decorator, with or without parentheses: `@no_grad()` or `@no_grad`."""
    mode = False

    def __new__(cls, function=None):
        if function is None:
            return super().__new__(cls)
        return cls()(function)  # bare @no_grad


class enable_grad(no_grad):
    """Record the graph again inside a `no_grad` block (context manager or decorator)."""
    mode = True


class inference_mode(no_grad):
    """PyTorch's faster no_grad. Here it is no_grad itself (inference_mode(False) records, like enable_grad):
    there is no separate kind of inference tensor."""

    def __new__(cls, mode=True):
        if callable(mode):  # bare @inference_mode
            return cls()(mode)
        return object.__new__(cls)

    def __init__(self, mode=True):
        self.mode = not mode  # the grad mode: off in inference mode


class set_grad_enabled(_GradMode):
    """`set_grad_enabled(False)` switches at once (a plain call); in a `with` block, the mode from before the call
    comes back on exit; as a decorator, the mode is set only while the function runs."""

    def __init__(self, mode):
        self.mode = bool(mode)
        self.previous = is_grad_enabled()
        _state.grad_enabled = self.mode

    def __enter__(self):
        _state.grad_enabled = self.mode

    def __call__(self, function):
        _state.grad_enabled = self.previous  # decorating does not switch the mode
        return super().__call__(function)

    def _recreate_cm(self):
        return set_grad_enabled(self.mode)


class RemovableHandle:
    """What register_hook and the Module hook registrations return: `handle.remove()` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks):
        self.hooks, self.id = hooks, RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self):
        self.hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.remove()


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


def is_basic_index(index):
    """Basic indexing (ints, slices, None, ...) selects each element at most once, so no scatter-add is needed."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (int, slice)) or p is None or p is Ellipsis for p in parts)


class IndexedGradient:
    """The gradient of y = x[index] with respect to x: dL/dy at the indexed positions of an array shaped like x,
    zero everywhere else. GetItemFn's backward returns it so that backward() can add `values` into x's gradient
    in place (`add_into`) instead of building a full array of zeros for every slice and summing those arrays.
    `dense()` is the plain version: the full array."""

    def __init__(self, shape, dtype, index, values):
        self.shape, self.dtype, self.index, self.values = tuple(shape), dtype, index, values

    def astype(self, dtype):
        return IndexedGradient(self.shape, dtype, self.index, self.values.astype(dtype))

    def add_into(self, array):
        """array[index] += values; repeated indices (x[[0, 0]]) add up."""
        if is_basic_index(self.index):
            array[self.index] += self.values
        else:
            scatter_add(array, self.index, self.values)
        return array

    def dense(self):
        return self.add_into(get_array_module(self.values).zeros(self.shape, dtype=self.dtype))


class VersionCounter:
    """How many times a tensor's memory was changed in place (add_, mul_, t[i] = ...).

    A function that saved an array for its backward notes the counter's value; if the array was changed in place
    before backward runs, the gradient would be computed from the wrong numbers, so backward raises instead
    (PyTorch's rule). Tensors that share memory through `detach()` share the counter."""

    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


class Function:
    """One differentiable op. Subclasses define `forward(self, *arrays, **options)` and `backward(self, grad)`.

    Every subclass is named after its op with the suffix Fn (`AddFn`, `Conv2dFn`, `BatchNormFn`), so that a graph
    node, an error or `grad_fn=<ReLUFn>` is never mistaken for a layer (`nn.ReLU`, `nn.Conv2d` are Modules).

    The graph links functions, not tensors. After `apply`, `parents[k]` says where input k came from:

    - the Function that computed it (`input.grad_fn`), for an intermediate result;
    - the input Tensor itself, for a leaf that requires grad (a parameter): its gradient ends in `leaf.grad`;
    - None, for a constant (an image, a label, anything that needs no gradient).

    Linking functions rather than tensors means an intermediate tensor's array is freed as soon as nothing else
    refers to it; only what a backward explicitly saved (`self.saved`) stays alive until that backward has run.
    """

    def __init__(self):
        self.parents = ()        # set by apply when a gradient is needed; None once a backward pass freed it
        self.input_specs = ()    # (shape, dtype) of each input, to check and cast the gradients sent back
        self.needs_grad = ()     # which inputs need a gradient, so backward can skip the others
        self.saved = ()
        self.saved_versions = ()  # (counter, value) of each input whose array was saved: see VersionCounter

    def save_for_backward(self, *arrays):
        self.saved = arrays

    @classmethod
    def apply(cls, *inputs, **options):
        """Run the op on Tensors; return a Tensor that remembers this function if a gradient is needed."""
        from .tensors import Tensor  # tensors.py builds on this module, so the import is deferred

        devices = {t.device for t in inputs}
        if len(devices) > 1:
            names = " and ".join(f"{t.device} (shape {t.shape})" for t in inputs)
            raise RuntimeError(f"{cls.__name__}: expected all tensors on the same device, got {names}; "
                               "move them with .to(device)")
        fn = cls()
        fn.needs_grad = tuple(t.requires_grad for t in inputs)
        out = Tensor._wrap(fn.forward(*(t.array for t in inputs), **options))
        if is_grad_enabled() and any(fn.needs_grad):
            fn.parents = tuple(_parent_node(t) for t in inputs)
            fn.input_specs = tuple((t.array.shape, t.array.dtype) for t in inputs)
            # Inputs, and the output (Exp, Tanh, Sigmoid... save it), whose array a backward will read again.
            saved_ids = {id(array) for array in fn.saved}
            fn.saved_versions = tuple((t._version, t._version.value) for t in (*inputs, out)
                                      if id(t.array) in saved_ids)
            out.requires_grad = True
            out.grad_fn = fn
        return out

    def forward(self, *arrays, **options):
        raise NotImplementedError

    def backward(self, grad):
        """Return dL/d(input) for each input (a tuple, or one array for one input); None where none is needed."""
        raise NotImplementedError


def _parent_node(tensor):
    """The graph node an input comes from: the function that computed it, itself if it is a leaf that requires
    grad, or None for a constant."""
    if tensor.grad_fn is not None:
        return tensor.grad_fn
    return tensor if tensor.requires_grad else None


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
    start = root.grad_fn if root.grad_fn is not None else root
    # pending[node] = the sum, so far, of dL/d(node's output) over the uses of that output already visited.
    # Keyed by id(): Tensors compare elementwise (==), which makes them poor dictionary keys, and Functions and
    # leaf Tensors share this one dictionary.
    pending = {id(start): grad}
    owned = set()  # the keys of pending whose array backward() made itself, so may add into in place
    for node in reversed(topological_order(start)):
        grad = pending.pop(id(node), None)
        if grad is None:  # nothing flowed here: no path from the root needs this node's gradient
            continue
        grad = _run_hooks(node, grad)
        if not isinstance(node, Function):
            _accumulate(node, grad)
            continue
        if node.parents is None:
            raise RuntimeError("Trying to backward through the graph a second time: its saved arrays were freed "
                               "after the first backward(). Use backward(retain_graph=True) the first time.")
        _check_saved_versions(node)
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
            _add_pending(pending, owned, id(parent), parent_grad)
        if not retain_graph:
            node.parents, node.saved = None, None  # free the graph: saved activations go as soon as they are used


def _add_pending(pending, owned, key, grad):
    """pending[key] += grad, copying as little as possible.

    A backward may return an array that is also another node's gradient (AddFn hands g on to both of its inputs),
    so an array received is never changed in place: the first sum goes into a new array, which is then backward()'s
    own (`owned`) to add into. An IndexedGradient is added into such an array, made from zeros if it is the first.
    """
    current = pending.get(key)
    if isinstance(grad, IndexedGradient):
        if key not in owned:
            current = grad.dense() if current is None else grad.add_into(current.copy())
            owned.add(key)
        else:
            grad.add_into(current)
    elif current is None:
        current = grad
    elif key in owned:
        current += grad
    else:
        current = current + grad
        owned.add(key)
    pending[key] = current


def register_hook(tensor, hook):
    """Tensor.register_hook: `hook(grad)` is called with dL/d(tensor) once it is complete, and may return a
    replacement gradient (or None to keep it). The hook is kept on the tensor's graph node, where backward() sees
    the summed gradient: its grad_fn for an intermediate result, the tensor itself for a leaf (before `.grad`)."""
    if not tensor.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    node = tensor.grad_fn if tensor.grad_fn is not None else tensor
    if getattr(node, "grad_hooks", None) is None:
        node.grad_hooks = {}
    handle = RemovableHandle(node.grad_hooks)
    node.grad_hooks[handle.id] = hook
    return handle


def _run_hooks(node, grad):
    from .tensors import Tensor

    for hook in list((getattr(node, "grad_hooks", None) or {}).values()):
        replaced = hook(Tensor._wrap(grad))
        if replaced is not None:
            replaced = replaced.array if isinstance(replaced, Tensor) else replaced
            if replaced.shape != grad.shape:
                raise RuntimeError(f"hook {getattr(hook, '__name__', hook)!r} has changed the size of value: "
                                   f"expected {tuple(grad.shape)}, got {tuple(replaced.shape)}")
            grad = replaced
    return grad


def _check_saved_versions(fn):
    for counter, value in fn.saved_versions:
        if counter.value != value:
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an inplace operation: "
                f"a tensor saved by {type(fn).__name__} is at version {counter.value}; expected version {value} "
                "instead. Change a copy (x = x.clone()) instead of the tensor itself, or make the change after backward().")


def _accumulate(leaf, grad):
    """Leaves keep their gradient, and it accumulates across backward() calls until zeroed."""
    from .tensors import Tensor

    if leaf.grad is None:
        # A copy in the same memory layout: `grad` may be shared with another node's gradient.
        leaf.grad = Tensor._wrap(grad.copy(order="K"))
    else:
        leaf.grad.array += grad
