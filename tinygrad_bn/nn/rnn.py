"""Recurrent layers: RNN, LSTM and GRU, one time step at a time (the cells) or over a whole sequence.

Everything here is composed from differentiable Tensor ops (linear, sigmoid, tanh, slicing, cat, stack): autograd
differentiates the unrolled loop, which is backpropagation through time, so no layer has a backward of its own.

One step of each cell, with PyTorch's gate order (the rows of weight_ih and weight_hh are the gates, stacked):

    RNN:   h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)            (or relu)
    LSTM:  i, f, g, o = sigma(.), sigma(.), tanh(.), sigma(.) of x W_ih^T + b_ih + h W_hh^T + b_hh, split in 4
           c' = f * c + i * g,   h' = o * tanh(c')
    GRU:   r = sigma(W_ir x + b_ir + W_hr h + b_hr),  z = sigma(W_iz x + b_iz + W_hz h + b_hz)
           n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h' = (1 - z) * n + z * h

A multi-layer RNN feeds layer l's outputs (both directions side by side when bidirectional) to layer l + 1, with
dropout between layers in training. RNN, LSTM and GRU also take a PackedSequence (nn/utils/rnn.py: sequences of
different lengths, without padding) and return one: the time loop runs over the packed time steps, and at step t
only the first batch_sizes[t] sequences are running, so the state's rows shrink as sequences end (forward in time)
or grow as they start at their own last step (backward in time); a padded (T, B, ...) input is the case where all B
run at every step.

Init (PyTorch's): every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).
"""
import math
import warnings

from ..tensors import cat, float32, stack, zeros
from . import functional as F
from . import init
from .module import Module, Parameter
from .utils.rnn import PackedSequence


def _gates(pre_activation, count):
    """Split the last dim into `count` equal blocks: the gates, in the order their weights are stacked."""
    size = pre_activation.shape[-1] // count
    return [pre_activation[..., k * size:(k + 1) * size] for k in range(count)]


# Each step takes gx = x W_ih^T + b_ih and gh = h W_hh^T + b_hh (all gates at once) and the state, and returns the
# new state: h for RNN and GRU, (h, c) for LSTM.
def rnn_tanh_step(gx, gh, h):
    return (gx + gh).tanh()


def rnn_relu_step(gx, gh, h):
    return (gx + gh).relu()


def lstm_step(gx, gh, state):
    _, c = state  # h enters through gh
    i, f, g, o = _gates(gx + gh, 4)
    i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
    c = f * c + i * g
    return o * c.tanh(), c


def gru_step(gx, gh, h):
    x_r, x_z, x_n = _gates(gx, 3)
    h_r, h_z, h_n = _gates(gh, 3)  # b_hn stays inside r * (...): GRU's n is not tanh(gx + gh)
    r = (x_r + h_r).sigmoid()
    z = (x_z + h_z).sigmoid()
    n = (x_n + r * h_n).tanh()
    return (1 - z) * n + z * h


_STEPS = {"RNN_TANH": rnn_tanh_step, "RNN_RELU": rnn_relu_step, "LSTM": lstm_step, "GRU": gru_step}
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _rnn_mode(nonlinearity):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
    return "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"


