"""Connectionist temporal classification (CTC) loss, Graves et al. 2006, composed from differentiable Tensor ops.

The forward algorithm below is written with cat, stack, where, exp, sum, log and gather, so autograd differentiates
it: there is no backward of its own (backpropagating through alpha is the paper's backward algorithm, beta).

The network emits, at each frame t, log-probabilities log y_t(c) over C classes, one of them the blank. A target
l = (l_1, ..., l_S) is read off a frame-by-frame path by merging repeats and then dropping blanks. The extended
label sequence l' = (blank, l_1, blank, l_2, ..., l_S, blank), of length 2S + 1, has a blank between every two
labels: that blank is how a path spells a repeated label ("a a" needs "a - a"). In log space:

    alpha_0(0) = log y_0(blank),   alpha_0(1) = log y_0(l_1),   alpha_0(s) = -inf for s > 1
    alpha_t(s) = logsumexp(alpha_{t-1}(s), alpha_{t-1}(s - 1), [alpha_{t-1}(s - 2)]) + log y_t(l'_s)
    loss       = -logsumexp(alpha_{T-1}(2S), alpha_{T-1}(2S - 1))

where the skip term [alpha_{t-1}(s - 2)] is there only when l'_s is a label that differs from l'_{s-2} (jumping
over a blank is allowed between two different labels, never onto or between equal ones). Each sample n uses its own
input length T_n and target length S_n; alpha_t(s) = -inf means no path reaches state s by frame t.
"""
import numpy as np

from ...backend import get_array_module, to_device, to_numpy
from ...tensors import Tensor, cat, stack
from .loss import _check_reduction


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """The CTC loss -log p(target | log_probs), PyTorch's arguments and layouts.

    log_probs: (T, N, C) (or (T, C) for one sample), already log-softmaxed over C. targets: padded (N, S), only the
    first target_lengths[n] entries of row n read, or all targets concatenated (sum(target_lengths),). Lengths:
    tensors, or tuples/lists of ints, one per sample. reduction: "none" gives the (N,) losses, "sum" their sum,
    "mean" the batch mean of each loss divided by its target length (at least 1). An alignment that cannot exist
    (T_n too short for the target) has loss inf; with zero_infinity it is 0, with zero gradient.

    Unlike torch.nn.functional.ctc_loss, the gradient with respect to log_probs is the true derivative of the loss:
    PyTorch's adds exp(log_probs) (its backward assumes a log_softmax in front; the two agree through one).
    """
    _check_reduction(reduction)
    if log_probs.ndim not in (2, 3):
        raise ValueError(f"ctc_loss: expected log_probs of shape (T, N, C) or (T, C), got {log_probs.shape}")
    unbatched = log_probs.ndim == 2
    if unbatched:
        log_probs = log_probs.unsqueeze(1)
        targets = targets.reshape(1, -1)
    T, N, C = log_probs.shape
    if not 0 <= blank < C:
        raise RuntimeError(f"ctc_loss: blank must be in label range [0, {C - 1}], got blank={blank}")
    input_lengths = _lengths(input_lengths, N, "input_lengths", at_most=T)
    target_lengths = _lengths(target_lengths, N, "target_lengths")
    labels = _padded_targets(targets, target_lengths, N, C, blank)

    extended, can_skip = _extended_labels(labels, blank)
    device = log_probs.device
    L = extended.shape[1]
    # log y_t(l'_s) for every t, n and s at once: (T, N, 2S + 1)
    emit = log_probs.gather(2, np.broadcast_to(extended, (T, N, L)))
    final_alpha = _forward_variables(emit, to_device(can_skip, device), to_device(input_lengths, device))

    # The path ends on the last label (2S_n - 1) or on the blank after it (2S_n); with S_n = 0 only the blank.
    ends = np.stack([2 * target_lengths, np.maximum(2 * target_lengths - 1, 0)], axis=1)
    end_exists = to_device(np.stack([target_lengths >= 0, target_lengths > 0], axis=1), device)
    loss = -final_alpha.gather(1, ends).where(end_exists, -np.inf).logsumexp(dim=1)

    if zero_infinity:
        loss = loss.where(~get_array_module(loss.array).isinf(loss.array), 0.0)
    if reduction == "mean":
        per_label = np.maximum(target_lengths, 1).astype(log_probs.dtype)
        return (loss / Tensor._wrap(to_device(per_label, device))).mean()
    if reduction == "sum":
        return loss.sum()
    return loss.reshape(()) if unbatched else loss


