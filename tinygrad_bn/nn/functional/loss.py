"""Loss functions, with PyTorch's arguments and reductions ("mean", "sum", "none")."""
from ...autograd import Function
from ...backend import get_array_module
from ...tensor import Tensor, arange

REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def cross_entropy(input, target, reduction="mean", label_smoothing=0.0):
    """Cross-entropy of logits (N, C) against class indices (N,) or class probabilities (N, C).

    loss_n = -(1 - s) * log p[n, target_n] - s * mean_c log p[n, c],   p = softmax(input), s = label_smoothing.
    log_softmax is computed stably (shifted by the max logit), so huge logits give finite losses.
    """
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    if input.ndim != 2:
        raise ValueError(f"cross_entropy: expected logits of shape (N, C), got {input.shape}")
    N, C = input.shape
    log_p = input.log_softmax(dim=1)
    if target.ndim == 2:  # class probabilities
        if target.shape != input.shape:
            raise ValueError(f"cross_entropy: probability target shape {target.shape} != input shape {input.shape}")
        target = target * (1 - label_smoothing) + label_smoothing / C
        return _reduce(-(log_p * target).sum(dim=1), reduction)
    if target.shape != (N,):
        raise ValueError(f"cross_entropy: expected targets of shape ({N},) for input {input.shape}, got {target.shape}")
    if target.dtype.kind not in "iu":
        raise ValueError(f"cross_entropy: class-index targets must be integers, got dtype {target.dtype}")
    labels = target.array
    if N and (int(labels.min()) < 0 or int(labels.max()) >= C):
        raise ValueError(f"cross_entropy: targets must be in [0, {C - 1}], got values from {int(labels.min())} to "
                         f"{int(labels.max())}")
    nll = -log_p[arange(N, device=input.device), target]
    if label_smoothing:
        nll = (1 - label_smoothing) * nll - label_smoothing * log_p.mean(dim=1)
    return _reduce(nll, reduction)


class BCEWithLogits(Function):
    def forward(self, x, t, pos_weight=None):
        xp = get_array_module(x)
        # log(1 + exp(-|x|)) never overflows; max(-x, 0) + that = log(1 + exp(-x)) = -log(sigmoid(x))
        log_sigmoid_neg = xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(-x, 0)
        weight = 1 if pos_weight is None else 1 + (pos_weight - 1) * t
        self.save_for_backward(x, t, weight)
        return (1 - t) * x + weight * log_sigmoid_neg

    def backward(self, g):
        """dx = g * ((1 - t) - w * sigmoid(-x)),  w = 1 + (pos_weight - 1) * t   (w = 1: dx = g * (sigmoid(x) - t))"""
        x, t, weight = self.saved
        xp = get_array_module(x)
        sigmoid_neg = 0.5 * (1 - xp.tanh(0.5 * x))
        return g * ((1 - t) - weight * sigmoid_neg), None


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """-[w_pos * t * log sigmoid(x) + (1 - t) * log(1 - sigmoid(x))], computed from logits without overflow."""
    _check_reduction(reduction)
    target = target if isinstance(target, Tensor) else Tensor(target, dtype=input.dtype, device=input.device)
    if target.shape != input.shape:
        raise ValueError(f"binary_cross_entropy_with_logits: target shape {target.shape} != input shape {input.shape}")
    pos = pos_weight.array if isinstance(pos_weight, Tensor) else pos_weight
    loss = BCEWithLogits.apply(input, target.detach(), pos_weight=pos)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def mse_loss(input, target, reduction="mean"):
    """(input - target)^2, reduced."""
    _check_reduction(reduction)
    if input.shape != target.shape:
        raise ValueError(f"mse_loss: input shape {input.shape} != target shape {target.shape}")
    diff = input - target
    return _reduce(diff * diff, reduction)
