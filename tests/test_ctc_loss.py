"""F.ctc_loss and nn.CTCLoss against torch.nn.functional.ctc_loss: losses and gradients, every reduction, both target
layouts, and the argument errors.

One batch covers the cases that matter to the forward algorithm: unequal input lengths (12, 9, 12, 6), unequal target
lengths (4, 3, 0, 2), a target of length 0, and a repeated label (which needs a blank between its two copies).

PyTorch's gradient with respect to log_probs is not the derivative of its own loss (pytorch/pytorch#52241, #82545):
its backward assumes a log_softmax in front and adds exp(log_probs) * dL/dloss_n at every frame t < T_n. Through
log_softmax that term cancels, so gradients with respect to logits are compared as they are; gradients with respect to
log_probs are compared after removing that term (and gradcheck confirms ours is the true derivative).
"""
import re

import numpy as np
import pytest
from conftest import assert_close, import_torch, tensor, torch_tensor

import tinygrad_bn as tg
import tinygrad_bn.nn.functional as F

T, N, C = 12, 4, 5
INPUT_LENGTHS = (12, 9, 12, 6)
TARGET_LENGTHS = (4, 3, 0, 2)
TOLERANCE = {np.float64: 1e-8, np.float32: 1e-4}


def targets_for(blank, seed=0):
    """(N, 4) padded labels, none of them the blank; sample 0 repeats a label ("a a b a"); past each length, junk
    labels that must never be read."""
    labels = np.array([c for c in range(C) if c != blank])
    padded = np.random.default_rng(seed).choice(labels, size=(N, max(TARGET_LENGTHS)))
    padded[0] = [labels[0], labels[0], labels[1], labels[0]]
    return padded


def concatenated(padded, target_lengths):
    return np.concatenate([row[:length] for row, length in zip(padded, target_lengths)])


def logits(dtype, seed=1, shape=(T, N, C)):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def ctc_both(device, log_probs_of, x, targets, input_lengths=INPUT_LENGTHS, target_lengths=TARGET_LENGTHS,
             **kwargs):
    """The loss and the gradient of its sum with respect to x in both libraries; log_probs_of(x) makes the
    log-probabilities (x itself, or its log_softmax)."""
    torch = import_torch()
    ours_x = tensor(x, device, requires_grad=True)
    ours = F.ctc_loss(log_probs_of(ours_x), tensor(targets, device), input_lengths, target_lengths, **kwargs)
    ours.sum().backward()
    theirs_x = torch_tensor(x, requires_grad=True)
    theirs = torch.nn.functional.ctc_loss(log_probs_of(theirs_x), torch.tensor(targets), torch.tensor(input_lengths),
                                          torch.tensor(target_lengths), **kwargs)
    theirs.sum().backward()
    return ours, ours_x.grad, theirs, theirs_x.grad


def without_pytorchs_extra_term(grad, log_probs, reduction, input_lengths=INPUT_LENGTHS,
                                target_lengths=TARGET_LENGTHS):
    """PyTorch's gradient with respect to log_probs, less the exp(log_probs) * dL/dloss_n it adds at t < T_n."""
    dloss = {"none": np.ones(N), "sum": np.ones(N),
             "mean": 1.0 / (N * np.maximum(np.array(target_lengths), 1))}[reduction]
    in_sample = np.arange(len(log_probs))[:, None] < np.array(input_lengths)[None, :]  # (T, N)
    return grad.detach().numpy() - np.exp(log_probs) * (dloss * in_sample)[:, :, None]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("layout", ["padded", "concatenated"])
def test_loss_and_gradients_match_pytorch(device, dtype, reduction, layout):
    torch = import_torch()
    rtol = TOLERANCE[dtype]
    padded = targets_for(blank=0)
    targets = padded if layout == "padded" else concatenated(padded, TARGET_LENGTHS)

    # through log_softmax, from logits: the gradients agree as they are
    x = logits(dtype)
    ours, ours_grad, theirs, theirs_grad = ctc_both(device, lambda z: z.log_softmax(2), x, targets,
                                                    reduction=reduction)
    assert ours.dtype == dtype
    assert_close(ours, theirs, rtol=rtol, what=f"loss ({reduction})")
    assert_close(ours_grad, theirs_grad, rtol=rtol, atol=rtol * 1e-2, what="gradient w.r.t. logits")

    # with respect to log_probs themselves
    log_probs = torch.tensor(x).log_softmax(2).numpy()
    ours, ours_grad, theirs, theirs_grad = ctc_both(device, lambda z: z, log_probs, targets, reduction=reduction)
    assert_close(ours, theirs, rtol=rtol, what=f"loss ({reduction})")
    assert_close(ours_grad, without_pytorchs_extra_term(theirs_grad, log_probs, reduction), rtol=rtol,
                 atol=rtol * 1e-2, what="gradient w.r.t. log_probs")
    assert (ours_grad.numpy()[INPUT_LENGTHS[3]:, 3] == 0).all(), "frames past an input length get no gradient"


