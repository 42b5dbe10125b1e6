"""Recurrent layers (nn/rnn.py) against PyTorch: RNN/LSTM/GRU cells and sequence layers with PyTorch's weights
(loaded from a torch module's state_dict), comparing outputs, final states and the gradient of every parameter and
of the input and initial states, in float32 and float64; PyTorch's parameter names, init and argument errors.

The layers are composed from Tensor ops (no backward of their own), so matching PyTorch's gradients checks
backpropagation through time end to end.
"""
import numpy as np
import pytest
from conftest import assert_close, import_torch, tensor, torch_tensor

import tinygrad_bn as tg
import tinygrad_bn.nn as nn

TOLERANCE = {np.float32: {"rtol": 1e-5, "atol": 1e-5}, np.float64: {"rtol": 1e-10, "atol": 1e-10}}


def twins(name, *args, dtype=np.float64, **kwargs):
    """The PyTorch layer nn.<name>(*args, **kwargs) and ours, holding PyTorch's weights in `dtype`."""
    torch = import_torch()
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(*args, **kwargs).to(torch.float64 if dtype == np.float64 else torch.float32)
    ours = getattr(nn, name)(*args, **kwargs).to(dtype)
    ours.load_state_dict({key: value.detach().numpy() for key, value in theirs.state_dict().items()})
    return theirs, ours


def pair_of_inputs(shape, dtype, device, seed):
    """The same random numbers as a torch tensor and as our Tensor, both requiring grad."""
    array = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return torch_tensor(array, requires_grad=True), tensor(array, device, requires_grad=True)


def flat(outputs):
    """Every tensor of a nested (output, state) or (output, (h, c)) result, in order."""
    if isinstance(outputs, (tuple, list)):
        return [t for item in outputs for t in flat(item)]
    return [outputs]


def check_against_torch(theirs, ours, torch_inputs, our_inputs, dtype, device):
    """Same outputs; then the backward of a random weighting of every output gives the same gradients to every
    parameter and input."""
    torch = import_torch()
    ours.to(device)
    expected, actual = flat(theirs(*torch_inputs)), flat(ours(*our_inputs))
    assert len(expected) == len(actual)
    rng = np.random.default_rng(7)
    torch_loss, our_loss = 0, 0
    for e, a in zip(expected, actual):
        assert_close(a, e, **TOLERANCE[dtype], what="output")
        weights = rng.standard_normal(tuple(e.shape)).astype(dtype)
        torch_loss = torch_loss + (e * torch.tensor(weights)).sum()
        our_loss = our_loss + (a * tensor(weights, device)).sum()
    torch_loss.backward()
    our_loss.backward()
    for (name, param), (our_name, our_param) in zip(theirs.named_parameters(), ours.named_parameters()):
        assert name == our_name
        assert_close(our_param.grad, param.grad, **TOLERANCE[dtype], what=f"grad of {name}")
    for k, (t, o) in enumerate(zip(flat(torch_inputs), flat(our_inputs))):
        assert_close(o.grad, t.grad, **TOLERANCE[dtype], what=f"grad of input {k}")


# ---------------------------------------------------------------------------------------------------------------
# Cells
# ---------------------------------------------------------------------------------------------------------------
CELLS = [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}), ("RNNCell", {"bias": False}), ("LSTMCell", {}),
         ("LSTMCell", {"bias": False}), ("GRUCell", {}), ("GRUCell", {"bias": False})]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, options", CELLS)
def test_cell_matches_torch(name, options, dtype, device):
    theirs, ours = twins(name, 3, 4, dtype=dtype, **options)
    tx, x = pair_of_inputs((2, 3), dtype, device, seed=1)
    th, h = pair_of_inputs((2, 4), dtype, device, seed=2)
    if name == "LSTMCell":
        tc, c = pair_of_inputs((2, 4), dtype, device, seed=3)
        check_against_torch(theirs, ours, (tx, (th, tc)), (x, (h, c)), dtype, device)
    else:
        check_against_torch(theirs, ours, (tx, th), (x, h), dtype, device)


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_without_state_and_unbatched(name, device):
    theirs, ours = twins(name, 3, 4)
    tx, x = pair_of_inputs((2, 3), np.float64, device, seed=1)
    check_against_torch(theirs, ours, (tx,), (x,), np.float64, device)
    tx, x = pair_of_inputs((3,), np.float64, device, seed=4)
    check_against_torch(theirs, ours, (tx,), (x,), np.float64, device)
    assert flat(ours(x))[0].shape == (4,)


