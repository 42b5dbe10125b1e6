"""Containers: modules that hold other modules or parameters. Sequential calls its modules in order; ModuleList and
ModuleDict only register them (so that parameters(), state_dict() and to() find them) and leave the calling to their
owner's forward; ParameterList and ParameterDict do the same for parameters."""
from collections import OrderedDict

from ..tensors import Tensor
from .module import Module, Parameter


class _NumberedModules(Module):
    """What Sequential and ModuleList share: children named "0", "1", ... in order, counted and iterated."""

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(list(self._modules.values()))

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def __setitem__(self, index, module):
        """model[i] = module replaces the i-th child; it keeps its name and place (model[-1] = nn.Linear(...))."""
        key = list(self._modules)[index]
        self.add_module(key, module)


class Sequential(_NumberedModules):
    """Modules applied one after another: Sequential(a, b, c)(x) == c(b(a(x))). Children are named "0", "1", ...

    Also accepts one OrderedDict of name -> module, to choose the names.
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for index, module in enumerate(modules):
                self.add_module(str(index), module)

    def forward(self, x):
        for module in self:
            x = module(x)
        return x

    def __getitem__(self, index):
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        return items[index][1]


class ModuleList(_NumberedModules):
    """A list of modules, registered as children "0", "1", ... (so their parameters are found); no forward of its
    own: the owner decides how to call them."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ModuleList(list(self._modules.values())[index])
        return list(self._modules.values())[index]

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self

    def insert(self, index, module):
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(modules):
            self.add_module(str(i), m)


class ModuleDict(Module):
    """A dict of modules, registered as children under their keys (in insertion order)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def update(self, modules):
        for key, module in (modules.items() if hasattr(modules, "items") else modules):
            self[key] = module


# ----------------------------------------------------------------------------------------------------------------
# Parameter containers: a list or dict whose Tensors are registered parameters, named "0", "1", ... or by key, so
# that state_dict() has PyTorch's keys ("weights.0", "scales.encoder") and optimizers find them.
# ----------------------------------------------------------------------------------------------------------------
def _as_parameter(value):
    """A Tensor becomes a Parameter (sharing its memory, as PyTorch's does); anything else is kept as it is."""
    if isinstance(value, Tensor) and not isinstance(value, Parameter):
        return Parameter(value)
    return value


def _store(container, name, value):
    """container.name = value: a Tensor is registered as a parameter (a replaced one keeps its place in state_dict),
    anything else is a plain attribute, as PyTorch's containers keep them."""
    value = _as_parameter(value)
    if isinstance(value, Parameter):
        container.__dict__.pop(name, None)  # a plain object there before: register_parameter takes its name
        container.register_parameter(name, value)
    else:
        container._parameters.pop(name, None)
        object.__setattr__(container, name, value)


def _describe(value):
    """One line of a ParameterList's or ParameterDict's repr: '[float32 of size 3x4]', as PyTorch's shows it."""
    if not isinstance(value, Tensor):
        return f"Object of type: {type(value).__name__}"
    kind = "Parameter" if isinstance(value, Parameter) else "Tensor"
    device = f" ({value.device})" if value.device != "cpu" else ""
    return f"{kind} containing: [{value.dtype} of size {'x'.join(str(n) for n in value.shape)}{device}]"


class ParameterList(Module):
    """A list of parameters, registered as "0", "1", ... (a plain Tensor is turned into a Parameter; other objects
    are kept but not registered, as in PyTorch)."""

    def __init__(self, values=None):
        super().__init__()
        object.__setattr__(self, "_size", 0)
        if values is not None:
            self.extend(values)

    def _index(self, index):
        """index as a non-negative position, or IndexError (negative indices count from the end)."""
        position = index + self._size if index < 0 else index
        if not 0 <= position < self._size:
            raise IndexError(f"index {index} is out of range for a ParameterList of length {self._size}")
        return position

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ParameterList([self[i] for i in range(self._size)[index]])
        return getattr(self, str(self._index(index)))

    def __setitem__(self, index, value):
        _store(self, str(self._index(index)), value)

    def __len__(self):
        return self._size

    def __iter__(self):
        return iter([self[i] for i in range(self._size)])

    def __iadd__(self, values):
        return self.extend(values)

    def append(self, value):
        _store(self, str(self._size), value)
        object.__setattr__(self, "_size", self._size + 1)
        return self

    def extend(self, values):
        for value in values:
            self.append(value)
        return self

    def extra_repr(self):
        return "\n".join(f"  ({i}): {_describe(value)}" for i, value in enumerate(self))


class ParameterDict(Module):
    """A dict of parameters, registered under their keys in insertion order (a plain Tensor is turned into a
    Parameter; other objects are kept but not registered, as in PyTorch). Keys are strings without dots."""

    def __init__(self, parameters=None):
        super().__init__()
        object.__setattr__(self, "_keys", {})  # the keys in insertion order (a dict used as an ordered set)
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key):
        if key not in self._keys:
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key, value):
        if not isinstance(key, str):
            raise TypeError(f"ParameterDict keys must be strings, got {type(key).__name__}")
        _store(self, key, value)  # raises KeyError for a key with a dot, or one that is a method's name
        self._keys[key] = None

    def __delitem__(self, key):
        del self._keys[key]
        delattr(self, key)

    def __len__(self):
        return len(self._keys)

    def __iter__(self):
        return iter(list(self._keys))

    def __contains__(self, key):
        return key in self._keys

    def keys(self):
        return list(self._keys)

    def values(self):
        return [self[key] for key in self._keys]

    def items(self):
        return [(key, self[key]) for key in self._keys]

    def get(self, key, default=None):
        return self[key] if key in self else default

    def pop(self, key):
        value = self[key]
        del self[key]
        return value

    def clear(self):
        for key in list(self._keys):
            del self[key]

    def update(self, parameters):
        """Add or replace entries from a dict (or ParameterDict) or from an iterable of (key, value) pairs."""
        for key, value in (parameters.items() if hasattr(parameters, "items") else parameters):
            self[key] = value

    def extra_repr(self):
        return "\n".join(f"  ({key}): {_describe(value)}" for key, value in self.items())