def test_the_forward_algorithm_sums_every_alignment():
    """Independent of PyTorch: for one sample with T = 3 and target "a a", the only paths are "a - a"; for target
    "a b" they are "a a b", "a b b", "- a b", "a - b", "a b -"; the loss is -log of the sum of their probabilities."""
    p = np.random.default_rng(2).dirichlet(np.ones(3), size=3)  # (T, C) probabilities, blank 0, a = 1, b = 2
    log_probs = tg.tensor(np.log(p)[:, None, :])

    def loss(target):
        return float(F.ctc_loss(log_probs, tg.tensor([target]), (3,), (2,), reduction="sum").item())

    assert loss([1, 1]) == pytest.approx(-np.log(p[0, 1] * p[1, 0] * p[2, 1]), rel=1e-12)
    paths = [(1, 1, 2), (1, 2, 2), (0, 1, 2), (1, 0, 2), (1, 2, 0)]
    assert loss([1, 2]) == pytest.approx(-np.log(sum(np.prod([p[t, c] for t, c in enumerate(path)])
                                                     for path in paths)), rel=1e-12)


def test_blank_not_zero(device):
    blank = C - 1
    x = logits(np.float64)
    ours, ours_grad, theirs, theirs_grad = ctc_both(device, lambda z: z.log_softmax(2), x, targets_for(blank),
                                                    blank=blank, reduction="none")
    assert_close(ours, theirs, what="loss, blank = C - 1")
    assert_close(ours_grad, theirs_grad, what="gradient, blank = C - 1")


@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_an_impossible_alignment(device, reduction):
    """Sample 0's "a a b a" needs 5 frames (a blank between the two a's); with 4 its loss is inf, or 0 with
    zero_infinity. PyTorch then gives that sample nan gradients; ours are 0 (there is no direction to improve in)."""
    x = logits(np.float64)
    input_lengths = (4,) + INPUT_LENGTHS[1:]
    targets = targets_for(blank=0)
    for zero_infinity in (False, True):
        ours, ours_grad, theirs, theirs_grad = ctc_both(device, lambda z: z.log_softmax(2), x, targets,
                                                        input_lengths=input_lengths, reduction=reduction,
                                                        zero_infinity=zero_infinity)
        assert_close(ours, theirs, what=f"loss, zero_infinity={zero_infinity}")
        if reduction == "none":
            assert ours.numpy()[0] == (0.0 if zero_infinity else np.inf)
        assert_close(ours_grad.numpy()[:, 1:], theirs_grad[:, 1:], what="gradients of the possible samples")
        assert (ours_grad.numpy()[:, 0] == 0).all()
        if zero_infinity:
            assert_close(ours_grad, theirs_grad, what="gradients with zero_infinity")
        else:
            assert np.isnan(theirs_grad[:, 0].numpy()).any()  # the difference documented above still stands


def test_zero_probability_classes_give_finite_gradients(device):
    """log_probs with -inf entries (a class never emitted): the -inf states never produce a nan gradient."""
    log_probs = np.log(np.random.default_rng(3).dirichlet(np.ones(C), size=(T, N)))
    log_probs[:, :, C - 1] = -np.inf
    targets = targets_for(blank=0) % (C - 1)  # no label is the impossible class
    targets[targets == 0] = 1
    ours, ours_grad, theirs, theirs_grad = ctc_both(device, lambda z: z, log_probs, targets, reduction="sum")
    assert_close(ours, theirs, what="loss with a zero-probability class")
    assert np.isfinite(ours_grad.numpy()).all()
    expected = without_pytorchs_extra_term(theirs_grad, log_probs, "sum")
    assert_close(ours_grad.numpy()[..., :-1], expected[..., :-1], what="gradients of the other classes")


