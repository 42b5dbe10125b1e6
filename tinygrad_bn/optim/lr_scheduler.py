"""Learning-rate schedulers (PyTorch's): set each param_groups[i]["lr"] from a formula of the step count t.

Usage is PyTorch's: build the scheduler after the optimizer (that already sets the lr for t = 0), then call
`scheduler.step()` once after each `optimizer.step()`: per epoch for StepLR and CosineAnnealingLR as usually
configured, per batch for OneCycleLR.

Each schedule here is a closed-form function of t and of the group's starting lr ("initial_lr"). PyTorch computes
StepLR and CosineAnnealingLR recursively from the current lr instead (so that schedulers can be chained); the values
are the same up to rounding (its documentation states these closed forms), but an lr changed by hand between steps
is overwritten here, not followed.
"""
import math

from .optimizer import Optimizer


class LRScheduler:
    """Base class: `get_lr()` gives every group's lr at step t = `self.last_epoch`; `step()` advances t, applies it."""

    def __init__(self, optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])  # kept in the group, so the optimizer's state_dict has it
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = -1  # PyTorch's name for t; it counts scheduler steps, per epoch or per batch
        self.step()  # t = 0: the starting lr

    def get_lr(self):
        raise NotImplementedError

    def step(self):
        """t <- t + 1, then set every group's lr to the schedule's value at t."""
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self):
        """The lr of every group as set by the latest step()."""
        return self._last_lr

    def state_dict(self):
        """Every attribute except the optimizer (which saves its own state), as PyTorch does."""
        return {name: value for name, value in self.__dict__.items() if name != "optimizer"}

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)


