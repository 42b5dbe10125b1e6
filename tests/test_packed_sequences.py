"""Packed sequences (nn/utils/rnn.py) and the recurrent layers on them (nn/rnn.py), against PyTorch on the same
inputs: every function's values and the gradients back to its inputs; pack -> RNN/LSTM/GRU -> unpack -> loss with
the gradient of the inputs, the initial states and every weight, in float32 and float64; each sequence's final state
at its own last step; PyTorch's errors for bad lengths; a float64 gradcheck of a packed GRU.

The lengths below are unequal, include 1 and the full length, and repeat a value (ties keep their order when the
batch is sorted, as PyTorch's sort does on batches this small).
"""
import numpy as np
import pytest
from conftest import assert_close, import_torch, tensor, torch_tensor

import tinygrad_bn as tg
from tinygrad_bn import nn
from tinygrad_bn.nn.utils.rnn import (
    PackedSequence,
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
    unpack_sequence,
    unpad_sequence,
)

TOLERANCE = {np.float32: {"rtol": 1e-5, "atol": 1e-5}, np.float64: {"rtol": 1e-10, "atol": 1e-10}}
UNSORTED_LENGTHS = [3, 5, 1, 3]  # T = 5, B = 4
SORTED_LENGTHS = [5, 3, 3, 1]


def torch_rnn_utils():
    return import_torch().nn.utils.rnn


def random_pair(shape, dtype, device, seed):
    """The same random numbers as a torch tensor and as our Tensor, both requiring grad."""
    array = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return torch_tensor(array, requires_grad=True), tensor(array, device, requires_grad=True)


def weighted_sum(outputs, dtype, device, seed=7):
    """sum(w_k * output_k) over pairs of (torch, ours) outputs, with the same random w_k: a loss whose gradient
    reaches every element of every output with a different weight."""
    torch = import_torch()
    rng = np.random.default_rng(seed)
    torch_loss, our_loss = 0, 0
    for theirs, ours in outputs:
        weights = rng.standard_normal(tuple(theirs.shape)).astype(dtype)
        torch_loss = torch_loss + (theirs * torch.tensor(weights)).sum()
        our_loss = our_loss + (ours * tensor(weights, device)).sum()
    return torch_loss, our_loss


def assert_same_packed(ours, theirs, dtype):
    """Same data, batch_sizes (an int64 CPU tensor) and permutations."""
    assert isinstance(ours, PackedSequence)
    assert_close(ours.data, theirs.data, **TOLERANCE[dtype], what="data")
    assert ours.batch_sizes.tolist() == theirs.batch_sizes.tolist() and ours.batch_sizes.device == "cpu"
    assert ours.batch_sizes.dtype == np.int64
    for name in ("sorted_indices", "unsorted_indices"):
        mine, expected = getattr(ours, name), getattr(theirs, name)
        assert (mine is None) == (expected is None), name
        if expected is not None:
            assert mine.tolist() == expected.tolist(), name


# ---------------------------------------------------------------------------------------------------------------
# The functions
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_pack_then_pad_matches_torch(enforce_sorted, batch_first, dtype, device):
    rnn_utils = torch_rnn_utils()
    lengths = SORTED_LENGTHS if enforce_sorted else UNSORTED_LENGTHS
    tx, x = random_pair((4, 5, 2) if batch_first else (5, 4, 2), dtype, device, seed=1)
    theirs = rnn_utils.pack_padded_sequence(tx, lengths, batch_first, enforce_sorted)
    ours = pack_padded_sequence(x, lengths, batch_first, enforce_sorted)
    assert_same_packed(ours, theirs, dtype)
    t_padded, t_lengths = rnn_utils.pad_packed_sequence(theirs, batch_first, padding_value=-1.5, total_length=6)
    padded, our_lengths = pad_packed_sequence(ours, batch_first, padding_value=-1.5, total_length=6)
    assert_close(padded, t_padded, **TOLERANCE[dtype], what="padded")
    assert our_lengths.tolist() == t_lengths.tolist() == lengths and our_lengths.device == "cpu"
    torch_loss, our_loss = weighted_sum([(theirs.data, ours.data), (t_padded, padded)], dtype, device)
    torch_loss.backward()
    our_loss.backward()
    assert_close(x.grad, tx.grad, **TOLERANCE[dtype], what="grad of the padded input")


@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pad_sequence_matches_torch(batch_first, padding_side, device):
    rnn_utils = torch_rnn_utils()
    pairs = [random_pair((length, 2, 3), np.float64, device, seed=length) for length in (2, 4, 1)]
    expected = rnn_utils.pad_sequence([t for t, _ in pairs], batch_first, 0.5, padding_side)
    actual = pad_sequence([o for _, o in pairs], batch_first, 0.5, padding_side)
    assert_close(actual, expected, what="padded")
    torch_loss, our_loss = weighted_sum([(expected, actual)], np.float64, device)
    torch_loss.backward()
    our_loss.backward()
    for k, (t, o) in enumerate(pairs):
        assert_close(o.grad, t.grad, what=f"grad of sequence {k}")


