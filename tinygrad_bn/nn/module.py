"""Module: the container that gives a network its parameters, buffers, train/eval mode and state_dict.

A model is a tree of Modules. Assigning an attribute registers it, in insertion order (PyTorch's design):

    self.conv = Conv2d(3, 8, 3)           # a sub-Module   -> self._modules["conv"]
    self.weight = Parameter(...)          # learnable      -> self._parameters["weight"], found by parameters()
    self.register_buffer("running_mean", t)   # state that is saved but not learned (BatchNorm's statistics)

Everything else (`parameters()`, `state_dict()`, `to(device)`, `train()`) is a walk over that tree. State dict keys
are the attribute path joined with dots, parameters before buffers within a module, then its children:
`0.weight`, `1.running_mean`, `1.num_batches_tracked` -- the same keys as a twin PyTorch model, so weights load both
ways.
"""
import math
from collections import OrderedDict, namedtuple

import numpy as np

from ..arguments import is_device_name
from ..autograd import RemovableHandle, is_grad_enabled
from ..backend import device_of, is_cupy_array, to_device, to_numpy
from ..tensors import Tensor, cat, zeros, zeros_like


class Parameter(Tensor):
    """A Tensor that a Module treats as learnable: requires_grad=True, and listed by `Module.parameters()`."""

    def __init__(self, data, requires_grad=True):
        device = data.device if isinstance(data, Tensor) else None  # a Tensor's values stay on its device
        super().__init__(data, requires_grad=requires_grad, device=device)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class StateDictShapeError(ValueError, RuntimeError):
    """A state_dict entry whose shape differs from the model's tensor.

    PyTorch raises RuntimeError here; this is also a ValueError, since the value has the wrong shape.
    """