def _reset_uniform(module):
    """PyTorch's init for every recurrent weight and bias: U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
    bound = 1.0 / math.sqrt(module.hidden_size) if module.hidden_size > 0 else 0
    for weight in module.parameters():
        init.uniform_(weight, -bound, bound)


# ----------------------------------------------------------------------------------------------------------------
# Cells: one time step on a (batch, input_size) or unbatched (input_size,) input.
# ----------------------------------------------------------------------------------------------------------------
class RNNCellBase(Module):
    """What the cells share: weight_ih (gates * hidden, input), weight_hh (gates * hidden, hidden), bias_ih and
    bias_hh (gates * hidden), and the shape checks. (PyTorch's takes num_chunks where this takes the mode.)"""

    def __init__(self, input_size, hidden_size, bias, mode, device, dtype):
        super().__init__()
        self.input_size, self.hidden_size, self.bias, self.mode = input_size, hidden_size, bias, mode
        gate_size, dtype = _GATES[mode] * hidden_size, dtype or float32
        self.weight_ih = Parameter(zeros((gate_size, input_size), dtype=dtype, device=device))
        self.weight_hh = Parameter(zeros((gate_size, hidden_size), dtype=dtype, device=device))
        if bias:
            self.bias_ih = Parameter(zeros((gate_size,), dtype=dtype, device=device))
            self.bias_hh = Parameter(zeros((gate_size,), dtype=dtype, device=device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        _reset_uniform(self)

    def _check(self, input, hx):
        if input.ndim not in (1, 2):
            raise ValueError(f"{type(self).__name__}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[-1]} expected {self.input_size}")
        for k, h in enumerate(hx if isinstance(hx, tuple) else (hx,)):
            if h is None:
                continue
            if h.ndim != input.ndim:
                raise ValueError(f"{type(self).__name__}: Expected hidden to be {input.ndim}D, got {h.ndim}D instead")
            if input.ndim == 2 and h.shape[0] != input.shape[0]:
                raise RuntimeError(f"Input batch size {input.shape[0]} doesn't match hidden{k} batch size "
                                   f"{h.shape[0]}")
            if h.shape[-1] != self.hidden_size:
                raise RuntimeError(f"hidden{k} has inconsistent hidden_size: got {h.shape[-1]}, expected "
                                   f"{self.hidden_size}")

    def _step(self, input, state):
        gx = F.linear(input, self.weight_ih, self.bias_ih)
        h = state[0] if isinstance(state, tuple) else state
        gh = F.linear(h, self.weight_hh, self.bias_hh)
        return _STEPS[self.mode](gx, gh, state)

    def _zeros(self, input):
        return zeros(input.shape[:-1] + (self.hidden_size,), dtype=input.dtype, device=input.device)

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            text += ", bias=False"
        if self.mode == "RNN_RELU":
            text += ", nonlinearity=relu"
        return text


class _SingleStateCell(RNNCellBase):
    """RNNCell and GRUCell: the state is one tensor h of shape (batch, hidden_size), zeros when not given."""

    def forward(self, input, hx=None):
        self._check(input, hx)
        unbatched = input.ndim == 1
        if unbatched:
            input, hx = input.unsqueeze(0), None if hx is None else hx.unsqueeze(0)
        h = self._step(input, self._zeros(input) if hx is None else hx)
        return h.squeeze(0) if unbatched else h


class RNNCell(_SingleStateCell):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh), or relu instead of tanh (nonlinearity="relu")."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", *, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, _rnn_mode(nonlinearity), device, dtype)
        self.nonlinearity = nonlinearity


class GRUCell(_SingleStateCell):
    """r = sigma(W_ir x + b_ir + W_hr h + b_hr), z = sigma(W_iz x + b_iz + W_hz h + b_hz),
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h. Gates stacked in the order r, z, n."""

    def __init__(self, input_size, hidden_size, bias=True, *, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, "GRU", device, dtype)


class LSTMCell(RNNCellBase):
    """i = sigma(W_ii x + b_ii + W_hi h + b_hi), f = sigma(...), g = tanh(...), o = sigma(...) (gates stacked in
    the order i, f, g, o); c' = f * c + i * g, h' = o * tanh(c'). Returns (h', c'); hx is (h, c), zeros if None."""

    def __init__(self, input_size, hidden_size, bias=True, *, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, "LSTM", device, dtype)

    def forward(self, input, hx=None):
        if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError("LSTMCell: hx must be a tuple (h, c) of two Tensors")
        hx = None if hx is None else tuple(hx)
        self._check(input, hx)
        unbatched = input.ndim == 1
        if unbatched:
            input = input.unsqueeze(0)
            hx = None if hx is None else (hx[0].unsqueeze(0), hx[1].unsqueeze(0))
        h, c = self._step(input, (self._zeros(input), self._zeros(input)) if hx is None else hx)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


# ----------------------------------------------------------------------------------------------------------------
# Whole sequences: num_layers stacked, each one direction or two.
# ----------------------------------------------------------------------------------------------------------------
class RNNBase(Module):
    """What RNN, LSTM and GRU share: the parameters weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}
    (and the same with the suffix _reverse for the backward direction), the shape checks and the loop over layers,
    directions and time steps."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if not (isinstance(dropout, (int, float)) and 0 <= dropout <= 1) or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}")
        if not isinstance(hidden_size, int) or isinstance(hidden_size, bool):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError(f"proj_size has to be smaller than hidden_size, got proj_size={proj_size} and "
                             f"hidden_size={hidden_size}")
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        gate_size, dtype = _GATES[mode] * hidden_size, dtype or float32
        h_size = proj_size or hidden_size  # h is projected to proj_size when it is set (LSTM only); c is not
        num_directions = 2 if bidirectional else 1
        for layer in range(num_layers):
            layer_input_size = input_size if layer == 0 else h_size * num_directions
            for suffix in ("", "_reverse")[:num_directions]:
                shapes = {"weight_ih": (gate_size, layer_input_size), "weight_hh": (gate_size, h_size)}
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                if proj_size:
                    shapes.update(weight_hr=(proj_size, hidden_size))
                for name, shape in shapes.items():
                    setattr(self, f"{name}_l{layer}{suffix}",
                            Parameter(zeros(shape, dtype=dtype, device=device)))
        self.reset_parameters()

    def reset_parameters(self):
        _reset_uniform(self)

    def _weights(self, layer, direction):
        """(weight_ih, weight_hh, bias_ih, bias_hh, weight_hr) of one layer and direction (the biases None if
        bias=False, weight_hr None without proj_size)."""
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        return tuple(self._parameters.get(name + suffix)
                     for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"))

    def _check_input(self, input):
        if input.ndim not in (2, 3):
            raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got {input.ndim}D tensor "
                             "instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {input.shape[-1]}")

    def _expected_state_shapes(self, batch):
        """The shape of each state: h (num_layers * D, batch, proj_size or hidden_size), and c for LSTM (num_layers
        * D, batch, hidden_size)."""
        layers = self.num_layers * (2 if self.bidirectional else 1)
        h_shape = (layers, batch, self.proj_size or self.hidden_size)
        return (h_shape, (layers, batch, self.hidden_size)) if self.mode == "LSTM" else (h_shape,)

    def _run(self, data, batch_sizes, states):
        """data (rows, input_size): the time steps one after another, as in a packed sequence (nn/utils/rnn.py):
        at step t the first batch_sizes[t] sequences of the batch (an unpacked (T, B, ...) input is the case where
        every batch_sizes[t] is B). states: a tuple of (num_layers * num_directions, B, hidden) tensors, h (and c
        for LSTM). Returns the output, rows like data's, (rows, num_directions * hidden), and the final states,
        stacked the same way."""
        num_directions = 2 if self.bidirectional else 1
        finals = []
        x = data
        for layer in range(self.num_layers):
            if layer > 0:  # between layers, not after the last one
                x = F.dropout(x, self.dropout, self.training)
            outputs = []
            for direction in range(num_directions):
                index = layer * num_directions + direction
                state = tuple(s[index] for s in states)
                hs, state = self._run_one_direction(x, batch_sizes, self._weights(layer, direction), state,
                                                    reverse=direction)
                outputs.append(hs)
                finals.append(state)
            x = cat(outputs, dim=-1)  # both directions side by side: (rows, D * hidden), forward first
        return x, tuple(stack([state[k] for state in finals]) for k in range(len(states)))

    def _run_one_direction(self, x, batch_sizes, weights, initial, reverse):
        """Step through x's time steps (rows as in _run) forward in time, or backward if reverse, from the state
        `initial` (a tuple: (h,) or (h, c), B rows each). Returns h at every step, rows in x's order, and each
        sequence's final state (B rows).

        At step t only the first batch_sizes[t] sequences are running, so the state keeps that many rows: forward
        in time the batch shrinks, and a sequence's state is final when its row is dropped; backward in time it
        grows, and a sequence starts at its own last step, from its initial state.

        The gradient of each slice of gx is added into gx's gradient in place (autograd's IndexedGradient), so
        backpropagation through time costs O(T) in the sequence length T."""
        weight_ih, weight_hh, bias_ih, bias_hh, weight_hr = weights
        step = _STEPS[self.mode]
        gx = F.linear(x, weight_ih, bias_ih)  # the input's part of every gate, at every time step at once
        starts = [0]  # the first row of each time step
        for size in batch_sizes[:-1]:
            starts.append(starts[-1] + size)
        times = range(len(batch_sizes))
        times = times[::-1] if reverse else times
        state = tuple(s[:batch_sizes[times[0]]] for s in initial)  # the sequences running at the first step
        finished = []  # the final states of sequences that ended early: the last rows first
        hs = [None] * len(batch_sizes)
        for t in times:
            running, rows = batch_sizes[t], state[0].shape[0]
            if running < rows:  # the last rows' sequences have ended: their state is final
                finished.append(tuple(s[running:] for s in state))
                state = tuple(s[:running] for s in state)
            elif running > rows:  # (backward in time) the next sequences start here, at their own last step
                state = tuple(cat([s, s0[rows:running]]) for s, s0 in zip(state, initial))
            gh = F.linear(state[0], weight_hh, bias_hh)
            state = step(gx[starts[t]:starts[t] + running], gh, state if self.mode == "LSTM" else state[0])
            state = state if self.mode == "LSTM" else (state,)
            if weight_hr is not None:  # LSTM with proj_size: h_t = W_hr (o * tanh(c_t))
                state = (F.linear(state[0], weight_hr), state[1])
            hs[t] = state[0]
        if finished:  # put the rows back in order: the sequences still running hold the first rows
            state = tuple(cat([s] + [piece[k] for piece in reversed(finished)]) for k, s in enumerate(state))
        return cat(hs), state

    def _initial_states(self, hx, batch, like):
        """hx (a tuple of state tensors) checked against the expected shapes (_expected_state_shapes), or zeros of
        those shapes, in like's dtype and on its device, when hx is None."""
        expected = self._expected_state_shapes(batch)
        if hx is None:
            return tuple(zeros(shape, dtype=like.dtype, device=like.device) for shape in expected)
        for k, (h, shape) in enumerate(zip(hx, expected)):
            if tuple(h.shape) != shape:
                which = f"hidden[{k}]" if len(expected) == 2 else "hidden"
                raise RuntimeError(f"Expected {which} size {shape}, got {list(h.shape)}")
        return hx

    def _forward(self, input, hx):
        """The shared forward: hx is None or a tuple of state tensors; returns (output, tuple of final states)."""
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        self._check_input(input)
        batched = input.ndim == 3
        for h in hx or ():
            if batched and h.ndim != 3:
                raise RuntimeError(f"For batched 3-D input, hx should also be 3-D but got {h.ndim}-D tensor")
            if not batched and h.ndim != 2:
                raise RuntimeError(f"For unbatched 2-D input, hx should also be 2-D but got {h.ndim}-D tensor")
        if not batched:  # one sequence: a batch of one, in dim 1 (batch_first does not apply)
            input, hx = input.unsqueeze(1), None if hx is None else tuple(h.unsqueeze(1) for h in hx)
        elif self.batch_first:
            input = input.transpose(0, 1)
        T, B = input.shape[:2]
        hx = self._initial_states(hx, B, input)
        output, finals = self._run(input.reshape(T * B, self.input_size), [B] * T, hx)
        output = output.reshape(T, B, output.shape[-1])
        if not batched:
            return output.squeeze(1), tuple(f.squeeze(1) for f in finals)
        if self.batch_first:
            output = output.transpose(0, 1)
        return output, finals

    def _forward_packed(self, input, hx):
        """A PackedSequence in, a PackedSequence out (same batch_sizes and permutations). hx and the final states
        are in the caller's batch order; the packed data is in the sorted order, so they are permuted on the way
        in (sorted_indices) and back on the way out (unsorted_indices)."""
        data, batch_sizes, sorted_indices, unsorted_indices = input
        if data.ndim != 2:
            raise RuntimeError(f"input must have 2 dimensions, got {data.ndim}")
        self._check_input(data)
        batch_sizes = batch_sizes.tolist()
        hx = self._initial_states(hx, batch_sizes[0], data)
        if sorted_indices is not None:
            hx = tuple(h[:, sorted_indices] for h in hx)
        output, finals = self._run(data, batch_sizes, hx)
        if unsorted_indices is not None:
            finals = tuple(f[:, unsorted_indices] for f in finals)
        return PackedSequence(output, input.batch_sizes, sorted_indices, unsorted_indices), finals

    def flatten_parameters(self):
        """PyTorch packs the weights into one cuDNN buffer here; these layers use them as they are: nothing to do."""

    @property
    def all_weights(self):
        """The parameters of each layer and direction: [[weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0], ...]."""
        num_directions = 2 if self.bidirectional else 1
        return [[w for w in self._weights(layer, direction) if w is not None]
                for layer in range(self.num_layers) for direction in range(num_directions)]

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        for name, default in (("proj_size", 0), ("num_layers", 1), ("bias", True), ("batch_first", False),
                              ("dropout", 0.0), ("bidirectional", False)):
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name)}"
        if self.mode == "RNN_RELU":
            text += ", nonlinearity=relu"
        return text