@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_pack_sequence_unpack_sequence_and_unpad_sequence_match_torch(enforce_sorted, device):
    rnn_utils = torch_rnn_utils()
    lengths = SORTED_LENGTHS if enforce_sorted else UNSORTED_LENGTHS
    pairs = [random_pair((length, 3), np.float64, device, seed=k) for k, length in enumerate(lengths)]
    theirs = rnn_utils.pack_sequence([t for t, _ in pairs], enforce_sorted=enforce_sorted)
    ours = pack_sequence([o for _, o in pairs], enforce_sorted=enforce_sorted)
    assert_same_packed(ours, theirs, np.float64)
    expected, actual = rnn_utils.unpack_sequence(theirs), unpack_sequence(ours)
    assert len(actual) == len(expected) == len(lengths)
    for t, o in zip(expected, actual):
        assert_close(o, t, what="unpacked sequence")
    padded = rnn_utils.pad_sequence([t for t, _ in pairs], batch_first=True)
    expected_unpadded = rnn_utils.unpad_sequence(padded, import_torch().tensor(lengths), batch_first=True)
    unpadded = unpad_sequence(pad_sequence([o for _, o in pairs], batch_first=True), tg.tensor(lengths),
                              batch_first=True)
    torch_loss, our_loss = weighted_sum(list(zip(expected + expected_unpadded, actual + unpadded)), np.float64,
                                        device)
    torch_loss.backward()
    our_loss.backward()
    for k, (t, o) in enumerate(pairs):
        assert_close(o.grad, t.grad, what=f"grad of sequence {k}")


def test_packed_sequence_is_pytorchs_named_tuple(device):
    torch = import_torch()
    packed = pack_sequence([tg.ones(3, 2, device=device), tg.ones(1, 2, device=device), tg.ones(2, 2, device=device)],
                           enforce_sorted=False)
    data, batch_sizes, sorted_indices, unsorted_indices = packed
    assert packed._fields == torch.nn.utils.rnn.PackedSequence._fields
    assert data is packed.data and sorted_indices.tolist() == [0, 2, 1] and unsorted_indices.tolist() == [0, 2, 1]
    assert packed.is_cuda == (device == "cuda")
    as_double = packed.double()
    assert as_double.data.dtype == np.float64 and as_double.batch_sizes is batch_sizes
    assert as_double.sorted_indices.device == device and packed.float() is packed  # no change: the same object
    rebuilt = PackedSequence(data, batch_sizes, sorted_indices)  # unsorted_indices computed, as PyTorch does
    assert rebuilt.unsorted_indices.tolist() == [0, 2, 1]
    assert PackedSequence((data, batch_sizes)).sorted_indices is None


def test_pytorchs_import_paths_reach_the_packed_sequences():
    import tinygrad_bn as torch
    from tinygrad_bn.nn.utils.rnn import pad_sequence as imported
    assert torch.nn.utils.rnn.pad_sequence is imported is pad_sequence
    assert torch.nn.utils.rnn.pack_padded_sequence is pack_padded_sequence


# ---------------------------------------------------------------------------------------------------------------
# Recurrent layers on packed sequences
# ---------------------------------------------------------------------------------------------------------------
def twins(name, dtype, **options):
    """The PyTorch layer nn.<name>(3, 4, **options) and ours, holding PyTorch's weights in `dtype`."""
    torch = import_torch()
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(3, 4, **options).to(torch.float64 if dtype == np.float64 else torch.float32)
    ours = getattr(nn, name)(3, 4, **options).to(dtype)
    ours.load_state_dict({key: value.detach().numpy() for key, value in theirs.state_dict().items()})
    return theirs, ours


def initial_states(name, shape, dtype, device):
    """h_0, or (h_0, c_0) for LSTM, as (torch tensors, ours), each a list of the tensors."""
    pairs = [random_pair(shape, dtype, device, seed=5 + k) for k in range(2 if name == "LSTM" else 1)]
    return [t for t, _ in pairs], [o for _, o in pairs]


def run_packed(layer, rnn_utils, x, lengths, states, batch_first, enforce_sorted):
    """pack -> layer -> unpack; returns (padded output, final states as a list)."""
    packed = rnn_utils.pack_padded_sequence(x, lengths, batch_first, enforce_sorted)
    hx = None if not states else (tuple(states) if len(states) == 2 else states[0])
    output, finals = layer(packed) if hx is None else layer(packed, hx)
    assert type(output).__name__ == "PackedSequence"
    assert output.batch_sizes.tolist() == packed.batch_sizes.tolist()
    padded, _ = rnn_utils.pad_packed_sequence(output, batch_first)
    return padded, list(finals) if isinstance(finals, tuple) else [finals]


