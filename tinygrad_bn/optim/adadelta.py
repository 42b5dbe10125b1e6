"""Adadelta (PyTorch's): steps sized by the ratio of running RMS of past updates to running RMS of gradients, so
the update has the units of the parameter and lr=1.0 is the natural default."""
from ..backend import get_array_module
from .optimizer import Optimizer


class Adadelta(Optimizer):
    """`Adadelta(params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0)`."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        super().__init__(params, {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay})

    def step(self, closure=None):
        """One update of each parameter p with gradient g (v and u start at 0):

            g <- g + lambda * p                              (weight decay)
            v <- rho * v + (1 - rho) * g^2                   running mean of squared gradients
            delta = sqrt(u + eps) / sqrt(v + eps) * g        the update, in the parameter's units
            u <- rho * u + (1 - rho) * delta^2               running mean of squared updates
            p <- p - lr * delta
        """
        loss = closure() if closure is not None else None
        for group, param, grad, state in self._parameters_with_grad():
            lr, rho, eps = float(group["lr"]), float(group["rho"]), float(group["eps"])
            weight_decay = float(group["weight_decay"])
            xp = get_array_module(param)
            if not state:
                state["step"] = 0
                state["square_avg"] = xp.zeros_like(param)
                state["acc_delta"] = xp.zeros_like(param)
            state["step"] += 1
            if weight_decay != 0:
                grad = grad + weight_decay * param  # a new array: p.grad itself is left untouched
            square_avg, acc_delta = state["square_avg"], state["acc_delta"]
            square_avg *= rho
            square_avg += (1 - rho) * grad * grad
            delta = xp.sqrt(acc_delta + eps) / xp.sqrt(square_avg + eps) * grad
            acc_delta *= rho
            acc_delta += (1 - rho) * delta * delta
            param -= lr * delta
        return loss
