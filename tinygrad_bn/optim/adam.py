"""Adam and AdamW (PyTorch's): per-coordinate step sizes from running averages of the gradient and its square.

The two differ only in weight decay. Adam adds lambda * p to the gradient (L2 regularisation), so the decay is
then divided by sqrt(v) like the rest of the gradient and is weak exactly where gradients are large. AdamW
(Loshchilov & Hutter, "Decoupled Weight Decay Regularization") shrinks p directly, by the same fraction lr * lambda
for every coordinate. One update rule serves both, switched by `decoupled_weight_decay`, as in PyTorch.
"""
import math

from ..backend import get_array_module
from .optimizer import Optimizer


class Adam(Optimizer):
    """`Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, *, decoupled_weight_decay=False)`."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, *,
                 decoupled_weight_decay=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One update of each parameter p with gradient g, at step t = 1, 2, ... of that parameter:

            p <- p * (1 - lr * lambda)                     if decoupled_weight_decay (AdamW)
            g <- g + lambda * p                            otherwise (Adam's L2 weight decay)
            m <- beta1 * m + (1 - beta1) * g               running mean of gradients        (m starts at 0)
            v <- beta2 * v + (1 - beta2) * g^2             running mean of squared gradients (v starts at 0)
            p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

        m and v start at zero, so early on they underestimate the true averages by the factors 1 - beta^t; dividing
        by those factors ("bias correction") removes that, and matters only in the first few hundred steps.
        """
        loss = closure() if closure is not None else None
        for group, param, grad, state in self._parameters_with_grad():
            # float() so a hyperparameter loaded as a NumPy float64 scalar can't promote float32 arrays to float64
            lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
            beta1, beta2 = float(group["betas"][0]), float(group["betas"][1])
            if not state:
                xp = get_array_module(param)
                state["step"] = 0
                state["exp_avg"] = xp.zeros_like(param)  # m
                state["exp_avg_sq"] = xp.zeros_like(param)  # v
            state["step"] += 1
            t = state["step"]

            if weight_decay != 0:
                if group["decoupled_weight_decay"]:
                    param *= 1 - lr * weight_decay
                else:
                    grad = grad + weight_decay * param  # a new array: p.grad itself is left untouched

            m, v = state["exp_avg"], state["exp_avg_sq"]
            m *= beta1
            m += (1 - beta1) * grad
            v *= beta2
            v += (1 - beta2) * grad * grad

            bias_correction1 = 1 - beta1 ** t
            bias_correction2 = 1 - beta2 ** t
            denominator = get_array_module(param).sqrt(v) / math.sqrt(bias_correction2) + eps
            param -= (lr / bias_correction1) * m / denominator
        return loss


class AdamW(Adam):
    """`AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2)`: Adam with decoupled weight decay.

    Note the default weight_decay is 1e-2 here (PyTorch's), 0 for Adam.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr, betas, eps, weight_decay, decoupled_weight_decay=True)