SORTING = [(False, False), (False, True), (True, False)]  # (enforce_sorted, batch_first)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_hx", [False, True], ids=["no-hx", "hx"])
@pytest.mark.parametrize("enforce_sorted, batch_first", SORTING, ids=["unsorted", "unsorted-batch-first", "sorted"])
@pytest.mark.parametrize("name", ["LSTM", "GRU", "RNN"])
def test_packed_bidirectional_two_layers_matches_torch(name, enforce_sorted, batch_first, with_hx, dtype, device):
    """Outputs, each sequence's final states (in the caller's batch order) and the gradient of the padded input,
    of h_0 (c_0) and of every weight, through pack -> layer -> unpack -> loss."""
    torch = import_torch()
    theirs, ours = twins(name, dtype, num_layers=2, bidirectional=True, batch_first=batch_first)
    ours.to(device)
    lengths = SORTED_LENGTHS if enforce_sorted else UNSORTED_LENGTHS
    tx, x = random_pair((4, 5, 3) if batch_first else (5, 4, 3), dtype, device, seed=1)
    t_states, states = initial_states(name, (4, 4, 4), dtype, device) if with_hx else ([], [])
    expected = run_packed(theirs, torch.nn.utils.rnn, tx, lengths, t_states, batch_first, enforce_sorted)
    actual = run_packed(ours, tg.nn.utils.rnn, x, lengths, states, batch_first, enforce_sorted)
    pairs = [(expected[0], actual[0])] + list(zip(expected[1], actual[1]))
    for what, (e, a) in zip(["output", "h_n", "c_n"], pairs):
        assert_close(a, e, **TOLERANCE[dtype], what=what)
    torch_loss, our_loss = weighted_sum(pairs, dtype, device)
    torch_loss.backward()
    our_loss.backward()
    for (param_name, param), (our_name, our_param) in zip(theirs.named_parameters(), ours.named_parameters()):
        assert param_name == our_name
        assert_close(our_param.grad, param.grad, **TOLERANCE[dtype], what=f"grad of {param_name}")
    for what, t, o in [("input", tx, x)] + [(f"state {k}", t, o) for k, (t, o) in enumerate(zip(t_states, states))]:
        assert_close(o.grad, t.grad, **TOLERANCE[dtype], what=f"grad of {what}")


@pytest.mark.parametrize("name, options", [("LSTM", {}), ("RNN", {"nonlinearity": "relu", "bias": False}),
                                           ("GRU", {"num_layers": 2, "dropout": 0.5}),
                                           ("LSTM", {"num_layers": 2, "bidirectional": True, "proj_size": 2})])
def test_packed_layer_variants_match_torch(name, options, device):
    """One direction, ReLU without bias, dropout between layers (in eval mode, where it is the identity), and an
    LSTM with projections (both directions: h is projected, c is not)."""
    torch = import_torch()
    theirs, ours = twins(name, np.float64, **options)
    theirs.eval(), ours.eval()
    ours.to(device)
    tx, x = random_pair((5, 4, 3), np.float64, device, seed=2)
    expected = run_packed(theirs, torch.nn.utils.rnn, tx, UNSORTED_LENGTHS, [], False, False)
    actual = run_packed(ours, tg.nn.utils.rnn, x, UNSORTED_LENGTHS, [], False, False)
    pairs = [(expected[0], actual[0])] + list(zip(expected[1], actual[1]))
    for e, a in pairs:
        assert_close(a, e)
    torch_loss, our_loss = weighted_sum(pairs, np.float64, device)
    torch_loss.backward()
    our_loss.backward()
    assert_close(x.grad, tx.grad, what="grad of the input")
    for (param_name, param), our_param in zip(theirs.named_parameters(), ours.parameters()):
        assert_close(our_param.grad, param.grad, what=f"grad of {param_name}")


def test_packed_states_are_each_sequences_own_last_step(device):
    """Without PyTorch: each sequence's final h (both directions) and its outputs are those of the same layer run
    on that sequence alone, unpadded."""
    tg.manual_seed(0)
    gru = nn.GRU(3, 4, num_layers=2, bidirectional=True).double().to(device)
    sequences = [tensor(np.random.default_rng(k).standard_normal((length, 3)), device)
                 for k, length in enumerate(UNSORTED_LENGTHS)]
    output, h_n = gru(pack_sequence(sequences, enforce_sorted=False))
    padded, _ = pad_packed_sequence(output)
    for b, sequence in enumerate(sequences):
        alone_output, alone_h = gru(sequence)
        assert_close(padded[:len(sequence), b], alone_output, what=f"outputs of sequence {b}")
        assert_close(h_n[:, b], alone_h, what=f"final states of sequence {b}")
        assert np.all(padded[len(sequence):, b].numpy() == 0)


