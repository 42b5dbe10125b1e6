"""Adagrad (PyTorch's): each coordinate's step shrinks with the sum of all its squared gradients so far."""
from ..backend import get_array_module
from .optimizer import Optimizer


class Adagrad(Optimizer):
    """`Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10)`."""

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = {"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "eps": eps}
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One update of each parameter p with gradient g, at step t = 1, 2, ... (s starts at
        initial_accumulator_value):

            g <- g + lambda * p                              (weight decay)
            s <- s + g^2                                     sum of squared gradients
            p <- p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)
        """
        loss = closure() if closure is not None else None
        for group, param, grad, state in self._parameters_with_grad():
            lr, lr_decay, eps = float(group["lr"]), float(group["lr_decay"]), float(group["eps"])
            weight_decay = float(group["weight_decay"])
            xp = get_array_module(param)
            if not state:
                state["step"] = 0
                state["sum"] = xp.full_like(param, float(group["initial_accumulator_value"]))
            state["step"] += 1
            if weight_decay != 0:
                grad = grad + weight_decay * param  # a new array: p.grad itself is left untouched
            decayed_lr = lr / (1 + (state["step"] - 1) * lr_decay)
            state["sum"] += grad * grad
            param -= decayed_lr * grad / (xp.sqrt(state["sum"]) + eps)
        return loss