class RNN(RNNBase):
    """Elman RNN over a sequence: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu), per layer.

    input (L, N, H_in) ((N, L, H_in) with batch_first, (L, H_in) unbatched), h_0 (num_layers * D, N, H_out) or
    zeros. Returns (output (L, N, D * H_out): the last layer's h_t for every t, h_n: every layer's last h_t).
    A PackedSequence input gives a PackedSequence output, and h_n holds each sequence's own last h_t.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, *, device=None, dtype=None):
        super().__init__(_rnn_mode(nonlinearity), input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        output, (h_n,) = self._forward(input, None if hx is None else (hx,))
        return output, h_n


class GRU(RNNBase):
    """GRU over a sequence: per layer and step, r, z, n and h' as in GRUCell. Returns (output, h_n), shapes as RNN."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, *, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)

    def forward(self, input, hx=None):
        output, (h_n,) = self._forward(input, None if hx is None else (hx,))
        return output, h_n


class LSTM(RNNBase):
    """LSTM over a sequence: per layer and step, the gates and c', h' as in LSTMCell. hx is (h_0, c_0) or None.
    Returns (output, (h_n, c_n)), shapes as RNN (c like h). With proj_size > 0, h is projected after each step,
    h_t = W_hr (o_t * tanh(c_t)) (weight_hr_l{k}: (proj_size, hidden_size)), so h_0, h_n and the output have
    proj_size features where c keeps hidden_size."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, *, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError("LSTM: hx must be a tuple (h_0, c_0) of two Tensors")
        output, (h_n, c_n) = self._forward(input, None if hx is None else tuple(hx))
        return output, (h_n, c_n)
