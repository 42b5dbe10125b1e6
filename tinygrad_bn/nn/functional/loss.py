"""Loss functions, with PyTorch's arguments and reductions ("mean", "sum", "none")."""
import math
import numbers
import warnings

import numpy as np

from ...autograd import Function
from ...backend import get_array_module
from ...ops import stable_sigmoid
from ...tensors import Tensor, arange, ones_like
from .distance import clamped_value

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


def _legacy_reduction(size_average, reduce, reduction):
    """PyTorch's deprecated size_average/reduce flags, when given, decide the reduction (as torch does)."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return "none" if not reduce else ("mean" if size_average else "sum")


def _rows_of_classes(input, target, name):
    """(M, C) rows of class scores and (M,) labels from PyTorch's layouts, and the shape of an unreduced loss:
    (N, C) with (N,); (N, C, d1, ...) with (N, d1, ...) (class dim moved last, then flattened); (C,) with ()."""
    if input.ndim == 1 and target.ndim == 0:  # one unbatched sample
        return input.reshape(1, -1), target.reshape(1), ()
    if input.ndim < 2:
        raise ValueError(f"{name}: expected input of shape (N, C) or (N, C, d1, ...), or (C,) with a 0-d target; "
                         f"got input {input.shape} and target {target.shape}")
    N, C = input.shape[:2]
    expected = (N,) + input.shape[2:]
    if target.shape != expected:
        raise ValueError(f"{name}: expected targets of shape {expected} for input of shape {input.shape}, got "
                         f"{target.shape}")
    if input.ndim > 2:
        input = input.permute((0,) + tuple(range(2, input.ndim)) + (1,)).reshape(-1, C)
        target = target.reshape(-1)
    return input, target, expected


def _picked_log_probs(log_p, target, weight, ignore_index, name):
    """-w[t_n] * log_p[n, t_n] for each row n (0 where t_n == ignore_index), and the weights w[t_n] (0 where
    ignored), whose sum divides the total for reduction="mean" (PyTorch's weighted mean)."""
    if target.dtype.kind not in "iu":
        raise ValueError(f"{name}: class-index targets must be integers, got dtype {target.dtype}")
    M, C = log_p.shape
    labels = target.array
    xp = get_array_module(labels)
    valid = labels != ignore_index
    if M and valid.any():
        low, high = int(labels[valid].min()), int(labels[valid].max())
        if low < 0 or high >= C:
            raise ValueError(f"{name}: targets must be in [0, {C - 1}] (or ignore_index={ignore_index}), got values "
                             f"from {low} to {high}")
    safe = xp.where(valid, labels, 0)  # any class will do for an ignored row: its weight is 0
    w = valid.astype(log_p.dtype)
    if weight is not None:
        w = w * weight.array.astype(log_p.dtype)[safe]
    picked = -log_p[arange(M, device=log_p.device), Tensor._wrap(safe)]
    return picked * Tensor._wrap(w), Tensor._wrap(w)


def _check_weight(weight, C, name):
    if weight is not None and weight.shape != (C,):
        raise ValueError(f"{name}: weight should be a 1D tensor of one value per class ({C}), got shape "
                         f"{weight.shape}")


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood of log-probabilities `input` (N, C) or (N, C, d1, ...) at class indices `target`.

    loss_n = -weight[t_n] * input[n, t_n] (0 where t_n == ignore_index); "mean" divides the sum by sum_n weight[t_n]
    over the rows not ignored (PyTorch's weighted mean), "sum" adds, "none" keeps target's shape.
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    rows, labels, loss_shape = _rows_of_classes(input, target, "nll_loss")
    _check_weight(weight, rows.shape[1], "nll_loss")
    losses, w = _picked_log_probs(rows, labels, weight, ignore_index, "nll_loss")
    if reduction == "none":
        return losses.reshape(loss_shape)
    return losses.sum() / w.sum() if reduction == "mean" else losses.sum()


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    """Cross-entropy of logits against class indices or class probabilities, PyTorch's layouts and arguments.

    Shapes: input (N, C) with target (N,), (N, C, d1, ...) with (N, d1, ...), (C,) with (); or probabilities of
    input's shape. With class indices t, p = softmax(input) over C, s = label_smoothing, w = weight (1 if None):

        loss_n = (1 - s) * (-w[t_n] log p[n, t_n]) + (s / C) * sum_c (-w[c] log p[n, c])     (0 if t_n ignored)

    and "mean" divides the sum by sum_n w[t_n] over the rows not ignored, as PyTorch does. With probabilities q:
    loss_n = -sum_c w[c] q'[n, c] log p[n, c], q' = (1 - s) q + s / C, and "mean" divides by the number of rows.
    log_softmax is computed stably (shifted by the max logit), so huge logits give finite losses.
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    class_dim = 0 if input.ndim == 1 else 1
    if input.ndim == 0:
        raise ValueError(f"cross_entropy: expected input of shape (N, C) or (N, C, d1, ...), got {input.shape}")
    C = input.shape[class_dim]
    _check_weight(weight, C, "cross_entropy")
    log_p = input.log_softmax(dim=class_dim)

    if target.dtype.kind == "f" and target.shape == input.shape:  # class probabilities
        class_weight = 1 if weight is None else weight.reshape((C,) + (1,) * (input.ndim - class_dim - 1))
        target = target * (1 - label_smoothing) + label_smoothing / C
        return _reduce(-(log_p * target * class_weight).sum(dim=class_dim), reduction)
    if target.dtype.kind == "f" and target.ndim == input.ndim:
        raise ValueError(f"cross_entropy: probability target shape {target.shape} != input shape {input.shape}")

    rows, labels, loss_shape = _rows_of_classes(log_p, target, "cross_entropy")
    losses, w = _picked_log_probs(rows, labels, weight, ignore_index, "cross_entropy")
    if label_smoothing:
        valid = Tensor._wrap((labels.array != ignore_index).astype(rows.dtype))
        smooth = -(rows if weight is None else rows * weight).sum(dim=1) * valid
        losses = (1 - label_smoothing) * losses + (label_smoothing / C) * smooth
    if reduction == "none":
        return losses.reshape(loss_shape)
    return losses.sum() / w.sum() if reduction == "mean" else losses.sum()


class BCEWithLogitsFn(Function):
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
        return g * ((1 - t) - weight * stable_sigmoid(-x)), None


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    """-[w_pos * t * log sigmoid(x) + (1 - t) * log(1 - sigmoid(x))], computed from logits without overflow."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    target = target if isinstance(target, Tensor) else Tensor(target, dtype=input.dtype, device=input.device)
    if target.shape != input.shape:
        raise ValueError(f"binary_cross_entropy_with_logits: target shape {target.shape} != input shape {input.shape}")
    pos = pos_weight.array if isinstance(pos_weight, Tensor) else pos_weight
    loss = BCEWithLogitsFn.apply(input, target.detach(), pos_weight=pos)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _check_same_shape(input, target, name):
    if input.shape != target.shape:
        raise ValueError(f"{name}: input shape {input.shape} != target shape {target.shape} (PyTorch would broadcast "
                         "them with a warning; that is almost always a bug, so it is an error here)")


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """(input - target)^2, reduced."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _check_same_shape(input, target, "mse_loss")
    diff = input - target
    return _reduce(diff * diff, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """|input - target|, reduced (gradient sign(input - target), 0 where they are equal)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _check_same_shape(input, target, "l1_loss")
    return _reduce((input - target).abs(), reduction)


class HuberFn(Function):
    def forward(self, x, t, delta):
        xp = get_array_module(x)
        d = x - t
        self.delta = delta
        self.save_for_backward(d)
        small = xp.abs(d) <= delta
        return xp.where(small, d * d / 2, delta * (xp.abs(d) - x.dtype.type(delta / 2)))

    def backward(self, g):
        """loss = d^2/2 for |d| <= delta, delta (|d| - delta/2) beyond, d = x - t:  gx = g * clip(d, -delta, delta),
        gt = -gx"""
        (d,) = self.saved
        gx = g * get_array_module(d).clip(d, -self.delta, self.delta)
        return gx, -gx


def huber_loss(input, target, reduction="mean", delta=1.0):
    """0.5 d^2 where |d| <= delta, delta * (|d| - 0.5 delta) elsewhere, d = input - target."""
    _check_reduction(reduction)
    _check_same_shape(input, target, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss does not support non-positive values for delta, got {delta}")
    return _reduce(HuberFn.apply(input, target, delta=delta), reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, |d| - 0.5 beta elsewhere: Huber loss with delta = beta, divided by beta
    (beta = 0 is the L1 loss)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _check_same_shape(input, target, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss does not support negative values for beta, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)
    return _reduce(HuberFn.apply(input, target, delta=beta) / beta, reduction)


class BinaryCrossEntropyFn(Function):
    def forward(self, p, t):
        xp = get_array_module(p)
        if p.size and (p.min() < 0 or p.max() > 1):
            raise ValueError("binary_cross_entropy: all elements of input should be between 0 and 1")
        self.save_for_backward(p, t)
        # PyTorch clamps each log at -100, so p = 0 or 1 gives a large but finite loss
        with np.errstate(divide="ignore"):  # log(0) = -inf is expected here, and clamped
            log_p = xp.maximum(xp.log(p), -100)
            log_1mp = xp.maximum(xp.log1p(-p), -100)
        return -(t * log_p + (1 - t) * log_1mp)

    def backward(self, g):
        """gp = g * (p - t) / (p (1 - p)), the denominator kept >= 1e-12 as in PyTorch;
        gt = g * (log(1 - p) - log(p))   (both logs clamped at -100 as in forward)"""
        p, t = self.saved
        xp = get_array_module(p)
        gp = g * (p - t) / xp.maximum(p * (1 - p), p.dtype.type(1e-12))
        gt = None
        if self.needs_grad[1]:
            with np.errstate(divide="ignore"):
                gt = g * (xp.maximum(xp.log1p(-p), -100) - xp.maximum(xp.log(p), -100))
        return gp, gt


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-[t log p + (1 - t) log(1 - p)] for probabilities p = input in [0, 1] (each log clamped at -100)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input size ({input.shape}) "
                         "is deprecated. Please ensure they have the same size.")
    loss = BinaryCrossEntropyFn.apply(input, target)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL(target || model) pointwise, with `input` the model's log-probabilities:
    target * (log(target) - input), or exp(target) * (target - input) when log_target (target given as log-probs);
    0 log 0 = 0. reduction="batchmean" (sum / batch size) is the KL divergence of the math; "mean" divides by every
    element and warns, as PyTorch does."""
    legacy = size_average is not None or reduce is not None
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if reduction not in REDUCTIONS + ("batchmean",):
        raise ValueError(f"reduction must be one of {REDUCTIONS + ('batchmean',)}, got {reduction!r}")
    if reduction == "mean" and not legacy:
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      UserWarning, stacklevel=2)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        positive = target.array > 0
        log_target_values = target.where(positive, 1.0).log()  # log(t) where t > 0; where t = 0, t log t is 0
        loss = target * (log_target_values - input)
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim != 0 else loss.sum()
    return _reduce(loss, reduction)


# ----------------------------------------------------------------------------------------------------------------
# Likelihood losses of counts and of regression with a predicted variance, composed from Tensor ops (the margin and
# embedding losses are in margin_losses.py).
# ----------------------------------------------------------------------------------------------------------------
def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """Negative log-likelihood of counts `target` under Poisson(rate), dropping the constant log(target!):

        log_input=True:  exp(x) - t x          (x is the log-rate)
        log_input=False: x - t log(x + eps)    (x is the rate)

    full=True adds Stirling's approximation of log(t!), t log t - t + log(2 pi t) / 2, where t > 1 (0 elsewhere)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if reduction not in REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    loss = input.exp() - target * input if log_input else input - target * (input + eps).log()
    if full:
        counted = target.array > 1
        t = target.where(counted, 2.0)  # any t > 0 where the term is dropped: its log stays finite, its gradient 0
        stirling = t * t.log() - t + 0.5 * (2 * math.pi * t).log()
        loss = loss + stirling.where(counted, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Negative log-likelihood of `target` under Normal(input, var), dropping the constant unless full:

        loss = (log(max(var, eps)) + (input - target)^2 / max(var, eps)) / 2   (+ log(2 pi) / 2 if full)

    var: input's shape (one variance per element), input's shape less the last dim or with one dim of size 1 (shared
    along it), or a number. As in PyTorch, the clamp at eps changes the value only: var's gradient is unclamped."""
    if isinstance(var, numbers.Number) and not isinstance(var, bool):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = ones_like(input) * var
    elif bool((var.array < 0).any()):
        raise ValueError("var has negative entry/entries")
    if var.shape != input.shape:
        if var.shape == input.shape[:-1]:  # one variance per vector: shared along the last dim
            var = var.unsqueeze(-1)
        elif not (var.ndim == input.ndim and
                  sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1):  # one dim of size 1
            raise ValueError(f"var is of incorrect size: {var.shape} for input of shape {input.shape}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"{reduction} is not valid")
    var = clamped_value(var, eps)
    diff = input - target
    loss = 0.5 * (var.log() + diff * diff / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def one_hot(tensor, num_classes=-1):
    """(..., ) integer class indices -> (..., num_classes) int64 rows with a 1 at each index (num_classes=-1: one
    more than the largest index). A constant: no gradient flows through indices."""
    labels = tensor.array
    if labels.dtype.kind not in "iu":
        raise ValueError(f"one_hot is only applicable to index tensor, got dtype {labels.dtype}")
    if num_classes == -1:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if labels.size and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(f"one_hot: class values must be in [0, {num_classes - 1}], got values from "
                         f"{int(labels.min())} to {int(labels.max())}")
    xp = get_array_module(labels)
    return Tensor._wrap((labels[..., None] == xp.arange(num_classes)).astype(xp.int64))
