"""SGD: stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay (PyTorch's)."""
from .optimizer import Optimizer


class SGD(Optimizer):
    """`SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False)`, PyTorch's signature.

    Momentum keeps a running sum of past gradients (the "velocity" b), so steps keep going in directions where
    gradients agree and cancel where they oscillate. Nesterov momentum looks one momentum step ahead.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay,
                    "nesterov": nesterov}
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One update of each parameter p with gradient g (mu = momentum, tau = dampening, lambda = weight_decay):

            g <- g + lambda * p                                   (L2 weight decay folded into the gradient)
            b <- g on the first step, then b <- mu * b + (1 - tau) * g          (only when mu != 0)
            g <- g + mu * b  if nesterov,  else  g <- b
            p <- p - lr * g
        """
        loss = closure() if closure is not None else None
        for group, param, grad, state in self._parameters_with_grad():
            # float() so a hyperparameter loaded as a NumPy float64 scalar can't promote float32 arrays to float64
            lr, momentum, dampening = float(group["lr"]), float(group["momentum"]), float(group["dampening"])
            weight_decay = float(group["weight_decay"])
            if weight_decay != 0:
                grad = grad + weight_decay * param  # a new array: p.grad itself is left untouched
            if momentum != 0:
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = grad.copy()  # no dampening on the first step: b starts at g
                else:
                    buffer = state["momentum_buffer"]
                    buffer *= momentum
                    buffer += (1 - dampening) * grad
                buffer = state["momentum_buffer"]
                grad = grad + momentum * buffer if group["nesterov"] else buffer
            param -= lr * grad
        return loss