# ---------------------------------------------------------------------------------------------------------------
# Sequence layers
# ---------------------------------------------------------------------------------------------------------------
SEQUENCE_OPTIONS = [{}, {"num_layers": 2}, {"bidirectional": True}, {"num_layers": 2, "bidirectional": True},
                    {"batch_first": True}, {"bias": False}]


def states(name, shape, dtype, device):
    """Random initial states: h_0, or (h_0, c_0) for LSTM, as torch and as our tensors."""
    th, h = pair_of_inputs(shape, dtype, device, seed=5)
    if name != "LSTM":
        return th, h
    tc, c = pair_of_inputs(shape, dtype, device, seed=6)
    return (th, tc), (h, c)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", SEQUENCE_OPTIONS, ids=lambda o: ",".join(o) or "default")
@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_sequence_layer_matches_torch(name, options, dtype, device):
    theirs, ours = twins(name, 3, 4, dtype=dtype, **options)
    T, N = 5, 2
    tx, x = pair_of_inputs((N, T, 3) if options.get("batch_first") else (T, N, 3), dtype, device, seed=1)
    directions = 2 if options.get("bidirectional") else 1
    th, h = states(name, (options.get("num_layers", 1) * directions, N, 4), dtype, device)
    check_against_torch(theirs, ours, (tx, th), (x, h), dtype, device)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", [{}, {"num_layers": 2, "bidirectional": True}, {"batch_first": True}],
                         ids=lambda o: ",".join(o) or "default")
def test_lstm_with_projections_matches_torch(options, dtype, device):
    """proj_size: h_t = W_hr (o_t * tanh(c_t)), so h_0, h_n and the output have proj_size features, c hidden_size;
    weight_hr_l{k} comes after the biases in the state_dict, and the next layer reads the projected h."""
    theirs, ours = twins("LSTM", 3, 5, dtype=dtype, proj_size=2, **options)
    assert [name for name, _ in ours.named_parameters()] == [name for name, _ in theirs.named_parameters()]
    assert repr(ours) == repr(theirs)
    T, N = 4, 2
    tx, x = pair_of_inputs((N, T, 3) if options.get("batch_first") else (T, N, 3), dtype, device, seed=1)
    layers = options.get("num_layers", 1) * (2 if options.get("bidirectional") else 1)
    th, h = pair_of_inputs((layers, N, 2), dtype, device, seed=5)
    tc, c = pair_of_inputs((layers, N, 5), dtype, device, seed=6)
    check_against_torch(theirs, ours, (tx, (th, tc)), (x, (h, c)), dtype, device)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_sequence_layer_without_state_and_unbatched(name, device):
    theirs, ours = twins(name, 3, 4, num_layers=2, bidirectional=True)
    tx, x = pair_of_inputs((5, 2, 3), np.float64, device, seed=1)
    check_against_torch(theirs, ours, (tx,), (x,), np.float64, device)
    tx, x = pair_of_inputs((5, 3), np.float64, device, seed=2)  # unbatched: (L, H_in), batch_first is ignored
    th, h = states(name, (4, 4), np.float64, device)
    check_against_torch(theirs, ours, (tx, th), (x, h), np.float64, device)
    output, state = ours(x, h)
    assert output.shape == (5, 8) and flat(state)[0].shape == (4, 4)


def test_relu_rnn_matches_torch(device):
    theirs, ours = twins("RNN", 3, 4, num_layers=2, nonlinearity="relu")
    tx, x = pair_of_inputs((5, 2, 3), np.float64, device, seed=1)
    check_against_torch(theirs, ours, (tx,), (x,), np.float64, device)


def test_dropout_between_layers_only_in_training():
    tg.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    x = tg.randn(5, 2, 3)
    lstm.eval()
    first, second = lstm(x)[0], lstm(x)[0]
    assert np.array_equal(first.numpy(), second.numpy())
    lstm.train()
    assert not np.array_equal(lstm(x)[0].numpy(), first.numpy())
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.GRU(3, 4, dropout=0.5)


# ---------------------------------------------------------------------------------------------------------------
# PyTorch's names, init and errors
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, args, options", [("LSTM", (3, 4), {"num_layers": 2, "bidirectional": True}),
                                                 ("GRU", (3, 4), {"bias": False}), ("RNN", (3, 4), {}),
                                                 ("LSTMCell", (3, 4), {}), ("GRUCell", (3, 4), {}),
                                                 ("RNNCell", (3, 4), {"bias": False})])
