"""Margin and embedding losses (ranking, hinge, soft margin, triplet, cosine embedding), with PyTorch's arguments and
reductions. Each is composed from Tensor ops (and distance.py), so autograd differentiates them op by op; hinges are
clamp(min=0), whose gradient passes at 0 as PyTorch's clamp_min does.
"""
from ...backend import get_array_module
from ...tensors import Tensor
from .distance import pairwise_distance
from .loss import _check_reduction, _legacy_reduction, _reduce


def _softplus(x):
    """log(1 + exp(x)) without overflow: max(x, 0) + log(1 + exp(-|x|)). At x = 0 the max sends half its
    gradient each way, so the derivative there is sigmoid(0) = 1/2, as it should be."""
    return x.maximum(0.0) + (1 + (-x.abs()).exp()).log()


def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"):
    """max(0, -y (x1 - x2) + margin): y = 1 says x1 should rank above x2 by margin, y = -1 the reverse.

    The three broadcast together but must have the same number of dims, as in PyTorch."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if not input1.ndim == input2.ndim == target.ndim:
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
                           f"input1: {input1.shape}, input2: {input2.shape}, target: {target.shape}")
    return _reduce((-target * (input1 - input2) + margin).clamp(min=0), reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    """x where y = 1, max(0, margin - x) where y = -1, for distances x and labels y (similar 1, dissimilar -1).

    As in PyTorch, a label that is neither gets both terms; input and target broadcast together."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    labels = target.array
    margin_term = (margin - input).clamp(min=0).where(labels != 1, 0.0)
    distance_term = input.where(labels != -1, 0.0)
    return _reduce(margin_term + distance_term, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-y x)) for labels y = 1 or -1: the logistic loss of the margin y x, computed without overflow
    (where PyTorch's exp overflows, for -y x above ~89 in float32, ~709 in float64, this stays finite)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    return _reduce(_softplus(-target * input), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """For C independent yes/no labels y in [0, 1] per sample: the mean over the last (class) dim of
    -w_c [y_c log sigmoid(x_c) + (1 - y_c) log sigmoid(-x_c)], which is w_c (softplus(x_c) - y_c x_c)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    loss = _softplus(input) - target * input
    if weight is not None:
        loss = loss * weight
    C = input.shape[-1] if input.ndim else 1
    return _reduce(loss.sum(dim=-1) / C if input.ndim else loss, reduction)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    """Multi-class hinge loss: for each sample with scores x (C,) and class y,

        loss = w[y] / C * sum_{i != y} max(0, margin - x[y] + x[i])^p        (p = 1 or 2)

    input (N, C) with target (N,), or (C,) with a 0-d (or one-element) target; "mean" averages over samples."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.ndim != 1:
        raise ValueError("weight must be one-dimensional")
    if input.ndim not in (1, 2) or input.shape[-1] == 0:
        raise RuntimeError(f"multi_margin_loss: Expected non-empty vector or matrix with optional 0-dim batch size, "
                           f"but got: {input.shape}")
    rows = input.reshape(1, -1) if input.ndim == 1 else input
    N, C = rows.shape
    if target.numel() != N or (input.ndim == 2 and target.ndim != 1):
        raise RuntimeError(f"multi_margin_loss: target tensor should be 1-D with size equal to the number of input "
                           f"samples (batch size). Expected target size [{N}], but got {list(target.shape)}. Input "
                           f"has shape {list(input.shape)}.")
    if target.dtype.kind not in "iu":
        raise RuntimeError(f"multi_margin_loss: class-index targets must be integers, got dtype {target.dtype}")
    labels = target.array.reshape(N, 1)
    if N and (int(labels.min()) < 0 or int(labels.max()) >= C):
        raise RuntimeError(f"multi_margin_loss: target out of range: classes are 0 to {C - 1}, got values from "
                           f"{int(labels.min())} to {int(labels.max())}")
    if weight is not None and weight.shape != (C,):
        raise RuntimeError(f"inconsistent weight size, expected {C} but got {list(weight.shape)}")
    xp = get_array_module(labels)
    target_score = rows.gather(1, Tensor._wrap(labels))  # x[n, y_n], (N, 1)
    # relu, not clamp: PyTorch counts a class only where its margin is violated (> 0), its gradient 0 at the kink
    violation = (margin - target_score + rows).relu()
    if p == 2:
        violation = violation * violation
    rivals = Tensor._wrap((labels != xp.arange(C)).astype(rows.dtype))  # the target class is not its own rival
    loss = (violation * rivals).sum(dim=1) / C
    if weight is not None:
        loss = loss * Tensor._wrap(weight.array.astype(rows.dtype)[labels[:, 0]])
    return _reduce(loss.reshape(target.shape), reduction)


def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"):
    """1 - cos(x1, x2) where y = 1 (pull together), max(0, cos(x1, x2) - margin) where y = -1 (push apart), 0 for
    other labels; cos = x1.x2 / sqrt((|x1|^2 + 1e-12) (|x2|^2 + 1e-12)), PyTorch's epsilon.

    Batches: x1, x2 (N, D) (broadcasting) with y (N,); one pair: x1, x2 (D,) with a 0-d y."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if target.ndim not in (0, 1):
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    expected = target.ndim + 1
    if input1.ndim != expected or input2.ndim != expected:
        raise RuntimeError(f"{target.ndim}D target tensor expects {expected}D input tensors, but found inputs with "
                           f"sizes {list(input1.shape)} and {list(input2.shape)}.")
    dim = target.ndim  # the vectors run along the last dim
    dot = (input1 * input2).sum(dim)
    squared_norms = ((input1 * input1).sum(dim) + 1e-12) * ((input2 * input2).sum(dim) + 1e-12)
    cos = dot / squared_norms.sqrt()
    labels = target.array
    similar = (1 - cos).where(labels == 1, 0.0)
    dissimilar = (cos - margin).clamp(min=0).where(labels == -1, 0.0)
    return _reduce(similar + dissimilar, reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    """max(0, margin + d(a, p) - d(a, n)), d = pairwise_distance(., ., p, eps) over the last dim: the anchor should
    be nearer the positive than the negative by margin. swap=True uses min(d(a, n), d(p, n)) as the negative's
    distance (the harder of the two; Balntas et al. 2016)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {anchor.ndim}D, positive {positive.ndim}D, and negative "
                           f"{negative.ndim}D inputs")
    d_positive = pairwise_distance(anchor, positive, p, eps)
    d_negative = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_negative = d_negative.minimum(pairwise_distance(positive, negative, p, eps))
    return _reduce((margin + d_positive - d_negative).clamp(min=0), reduction)