def _forward_variables(emit, can_skip, input_lengths):
    """alpha_{T_n - 1} for each sample n, shape (N, 2S + 1), from emit[t, n, s] = log y_t(l'_s) by the recursion.

    It starts one step early, from alpha_{-1} = (0, -inf, ..., -inf) (before the first frame every path is at the
    start): one step of the recursion then gives exactly alpha_0 = (log y_0(blank), log y_0(l_1), -inf, ...), and a
    sample with no frames (T_n = 0) reads alpha_{-1}. One op sequence per frame serves the whole batch."""
    T, N, L = emit.shape
    xp = get_array_module(emit.array)
    start = xp.full((N, L), -xp.inf, dtype=emit.dtype)
    start[:, 0] = 0
    alpha = Tensor._wrap(start)
    before_first_state = Tensor._wrap(xp.full((N, 2), -xp.inf, dtype=emit.dtype))  # alpha(s - 1), alpha(s - 2) at s < 2
    alphas = [alpha]
    for t in range(T):
        shifted = cat([before_first_state, alpha], dim=1)
        stay = alpha                                              # alpha_{t-1}(s)
        advance = shifted[:, 1:-1]                                # alpha_{t-1}(s - 1)
        skip = shifted[:, :-2].where(can_skip, -np.inf)           # alpha_{t-1}(s - 2), where allowed
        alpha = stack([stay, advance, skip]).logsumexp(dim=0) + emit[t]
        alphas.append(alpha)
    # alphas[k] is alpha_{k-1}: sample n's last frame T_n - 1 is alphas[T_n]
    return stack(alphas)[input_lengths, xp.arange(N)]


def _extended_labels(labels, blank):
    """l' = (blank, l_1, blank, ..., l_S, blank) per row of the (N, S) labels, and where the skip s - 2 -> s is
    allowed: l'_s is a label (odd s >= 3) different from l'_{s-2}."""
    N, S = labels.shape
    extended = np.full((N, 2 * S + 1), blank, dtype=np.int64)
    extended[:, 1::2] = labels
    can_skip = np.zeros(extended.shape, dtype=bool)
    can_skip[:, 3::2] = extended[:, 3::2] != extended[:, 1:-2:2]
    return extended, can_skip


def _lengths(lengths, N, name, at_most=None):
    """One int64 length per sample, from a tensor, a tuple or list, or (one sample) an int; checked as PyTorch does."""
    values = to_numpy(lengths.array) if isinstance(lengths, Tensor) else np.asarray(lengths)
    if values.dtype.kind not in "iu":
        raise ValueError(f"ctc_loss: {name} must be integers, got dtype {values.dtype}")
    values = values.astype(np.int64).reshape(-1) if values.ndim == 0 else values.astype(np.int64)
    if values.shape != (N,):
        raise RuntimeError(f"ctc_loss: {name} must have one length per batch element ({N}), got shape "
                           f"{tuple(values.shape)}")
    if values.size and values.min() < 0:
        raise RuntimeError(f"ctc_loss: expected {name} to have value at least 0, but got value {values.min()} "
                           f"(sample {int(values.argmin())})")
    if at_most is not None and values.size and values.max() > at_most:
        raise RuntimeError(f"ctc_loss: expected {name} to have value at most {at_most} (the number of frames T), "
                           f"but got value {values.max()} (sample {int(values.argmax())})")
    return values


def _padded_targets(targets, target_lengths, N, C, blank):
    """(N, S) labels on the host, S = max target length: padded targets cut to their lengths, or concatenated ones
    split by them; entries past a sample's length are set to the blank (never read, but a valid index)."""
    values = to_numpy(targets.array) if isinstance(targets, Tensor) else np.asarray(targets)
    if values.dtype.kind not in "iu":
        raise ValueError(f"ctc_loss: targets must be integer class indices, got dtype {values.dtype}")
    S = int(target_lengths.max()) if N else 0
    if values.ndim == 2:
        if values.shape[0] != N or values.shape[1] < S:
            raise RuntimeError(f"ctc_loss: padded targets must have shape (N, S) with N = {N} samples and S at least "
                               f"the longest target length {S}, got shape {values.shape}")
        rows = [values[n, :length] for n, length in enumerate(target_lengths)]
    elif values.ndim == 1:
        if values.shape[0] != target_lengths.sum():
            raise RuntimeError(f"ctc_loss: concatenated targets must have sum(target_lengths) = "
                               f"{target_lengths.sum()} entries, got shape {values.shape}")
        rows = np.split(values, np.cumsum(target_lengths)[:-1])
    else:
        raise ValueError(f"ctc_loss: targets must be padded (N, S) or concatenated (sum(target_lengths),), got shape "
                         f"{values.shape}")
    labels = np.full((N, S), blank, dtype=np.int64)
    for n, row in enumerate(rows):
        if row.size and (row.min() < 0 or row.max() >= C):
            raise ValueError(f"ctc_loss: target labels must be in [0, {C - 1}], got {row.tolist()} for sample {n}")
        if (row == blank).any():
            raise ValueError(f"ctc_loss: targets must not contain the blank ({blank}), got {row.tolist()} for "
                             f"sample {n}")
        labels[n, :row.size] = row
    return labels
