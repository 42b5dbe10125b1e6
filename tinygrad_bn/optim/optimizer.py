"""Optimizer: what every update rule shares (parameter groups, per-parameter state, zero_grad, state_dict).

An optimizer holds a list of *parameter groups*, PyTorch's layout: dicts with the key "params" (a list of Tensors)
and the hyperparameters for those Tensors ("lr", "momentum", ...). Training loops and learning-rate schedulers read
and write `optimizer.param_groups[i]["lr"]` between steps, and `step()` reads it again every time.

A subclass only writes `step()`: for each parameter that received a gradient, update the parameter's array in place
from the gradient's array and from the parameter's state (momentum buffers, moment estimates). Updates work on raw
NumPy/CuPy arrays, never on Tensors, so they record no autograd graph, and they are in place, so every module that
holds the parameter sees the new values.
"""
import warnings

import numpy as np

from ..backend import get_array_module, is_cupy_array, to_numpy
from ..tensors import Tensor


class Optimizer:
    """Base class. `params` is an iterable of Tensors, or of dicts {"params": [...], "lr": ..., ...} (one per group)."""

    def __init__(self, params, defaults):
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            "but got a Tensor (wrap it in a list)")
        self.defaults = dict(defaults)
        self.param_groups = []
        # Per-parameter state, keyed by id(p): Tensors overload `==` elementwise, so they are not used as dict keys.
        # The ids stay valid because param_groups keeps every parameter alive.
        self.state = {}
        groups = list(params)
        if len(groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group):
        """Add a group of Tensors; hyperparameters it does not set come from the optimizer's defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, set):  # state_dict numbers parameters by position, so their order must be fixed
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering "
                            "of tensors in sets will change between runs. Please use a list instead.")
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for i, p in enumerate(group["params"]):
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not p.is_leaf:  # step() would update a computed copy, never the tensor it was computed from
                raise ValueError(f"can't optimize a non-leaf Tensor: params[{i}] (shape {tuple(p.shape)}) was "
                                 f"computed by {type(p.grad_fn).__name__}; pass the tensor it was computed from")
        if len({id(p) for p in group["params"]}) != len(group["params"]):  # PyTorch warns, and so steps them twice
            warnings.warn("optimizer contains a parameter group with duplicate parameters; each step updates such "
                          "a parameter once per appearance (PyTorch warns the same, and will make it an error)",
                          UserWarning, stacklevel=3)
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        already_optimized = {id(p) for other in self.param_groups for p in other["params"]}
        if any(id(p) in already_optimized for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def _parameters_with_grad(self):
        """(group, parameter array, gradient array, state dict) for every parameter whose grad is not None.

        A parameter without a gradient (unused in this forward pass, or frozen) is skipped, and its state is left
        as it was, as in PyTorch.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                yield group, p.array, p.grad.array, self.state.setdefault(id(p), {})
                # The caller has now updated p.array in place: a graph that saved p must not backward through it.
                p._version.value += 1

    def step(self, closure=None):
        """Update every parameter that has a gradient. `closure`, if given, recomputes and returns the loss."""
        raise NotImplementedError

    def zero_grad(self, set_to_none=True):
        """Forget the gradients: set p.grad to None (PyTorch's default), or fill it with zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.array.fill(0)

    def state_dict(self):
        """PyTorch's layout: {"state": {index: {name: value}}, "param_groups": [{hyperparameters, "params": [index]}]}.

        Parameters are numbered 0, 1, 2, ... across the groups in order (Tensors can't be saved to a file, their
        positions can). Arrays are host NumPy copies: the dict is a snapshot that later steps don't change, and
        that can be saved with `tg.save` or NumPy whichever device the parameters are on.
        """
        index_of = {}
        param_groups = []
        for group in self.param_groups:
            saved_group = {name: value for name, value in group.items() if name != "params"}
            saved_group["params"] = [index_of.setdefault(id(p), len(index_of)) for p in group["params"]]
            param_groups.append(saved_group)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if id(p) in self.state:
                    state[index_of[id(p)]] = {name: _to_host(value) for name, value in self.state[id(p)].items()}
        return {"state": state, "param_groups": param_groups}

    def load_state_dict(self, state_dict):
        """Restore hyperparameters and per-parameter state from `state_dict()`'s output.

        This optimizer must be built over parameters of the same shapes, in the same groups and order. Saved
        arrays are copied onto each parameter's device, in its dtype (as PyTorch casts floating-point state).
        """
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        for group, saved_group in zip(self.param_groups, saved_groups):
            if len(group["params"]) != len(saved_group["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                                 "optimizer's group")
        param_at = {}
        for group, saved_group in zip(self.param_groups, saved_groups):
            for index, p in zip(saved_group["params"], group["params"]):
                param_at[int(index)] = p
        self.state = {}
        for index, saved_state in state_dict["state"].items():
            p = param_at[int(index)]
            self.state[id(p)] = {name: _to_device_of(p.array, name, value) for name, value in saved_state.items()}
        self.param_groups = [{**saved_group, "params": group["params"]}
                             for group, saved_group in zip(self.param_groups, saved_groups)]


def _to_host(value):
    """A state value as saved: arrays become host NumPy copies; Python numbers (the step count) stay as they are."""
    if isinstance(value, np.ndarray) or is_cupy_array(value):
        return np.array(to_numpy(value))
    return value


def _to_device_of(param_array, name, value):
    """A saved state value made ready for `param_array`: "step" is a count, every other array follows the parameter."""
    if name == "step":
        return int(value)
    if isinstance(value, np.ndarray) or is_cupy_array(value):
        return get_array_module(param_array).array(to_numpy(value), dtype=param_array.dtype)
    return value
