"""RMSprop (PyTorch's): divide each gradient by a running root mean square of recent gradients."""
from ..backend import get_array_module
from .optimizer import Optimizer


class RMSprop(Optimizer):
    """`RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False)`."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay, "momentum": momentum,
                    "centered": centered}
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One update of each parameter p with gradient g (v, gbar and b start at 0):

            g <- g + lambda * p                              (weight decay)
            v <- alpha * v + (1 - alpha) * g^2               running mean of squared gradients
            gbar <- alpha * gbar + (1 - alpha) * g           (centered only: running mean of gradients)
            d = sqrt(v - gbar^2) + eps  if centered,  else  sqrt(v) + eps
            b <- mu * b + g / d;  p <- p - lr * b            if momentum mu > 0
            p <- p - lr * g / d                              otherwise
        """
        loss = closure() if closure is not None else None
        for group, param, grad, state in self._parameters_with_grad():
            lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
            weight_decay, momentum = float(group["weight_decay"]), float(group["momentum"])
            xp = get_array_module(param)
            if not state:
                state["step"] = 0
                state["square_avg"] = xp.zeros_like(param)
                if momentum > 0:
                    state["momentum_buffer"] = xp.zeros_like(param)
                if group["centered"]:
                    state["grad_avg"] = xp.zeros_like(param)
            state["step"] += 1
            if weight_decay != 0:
                grad = grad + weight_decay * param  # a new array: p.grad itself is left untouched
            square_avg = state["square_avg"]
            square_avg *= alpha
            square_avg += (1 - alpha) * grad * grad
            if group["centered"]:
                grad_avg = state["grad_avg"]
                grad_avg *= alpha
                grad_avg += (1 - alpha) * grad
                denominator = xp.sqrt(square_avg - grad_avg * grad_avg) + eps
            else:
                denominator = xp.sqrt(square_avg) + eps
            if momentum > 0:
                buffer = state["momentum_buffer"]
                buffer *= momentum
                buffer += grad / denominator
                param -= lr * buffer
            else:
                param -= lr * grad / denominator
        return loss