def test_unbatched_input_and_the_module(device):
    torch = import_torch()
    x = logits(np.float64, shape=(T, C))
    target = targets_for(blank=0)[0]
    ours = F.ctc_loss(tensor(x, device).log_softmax(1), tensor(target, device), tg.tensor(T), tg.tensor(4),
                      reduction="none")
    theirs = torch.nn.functional.ctc_loss(torch.tensor(x).log_softmax(1), torch.tensor(target), torch.tensor(T),
                                          torch.tensor(4), reduction="none")
    assert ours.shape == () and ours.shape == tuple(theirs.shape)
    assert_close(ours, theirs, what="unbatched loss")

    batch = tensor(logits(np.float64), device).log_softmax(2)
    module = tg.nn.CTCLoss(blank=0, reduction="sum", zero_infinity=True)
    expected = F.ctc_loss(batch, tensor(targets_for(0), device), INPUT_LENGTHS, TARGET_LENGTHS, reduction="sum",
                          zero_infinity=True)
    assert_close(module(batch, tensor(targets_for(0), device), INPUT_LENGTHS, TARGET_LENGTHS), expected)


def test_gradcheck(device):
    """The true derivative of the loss with respect to log_probs (not PyTorch's, see the top of this file)."""
    log_probs = tensor(np.log(np.random.default_rng(4).dirichlet(np.ones(3), size=(5, 2))), device,
                       requires_grad=True)
    assert tg.gradcheck(lambda lp: F.ctc_loss(lp, tg.tensor([[1, 1], [2, 0]]), (5, 3), (2, 1), reduction="none"),
                        (log_probs,))


def call(lib, **changes):
    """lib's ctc_loss on a (5, 2, 4) input, with any argument replaced."""
    args = {"log_probs": lib.zeros(5, 2, 4).log_softmax(2), "targets": lib.tensor([[1, 2, 3], [1, 2, 0]]),
            "input_lengths": (5, 5), "target_lengths": (3, 2), "blank": 0}
    args.update({name: (lib.tensor(value) if name == "targets" else value) for name, value in changes.items()})
    return lib.nn.functional.ctc_loss(**args)


# (what, changes, our error and a fragment of its message, PyTorch's error type or None where it accepts the call)
ERRORS = [
    ("input length > T", {"input_lengths": (6, 5)}, RuntimeError,
     "input_lengths to have value at most 5 (the number of frames T), but got value 6 (sample 0)", RuntimeError),
    ("target length > S", {"target_lengths": (4, 2)}, RuntimeError,
     "at least the longest target length 4, got shape (2, 3)", RuntimeError),
    ("negative input length", {"input_lengths": (5, -1)}, RuntimeError,
     "input_lengths to have value at least 0, but got value -1 (sample 1)", RuntimeError),
    ("negative target length", {"target_lengths": (-1, 2)}, RuntimeError,
     "target_lengths to have value at least 0, but got value -1 (sample 0)", RuntimeError),
    ("blank = C", {"blank": 4}, RuntimeError, "blank must be in label range [0, 3], got blank=4", RuntimeError),
    ("blank < 0", {"blank": -1}, RuntimeError, "got blank=-1", RuntimeError),
    ("one length per sample", {"input_lengths": (5, 5, 5)}, RuntimeError,
     "input_lengths must have one length per batch element (2), got shape (3,)", RuntimeError),
    ("concatenated size", {"targets": [1, 2, 3, 1]}, RuntimeError,
     "sum(target_lengths) = 5 entries, got shape (4,)", RuntimeError),
    ("bad reduction", {"reduction": "avg"}, ValueError, "reduction must be one of", ValueError),
    # PyTorch's CPU kernel accepts these unchecked and returns a number that is no CTC loss
    ("target is the blank", {"targets": [[1, 0, 3], [1, 2, 0]]}, ValueError,
     "must not contain the blank (0), got [1, 0, 3] for sample 0", None),
    ("target out of range", {"targets": [[1, 2, 4], [1, 2, 0]]}, ValueError, "must be in [0, 3], got [1, 2, 4]", None),
    ("float targets", {"targets": [[1.0, 2.0, 3.0], [1.0, 2.0, 0.0]]}, ValueError, "integer class indices", None),
]


@pytest.mark.parametrize("what, changes, error, message, pytorch_error", ERRORS, ids=[row[0] for row in ERRORS])
def test_bad_arguments(what, changes, error, message, pytorch_error):
    with pytest.raises(error, match=re.escape(message)):
        call(tg, **changes)
    torch = import_torch()
    if pytorch_error is None:
        call(torch, **changes)
    else:
        with pytest.raises(pytorch_error):
            call(torch, **changes)