def test_packed_dropout_between_layers_in_training():
    tg.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    packed = pack_padded_sequence(tg.randn(5, 4, 3), UNSORTED_LENGTHS, enforce_sorted=False)
    lstm.eval()
    evaluated = lstm(packed)[0].data.numpy()
    lstm.train()
    trained = lstm(packed)[0]
    assert trained.data.shape == evaluated.shape and not np.array_equal(trained.data.numpy(), evaluated)


def test_packed_gru_gradcheck():
    """A float64 gradcheck of a bidirectional packed GRU: the output and h_n, by the padded input and h_0."""
    tg.manual_seed(0)
    gru = nn.GRU(2, 3, bidirectional=True).double()
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal((3, 3, 2)), requires_grad=True)
    h0 = tg.tensor(rng.standard_normal((2, 3, 3)), requires_grad=True)

    def padded_output_and_states(x, h0):
        output, h_n = gru(pack_padded_sequence(x, [2, 3, 1], enforce_sorted=False), h0)
        return pad_packed_sequence(output)[0], h_n

    assert tg.gradcheck(padded_output_and_states, (x, h0))


# ---------------------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------------------
PADDED = tg.zeros(4, 3, 2)  # T = 4, B = 3


@pytest.mark.parametrize("make, match, error", [
    (lambda: pack_padded_sequence(PADDED, [3, 4, 1]),
     r"`lengths` array must be sorted in decreasing order when `enforce_sorted` is True.*\[3, 4, 1\]", RuntimeError),
    (lambda: pack_padded_sequence(PADDED, [3, 0, 1], enforce_sorted=False),
     r"Length of all samples has to be greater than 0.*\[3, 0, 1\]", RuntimeError),
    (lambda: pack_padded_sequence(PADDED, [3, 2]),
     r"Expected `len\(lengths\)` to be equal to batch_size, but got 2 \(batch_size=3\)", RuntimeError),
    (lambda: pack_padded_sequence(PADDED, [5, 2, 1]), r"at most the input's number of time steps 4.*\[5, 2, 1\]",
     RuntimeError),
    (lambda: pack_padded_sequence(PADDED, [[4, 2, 1]]), "'lengths' argument should be a 1D", RuntimeError),
    (lambda: pad_packed_sequence(pack_padded_sequence(PADDED, [4, 2, 1]), total_length=3),
     ("Expected total_length to be at least the length of the longest sequence in input, but got total_length=3 "
      "and max sequence length being 4"), ValueError),
    (lambda: pad_sequence([]), "received an empty list of sequences", RuntimeError),
    (lambda: pad_sequence([tg.zeros(2, 3)], padding_side="up"),
     "Expected padding_side to be one of left or right, but got up.", RuntimeError),
    (lambda: pad_sequence([tg.zeros(2, 3), tg.zeros(2, 4)]), r"sequence 1 is \(2, 4\)", RuntimeError),
    (lambda: nn.GRU(2, 3)(pack_padded_sequence(PADDED, [4, 2, 1]), tg.zeros(1, 2, 3)),
     r"Expected hidden size \(1, 3, 3\), got \[1, 2, 3\]", RuntimeError),
    (lambda: nn.GRU(5, 3)(pack_padded_sequence(PADDED, [4, 2, 1])),
     r"input.size\(-1\) must be equal to input_size. Expected 5, got 2", RuntimeError),
])
def test_errors_are_pytorchs_and_name_the_values(make, match, error):
    with pytest.raises(error, match=match):
        make()


def test_pytorch_raises_the_same_errors():
    """The messages above are PyTorch's own (where PyTorch checks at all)."""
    torch = import_torch()
    rnn_utils, padded = torch.nn.utils.rnn, torch.zeros(4, 3, 2)
    with pytest.raises(RuntimeError, match="`lengths` array must be sorted in decreasing order"):
        rnn_utils.pack_padded_sequence(padded, [3, 4, 1])
    with pytest.raises(RuntimeError, match="Length of all samples has to be greater than 0"):
        rnn_utils.pack_padded_sequence(padded, [3, 0, 1], enforce_sorted=False)
    with pytest.raises(ValueError, match="Expected total_length to be at least"):
        rnn_utils.pad_packed_sequence(rnn_utils.pack_padded_sequence(padded, [4, 2, 1]), total_length=3)
