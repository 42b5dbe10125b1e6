"""Activation checkpointing: trade compute for memory by running part of a model twice.

A forward pass normally keeps every activation a backward will read. `checkpoint(function, *args)` instead runs
`function` under no_grad, so nothing inside it is kept but its inputs, and puts one node in the graph, CheckpointFn.
When backward reaches that node, it runs `function` again, this time recording, and backpropagates through the
fresh graph: the parameters used inside get their gradients there, and the node returns the inputs' gradients.
Values and gradients are the same as without checkpointing. The random draws (dropout) of the host generator are
replayed; those of CuPy's generator (dropout on the GPU) are not, so on the GPU checkpoint only functions that draw
nothing (dropout in eval mode, or none).
PyTorch's `torch.utils.checkpoint` (tinygrad_bn/pytorch/utils/checkpoint.py) is this module.
"""
import warnings

from .autograd import Function, backward, enable_grad, no_grad
from .backend import rng
from .tensors import Tensor


class CheckpointFn(Function):
    """out = function(*args), recomputed with grad in backward. The Tensor arguments are this node's inputs; the
    other arguments, and the function, travel as options."""

    def forward(self, *arrays, function, args, kwargs, preserve_rng_state):
        self.function, self.args, self.kwargs = function, args, kwargs
        self.save_for_backward(*arrays)  # only the inputs are kept: the activations inside are recomputed
        self.rng_state = rng("cpu").bit_generator.state if preserve_rng_state else None
        with no_grad():
            out = function(*self.with_tensors(arrays, requires_grad=[False] * len(arrays)), **kwargs)
        if not isinstance(out, Tensor):
            raise NotImplementedError(f"checkpoint: the function returned {type(out).__name__}; tinygrad_bn "
                                      "checkpoints functions that return one Tensor")
        return out.array

    def backward(self, grad):
        """Run the function again from the saved inputs, recording, then backpropagate grad through it:
        gx = d<grad, function(x)>/dx, and the parameters inside accumulate theirs on the way."""
        inputs = self.with_tensors(self.saved, requires_grad=self.needs_grad)
        tensors = [arg for arg in inputs if isinstance(arg, Tensor)]
        current_state = rng("cpu").bit_generator.state
        if self.rng_state is not None:
            rng("cpu").bit_generator.state = self.rng_state  # the same dropout masks as the forward pass
        try:
            with enable_grad():
                out = self.function(*inputs, **self.kwargs)
        finally:
            rng("cpu").bit_generator.state = current_state
        if out.requires_grad:
            backward(out, grad)
        return tuple(None if t.grad is None else t.grad.array for t in tensors)

    def with_tensors(self, arrays, requires_grad):
        """The argument list with each Tensor argument replaced by a fresh leaf around its saved array."""
        arrays, flags = iter(arrays), iter(requires_grad)
        return [Tensor._wrap(next(arrays)).requires_grad_(next(flags)) if arg is TENSOR else arg for arg in self.args]


TENSOR = object()  # marks where a Tensor argument goes in CheckpointFn's argument list


def checkpoint(function, *args, use_reentrant=None, context_fn=None, determinism_check="default", debug=False,
               early_stop=True, preserve_rng_state=True, **kwargs):
    """function(*args, **kwargs), keeping only its inputs for backward and recomputing the rest (see above).

    Gradients flow to the parameters used inside when some Tensor argument requires grad. When none does,
    use_reentrant=False records the function as usual (no memory is saved, the gradients are right), and
    use_reentrant=True or None warns, as PyTorch's reentrant checkpoint, and gives the parameters no gradient."""
    if context_fn is not None:
        raise NotImplementedError("checkpoint(context_fn=...) is not supported by tinygrad_bn")
    tensors = [arg for arg in args if isinstance(arg, Tensor)]
    if not any(t.requires_grad for t in tensors) and use_reentrant is False:
        return function(*args, **kwargs)  # nothing to hang the node on: record as usual, so parameters get grads
    if not any(t.requires_grad for t in tensors):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None", UserWarning, stacklevel=2)
    if not tensors:
        with no_grad():
            return function(*args, **kwargs)
    marked = tuple(TENSOR if isinstance(arg, Tensor) else arg for arg in args)
    return CheckpointFn.apply(*tensors, function=function, args=marked, kwargs=kwargs,
                              preserve_rng_state=preserve_rng_state)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run `functions` (an nn.Sequential or a list of modules) in `segments` checkpointed chunks; the last chunk
    runs normally, as in PyTorch."""
    functions = list(functions.children()) if hasattr(functions, "children") else list(functions)
    size = len(functions) // segments

    def run(start, end):
        def forward(x):
            for function in functions[start:end]:
                x = function(x)
            return x
        return forward

    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run(start, end + 1), input, use_reentrant=use_reentrant, **kwargs)
    return run(end + 1, len(functions))(input)