class Module:
    """Base class of every layer and model. Subclasses call `super().__init__()` first, then define `forward`."""

    def __init__(self):
        # object.__setattr__ because our own __setattr__ needs these registries to exist
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_backward_hooks", OrderedDict())

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args, **kwargs):
        """forward(), with the hooks around it in PyTorch's order: forward pre-hooks (may replace the inputs),
        forward, forward hooks (may replace the output); backward hooks watch the inputs and the output."""
        for hook in list(self._forward_pre_hooks.values()):
            replaced = hook(self, args)
            if replaced is not None:
                args = replaced if isinstance(replaced, tuple) else (replaced,)
        backward_hook = _BackwardHookCall(self, args) if self._backward_hooks and is_grad_enabled() else None
        if backward_hook is not None:
            args = backward_hook.watch_inputs(args)
        output = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            replaced = hook(self, args, output)
            if replaced is not None:
                output = replaced
        if backward_hook is not None:
            output = backward_hook.watch_output(output)
        return output

    # ------------------------------------------------------------------------------------------------------------
    # Hooks: functions called around forward() and backward(); each registration returns a handle with remove()
    # ------------------------------------------------------------------------------------------------------------
    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """`hook(module, args)` runs before forward(); it may return new args (a tuple, or one value)."""
        return _register(self._forward_pre_hooks, hook, prepend, with_kwargs, "register_forward_pre_hook")

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False, always_call=False):
        """`hook(module, args, output)` runs after forward(); it may return a new output."""
        return _register(self._forward_hooks, hook, prepend, with_kwargs, "register_forward_hook")

    def register_full_backward_hook(self, hook, prepend=False):
        """`hook(module, grad_input, grad_output)` runs when the gradients with respect to the module's inputs are
        computed: grad_output holds dL/d(output), grad_input dL/d(each positional argument): None for an argument
        that is not a Tensor, zeros for a Tensor that needs no gradient (all None if no argument needs one). It may
        return a new grad_input. Built on Tensor.register_hook: see _BackwardHookCall."""
        return _register(self._backward_hooks, hook, prepend, False, "register_full_backward_hook")

    # ------------------------------------------------------------------------------------------------------------
    # Registration: attribute assignment sorts values into parameters, buffers and sub-modules.
    # ------------------------------------------------------------------------------------------------------------
    def __setattr__(self, name, value):
        registries = self.__dict__.get("_parameters"), self.__dict__.get("_buffers"), self.__dict__.get("_modules")
        if registries[0] is None and isinstance(value, (Parameter, Module)):
            raise AttributeError(f"cannot assign {type(value).__name__} {name!r} before Module.__init__() call")
        parameters, buffers, modules = registries
        if isinstance(value, Parameter):
            self._forget(name, keep=parameters)
            parameters[name] = value
        elif parameters is not None and name in parameters:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} "
                                "(Parameter or None expected)")
            parameters[name] = None
        elif isinstance(value, Module):
            self._forget(name, keep=modules)
            modules[name] = value
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module {name!r} "
                                "(Module or None expected)")
            modules[name] = None
        elif buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer {name!r} (Tensor or None expected)")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        # Called only when normal lookup fails: the registered entries live in the three registries, not __dict__.
        for registry in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(registry)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def _forget(self, name, keep):
        """Remove `name` from every registry but `keep`, so that re-assigning it as another kind leaves one entry.
        In `keep` it stays where it is: a re-assigned parameter (tied weights: `decoder.weight = encoder.weight`)
        keeps its place in state_dict's order, as in PyTorch."""
        self.__dict__.pop(name, None)
        for registry in (self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)
        self._non_persistent_buffers.discard(name)

    def _check_new_name(self, name, kind):
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if name == "" or "." in name:
            raise KeyError(f"{kind} name can't be empty or contain '.', got {name!r}")
        if hasattr(self, name) and name not in self._parameters and name not in self._buffers \
                and name not in self._modules:
            raise KeyError(f"attribute {name!r} already exists")

    def register_parameter(self, name, param):
        """Register a Parameter (or None: a slot that exists but holds nothing, e.g. Linear(bias=False).bias)."""
        self._check_new_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign {type(param).__name__} as parameter {name!r} (Parameter or None expected)")
        self._forget(name, keep=self._parameters)
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Register state that is not learned: saved in state_dict (unless persistent=False) and moved by to()."""
        self._check_new_name(name, "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign {type(tensor).__name__} as buffer {name!r} (Tensor or None expected)")
        self._forget(name, keep=self._buffers)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent_buffers.add(name)

    def add_module(self, name, module):
        self._check_new_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._forget(name, keep=self._modules)
        self._modules[name] = module

    register_module = add_module

    # ------------------------------------------------------------------------------------------------------------
    # Walking the tree
    # ------------------------------------------------------------------------------------------------------------
    def named_children(self):
        """(name, module) for each direct sub-module, in registration order."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self):
        for _, module in self.named_children():
            yield module

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(dotted name, module) for this module and every descendant, depth first, parents before children.

        A module shared by two parents is listed once (unless remove_duplicate=False).
        """
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                child_prefix = prefix + "." + name if prefix else name
                yield from module.named_modules(memo, child_prefix, remove_duplicate)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def _named_members(self, registry, prefix, recurse):
        """Entries of one registry ("_parameters" or "_buffers") over the tree; a tensor shared twice is listed once."""
        seen = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, tensor in getattr(module, registry).items():
                if tensor is None or id(tensor) in seen:
                    continue
                seen.add(id(tensor))
                yield (module_prefix + "." + name if module_prefix else name), tensor

    def named_parameters(self, prefix="", recurse=True):
        yield from self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix="", recurse=True):
        yield from self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    # ------------------------------------------------------------------------------------------------------------
    # Mode, gradients, devices
    # ------------------------------------------------------------------------------------------------------------
    def train(self, mode=True):
        """Set training mode on this module and every descendant (Dropout and BatchNorm behave differently)."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Freeze (False) or unfreeze (True) every parameter."""
        for param in self.parameters():
            param.requires_grad = requires_grad
        return self

    def zero_grad(self, set_to_none=True):
        """Forget accumulated gradients: grad = None (the default, as PyTorch), or fill them with zeros."""
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad.array[...] = 0

    def _apply(self, convert, floating_only=False):
        """Replace the array of every parameter, gradient and buffer by `convert(array)`, keeping the Tensor objects.

        Keeping the objects matters: an optimizer built before `model.to("cuda")` holds these same Parameters.
        """
        tensors = list(self.parameters()) + list(self.buffers())
        for tensor in tensors:
            if floating_only and tensor.array.dtype.kind != "f":
                continue  # e.g. num_batches_tracked stays int64 under double()
            tensor.array = convert(tensor.array)
            if tensor.grad is not None:
                tensor.grad.array = convert(tensor.grad.array)
        return self

    def to(self, device=None, dtype=None, non_blocking=False):
        """Move every parameter and buffer to `device` ("cpu" or "cuda", or a tinygrad_bn.device) and/or cast the
        floating-point ones to `dtype`, in place; returns self. `model.to(tg.float64)` casts only."""
        if device is not None and not is_device_name(device):  # to(dtype): the one positional argument is a dtype
            device, dtype = None, device
        if dtype is not None:
            try:
                dtype = np.dtype(dtype)
            except TypeError:
                raise TypeError(f"to(): {dtype!r} is neither a device ('cpu', 'cuda') nor a dtype") from None
        if device is not None:
            self._apply(lambda array: to_device(array, device))
        if dtype is not None:
            self._apply(lambda array: array.astype(dtype), floating_only=True)
        return self

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def double(self):
        """float64 parameters and buffers (for gradcheck-precision tests); num_batches_tracked stays int64."""
        return self.to(dtype="float64")

    def float(self):
        return self.to(dtype="float32")

    def half(self):
        return self.to(dtype="float16")

    def apply(self, fn):
        """Call fn(module) on every descendant, children first, then on self; returns self. The usual use is custom
        initialisation: `model.apply(init_weights)` with `if isinstance(m, nn.Conv2d): nn.init.kaiming_normal_(...)`."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def get_submodule(self, target):
        """The module at a dotted path ("layer1.0.conv1"); "" is self."""
        module = self
        for name in target.split(".") if target else []:
            if name not in module._modules:
                raise AttributeError(f"{type(module).__name__} has no attribute `{name}`")
            module = module._modules[name]
        return module

    # ------------------------------------------------------------------------------------------------------------
    # state_dict
    # ------------------------------------------------------------------------------------------------------------
    def _state_tensors(self, prefix=""):
        """(key, tensor) in state_dict order: own parameters, own persistent buffers, then each child's."""
        for name, param in self._parameters.items():
            if param is not None:
                yield prefix + name, param
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent_buffers:
                yield prefix + name, buffer
        for name, module in self._modules.items():
            if module is not None:
                yield from module._state_tensors(prefix + name + ".")

    def state_dict(self):
        """OrderedDict key -> host NumPy array (a copy), with PyTorch's keys, shapes and order."""
        return OrderedDict((key, np.array(to_numpy(tensor.array))) for key, tensor in self._state_tensors())

    def load_state_dict(self, state_dict, strict=True):
        """Copy `state_dict`'s values into this model's tensors, in place, on their current device.

        Values may be NumPy/CuPy arrays, Tensors or anything np.asarray accepts. With strict=True, missing or
        unexpected keys raise RuntimeError; a shape mismatch always raises (before anything is copied).
        Returns (missing_keys, unexpected_keys).
        """
        own = OrderedDict(self._state_tensors())
        missing = [key for key in own if key not in state_dict]
        unexpected = [key for key in state_dict if key not in own]
        if strict and (missing or unexpected):
            lines = [f"Error(s) in loading state_dict for {type(self).__name__}:"]
            if missing:
                lines.append("Missing key(s) in state_dict: " + ", ".join(f'"{key}"' for key in missing) + ".")
            if unexpected:
                lines.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{key}"' for key in unexpected) + ".")
            raise RuntimeError("\n\t".join(lines))

        values = OrderedDict((key, _as_array(state_dict[key])) for key in own if key in state_dict)
        for key, value in values.items():
            if tuple(value.shape) != tuple(own[key].shape):
                raise StateDictShapeError(
                    f"size mismatch for {key}: copying a param with shape {tuple(value.shape)} from checkpoint, "
                    f"the shape in current model is {tuple(own[key].shape)}.")
        for key, value in values.items():
            target = own[key].array
            target[...] = to_device(value, device_of(target)).astype(target.dtype, copy=False)
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------------------------------------------------
    # repr: "Name(extra_repr)" or, with children, one indented "(name): child" line each (PyTorch's layout)
    # ------------------------------------------------------------------------------------------------------------
    def extra_repr(self):
        """The layer's own settings shown inside its repr; layers override it."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _indent(repr(module), 2) for name, module in self._modules.items()]
        lines = extra_lines + child_lines
        body = ""
        if len(extra_lines) == 1 and not child_lines:
            body = extra_lines[0]
        elif lines:
            body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{type(self).__name__}({body})"


def _register(hooks, hook, prepend, with_kwargs, method):
    if with_kwargs:
        raise NotImplementedError(f"{method}(with_kwargs=True) is not supported by tinygrad_bn: hooks receive the "
                                  "positional arguments only")
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


class _BackwardHookCall:
    """One call of a module with full backward hooks, built on Tensor.register_hook.

    The module's hooks need all of grad_input at once, so the Tensor arguments that need a gradient are joined into
    one flat tensor (`cat`), and the module receives pieces of it (slices, reshaped): when backward() reaches the
    joined tensor's node, every piece has sent its gradient, and a tensor hook there calls the module's hooks with
    grad_input, and may replace it. The output passes through an identity (`view`) whose tensor hook records
    grad_output first. Both nodes belong to this call only."""

    def __init__(self, module, args):
        self.module, self.grad_output, self.n_args = module, None, len(args)
        self.watched = [i for i, arg in enumerate(args) if isinstance(arg, Tensor) and arg.requires_grad]
        # PyTorch gives the other Tensor arguments a gradient of zeros (when some argument needs a gradient)
        self.constants = {i: (arg.shape, arg.dtype, arg.device) for i, arg in enumerate(args)
                          if isinstance(arg, Tensor) and not arg.requires_grad}
        self.shapes = [args[i].shape for i in self.watched]
        dtypes = {args[i].dtype for i in self.watched}
        if len(dtypes) > 1:
            raise NotImplementedError(f"register_full_backward_hook: {type(module).__name__} was called with Tensor "
                                      f"arguments of dtypes {sorted(map(str, dtypes))} that require grad; tinygrad_bn "
                                      "supports backward hooks when they share one dtype")

    def watch_inputs(self, args):
        if not self.watched:
            return args
        args = list(args)
        joined = cat([args[i].reshape(-1) for i in self.watched])
        joined.register_hook(self.on_grad_input)
        for i, piece in zip(self.watched, self.split(joined)):
            args[i] = piece
        return tuple(args)

    def split(self, flat):
        """The pieces of a joined flat tensor (or array), in the watched arguments' shapes."""
        offsets = np.cumsum([0] + [math.prod(shape) for shape in self.shapes])
        return [flat[start:end].reshape(shape) for start, end, shape in zip(offsets, offsets[1:], self.shapes)]

    def watch_output(self, output):
        if not isinstance(output, Tensor):
            raise NotImplementedError(f"register_full_backward_hook: {type(self.module).__name__} returned "
                                      f"{type(output).__name__}; tinygrad_bn supports modules that return one Tensor")
        if not output.requires_grad:
            return output
        output = output.view(output.shape)
        output.register_hook(self.on_grad_output)
        return output

    def on_grad_output(self, grad):
        self.grad_output = (grad,)
        if not self.watched:  # nothing to wait for: the hooks see grad_input all None now (as in PyTorch)
            self.call_hooks(grad_input=(None,) * self.n_args)

    def on_grad_input(self, joined_grad):
        pieces = dict(zip(self.watched, self.split(joined_grad)))
        pieces.update({i: zeros(shape, dtype=dtype, device=device) for i, (shape, dtype, device) in
                       self.constants.items()})
        grad_input = self.call_hooks(tuple(pieces.get(i) for i in range(self.n_args)))
        grads = [grad_input[i] for i in self.watched]
        if all(g is pieces[i] for g, i in zip(grads, self.watched)):
            return None  # unchanged
        blank = zeros_like(joined_grad)  # a replacement of None: zeros (PyTorch sends no gradient at all)
        return cat([(blank[:math.prod(shape)] if g is None else g).reshape(-1) for g, shape in zip(grads, self.shapes)])

    def call_hooks(self, grad_input):
        for hook in list(self.module._backward_hooks.values()):
            replaced = hook(self.module, grad_input, self.grad_output)
            if replaced is not None:
                grad_input = tuple(replaced) if isinstance(replaced, (tuple, list)) else (replaced,)
                if len(grad_input) != self.n_args:
                    raise RuntimeError(f"Backward hook returned an invalid number of grad_input, got "
                                       f"{len(grad_input)}, but expected {self.n_args}")
        return grad_input


def _indent(text, spaces):
    """Indent every line but the first (the first follows "(name): " on its parent's line)."""
    return text.replace("\n", "\n" + " " * spaces)


def _as_array(value):
    """A state_dict value as an array: Tensors give their array, CuPy arrays stay, anything else via np.asarray."""
    if isinstance(value, Tensor):
        return value.array
    if is_cupy_array(value):
        return value
    return np.asarray(value)