def test_parameter_names_and_shapes_are_pytorchs(name, args, options):
    torch = import_torch()
    theirs, ours = getattr(torch.nn, name)(*args, **options), getattr(nn, name)(*args, **options)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    assert repr(ours) == repr(theirs)
    if hasattr(theirs, "all_weights"):
        assert [[tuple(w.shape) for w in ws] for ws in ours.all_weights] == \
            [[tuple(w.shape) for w in ws] for ws in theirs.all_weights]
        assert ours.flatten_parameters() is None  # PyTorch's cuDNN idiom: nothing to pack here


def test_gru_gradcheck_through_time():
    gru = nn.GRU(2, 3, bidirectional=True).double()
    x = tg.Tensor(np.random.default_rng(0).standard_normal((4, 2, 2)), requires_grad=True)
    assert tg.gradcheck(lambda x: gru(x)[0], (x,))


def test_init_is_uniform_within_one_over_sqrt_hidden():
    tg.manual_seed(0)
    lstm = nn.LSTM(10, 16, num_layers=2)
    values = np.concatenate([p.numpy().ravel() for p in lstm.parameters()])
    assert np.abs(values).max() <= 1 / np.sqrt(16) and np.abs(values).max() > 0.9 / np.sqrt(16)
    assert abs(values.mean()) < 0.01


@pytest.mark.parametrize("make, match, error", [
    (lambda: nn.RNN(3, 4, nonlinearity="x"), "Unknown nonlinearity 'x'", ValueError),
    (lambda: nn.RNNCell(3, 4, nonlinearity="x"), "Unknown nonlinearity 'x'", ValueError),
    (lambda: nn.RNN(3, 0), "hidden_size must be greater than zero", ValueError),
    (lambda: nn.GRU(3, 4, num_layers=0), "num_layers must be greater than zero", ValueError),
    (lambda: nn.LSTM(3, 4, dropout=2), "dropout should be a number in range", ValueError),
    (lambda: nn.LSTM(3, 4, proj_size=4), "proj_size has to be smaller than hidden_size", ValueError),
    (lambda: nn.LSTM(3, 4, proj_size=-1), "proj_size should be a positive integer or zero", ValueError),
    (lambda: nn.LSTM(3, 4, proj_size=2)(tg.zeros(2, 2, 3), (tg.zeros(1, 2, 4), tg.zeros(1, 2, 4))),
     r"Expected hidden\[0\] size \(1, 2, 2\), got \[1, 2, 4\]", RuntimeError),
    (lambda: nn.RNN(3, 4)(tg.zeros(2, 2, 2, 3)), "RNN: Expected input to be 2D or 3D, got 4D", ValueError),
    (lambda: nn.RNN(3, 4)(tg.zeros(2, 2, 5)), r"input.size\(-1\) must be equal to input_size. Expected 3, got 5",
     RuntimeError),
    (lambda: nn.RNN(3, 4)(tg.zeros(2, 2, 3), tg.zeros(2, 2, 4)), r"Expected hidden size \(1, 2, 4\), got \[2, 2, 4\]",
     RuntimeError),
    (lambda: nn.LSTM(3, 4)(tg.zeros(2, 2, 3), (tg.zeros(1, 2, 4), tg.zeros(1, 3, 4))),
     r"Expected hidden\[1\] size \(1, 2, 4\), got \[1, 3, 4\]", RuntimeError),
    (lambda: nn.RNN(3, 4)(tg.zeros(2, 2, 3), tg.zeros(2, 4)), "For batched 3-D input, hx should also be 3-D",
     RuntimeError),
    (lambda: nn.RNN(3, 4)(tg.zeros(2, 3), tg.zeros(1, 2, 4)), "For unbatched 2-D input, hx should also be 2-D",
     RuntimeError),
    (lambda: nn.RNNCell(3, 4)(tg.zeros(2, 2, 3)), "RNNCell: Expected input to be 1D or 2D, got 3D", ValueError),
    (lambda: nn.GRUCell(3, 4)(tg.zeros(2, 5)), "input has inconsistent input_size: got 5 expected 3", RuntimeError),
    (lambda: nn.RNNCell(3, 4)(tg.zeros(2, 3), tg.zeros(3, 4)), "Input batch size 2 doesn't match hidden0 batch size 3",
     RuntimeError),
    (lambda: nn.RNNCell(3, 4)(tg.zeros(2, 3), tg.zeros(2, 5)),
     "hidden0 has inconsistent hidden_size: got 5, expected 4", RuntimeError),
    (lambda: nn.LSTMCell(3, 4)(tg.zeros(2, 3), tg.zeros(2, 4)), "tuple", TypeError),
])
def test_argument_errors_are_pytorchs(make, match, error):
    with pytest.raises(error, match=match):
        make()