class StepLR(LRScheduler):
    """lr = initial_lr * gamma ** (t // step_size): multiply the lr by gamma every step_size steps."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        if not step_size > 0:  # t // 0 divides by zero; a negative step_size would raise the lr instead
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size!r}")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer)

    def get_lr(self):
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2.

    Half a cosine wave from initial_lr at t = 0 down to eta_min at t = T_max: it decays slowly at first, fastest in
    the middle, and flattens out at the end. Past T_max it rises again (the formula is periodic), like PyTorch's.
    """

    def __init__(self, optimizer, T_max, eta_min=0.0):
        if not T_max > 0:  # t / T_max: PyTorch divides by zero at T_max=0
            raise ValueError(f"CosineAnnealingLR: T_max must be a positive number of steps, got {T_max!r}")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer)

    def get_lr(self):
        cosine = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (base_lr - self.eta_min) * cosine for base_lr in self.base_lrs]


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin, "Super-Convergence"): warm the lr up to max_lr, then anneal it far below.

    With N = total_steps (or epochs * steps_per_epoch), call step() after every batch. Two phases:

        t = 0 .. pct_start*N - 1:     lr  initial_lr -> max_lr      momentum  max_momentum -> base_momentum
        t = ... .. N - 1:             lr  max_lr -> min_lr          momentum  base_momentum -> max_momentum

    with initial_lr = max_lr / div_factor and min_lr = initial_lr / final_div_factor, each move a half cosine
    (anneal_strategy='cos') or a straight line ('linear'). three_phase=True instead goes back down to initial_lr
    symmetrically, then spends the remaining steps going down to min_lr. Momentum moves opposite to the lr (a large
    step with large momentum is unstable); "momentum" is SGD's momentum, or beta1 of Adam's betas.
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None, pct_start=0.3,
                 anneal_strategy="cos", div_factor=25.0, final_div_factor=1e4, three_phase=False,
                 cycle_momentum=True, base_momentum=0.85, max_momentum=0.95):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        if total_steps is not None:
            if not isinstance(total_steps, int) or total_steps <= 0:
                raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            if not isinstance(epochs, int) or epochs <= 0:
                raise ValueError(f"Expected positive integer epochs, but got {epochs}")
            if not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
                raise ValueError(f"Expected positive integer steps_per_epoch, but got {steps_per_epoch}")
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        for name, factor in (("div_factor", div_factor), ("final_div_factor", final_div_factor)):
            if not factor > 0:  # the lrs are max_lr / div_factor and that / final_div_factor
                raise ValueError(f"OneCycleLR: {name} must be positive, got {factor!r}")
        self.anneal_strategy = anneal_strategy
        self._schedule_phases = _one_cycle_phases(self.total_steps, pct_start, three_phase)

        # Each phase names its endpoints by param-group keys, so every group anneals between its own values.
        for group, group_max_lr in zip(optimizer.param_groups, _one_per_group("max_lr", optimizer, max_lr)):
            group["initial_lr"] = group_max_lr / div_factor
            group["max_lr"] = group_max_lr
            group["min_lr"] = group["initial_lr"] / final_div_factor

        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError("optimizer must support momentum or beta1 with `cycle_momentum` option enabled")
            self.use_beta1 = "betas" in optimizer.defaults
            max_momenta = _one_per_group("max_momentum", optimizer, max_momentum)
            base_momenta = _one_per_group("base_momentum", optimizer, base_momentum)
            for group, group_max_momentum, group_base_momentum in zip(optimizer.param_groups, max_momenta,
                                                                      base_momenta):
                self._set_momentum(group, group_max_momentum)
                group["max_momentum"] = group_max_momentum
                group["base_momentum"] = group_base_momentum
        super().__init__(optimizer)

    def get_lr(self):
        """The lr at step t, interpolated within t's phase; sets each group's momentum as well (as PyTorch does)."""
        t = self.last_epoch
        if t > self.total_steps:
            raise ValueError(f"Tried to step {t} times. The specified number of total steps is {self.total_steps}")
        start_step = 0.0
        for i, phase in enumerate(self._schedule_phases):
            if t <= phase["end_step"] or i == len(self._schedule_phases) - 1:
                break
            start_step = phase["end_step"]
        if phase["end_step"] == start_step:  # PyTorch divides by zero here
            raise ValueError(f"OneCycleLR: with total_steps={self.total_steps}, phase {i + 1} of the schedule has "
                             f"zero steps (it starts and ends at step {start_step}), so step {t} has no lr; choose "
                             f"another pct_start (pct_start * total_steps = 1, or pct_start = 1, makes this)")
        pct = (t - start_step) / (phase["end_step"] - start_step)  # how far through the phase, 0 -> 1
        lrs = []
        for group in self.optimizer.param_groups:
            lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
            if self.cycle_momentum:
                self._set_momentum(group, self._anneal(group[phase["start_momentum"]], group[phase["end_momentum"]],
                                                       pct))
        return lrs

    def _anneal(self, start, end, pct):
        """From `start` at pct = 0 to `end` at pct = 1: half a cosine wave, or a straight line."""
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _set_momentum(self, group, momentum):
        if self.use_beta1:
            group["betas"] = (momentum, *group["betas"][1:])  # Adam's beta1 plays the role of momentum
        else:
            group["momentum"] = momentum


def _one_cycle_phases(total_steps, pct_start, three_phase):
    """The phases of 1cycle: the last step of each, and the param-group keys of its start and end values."""
    warmup_end = float(pct_start * total_steps) - 1
    if three_phase:
        return [
            {"end_step": warmup_end, "start_lr": "initial_lr", "end_lr": "max_lr",
             "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
            {"end_step": float(2 * pct_start * total_steps) - 2, "start_lr": "max_lr", "end_lr": "initial_lr",
             "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
            {"end_step": total_steps - 1, "start_lr": "initial_lr", "end_lr": "min_lr",
             "start_momentum": "max_momentum", "end_momentum": "max_momentum"},
        ]
    return [
        {"end_step": warmup_end, "start_lr": "initial_lr", "end_lr": "max_lr",
         "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
        {"end_step": total_steps - 1, "start_lr": "max_lr", "end_lr": "min_lr",
         "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
    ]


def _one_per_group(name, optimizer, value):
    """`value` for every param group: a list or tuple gives one value per group, a number is shared by all."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(f"expected {len(optimizer.param_groups)} values for {name}, got {len(value)}")
        return list(value)
    return [value] * len(optimizer.param_groups)
