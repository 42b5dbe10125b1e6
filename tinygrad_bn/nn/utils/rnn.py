"""Packed sequences, as PyTorch's torch.nn.utils.rnn: a batch of sequences of different lengths, stored without
padding, so that a recurrent layer runs each sequence over its own time steps only.

Three sequences a, b, c of lengths 3, 2, 1 (sorted longest first), padded and packed:

    padded (T, B, *):   a0 b0 c0        packed data (rows, *):  a0 b0 c0 | a1 b1 | a2
                        a1 b1 .         batch_sizes:            3          2       1
                        a2 .  .

The packed data lists the time steps one after another; at step t only the sequences still running are there, and
since the batch is sorted by decreasing length they are the first batch_sizes[t] of it. A batch that was not sorted
is sorted first: the b-th sequence of the sorted batch is sequences[sorted_indices[b]], and unsorted_indices is the
inverse permutation, which puts the results back in the caller's order.

Every function here only moves rows: packing gathers the valid rows of a padded tensor, padding puts them back with
`padding_value` elsewhere. Each move is one indexing op with a table of positions computed on the host from the
lengths, so the gradient is indexing's own (a scatter-add) and nothing here has a backward of its own.

    packed = pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
    output, h_n = gru(packed)                                   # a PackedSequence, and each sequence's last state
    output, lengths = pad_packed_sequence(output, batch_first=True)
"""
import collections

import numpy as np

from ...backend import to_numpy
from ...tensors import Tensor, cat, full, int64


def invert_permutation(permutation):
    """The permutation q with q[permutation[i]] = i (an int64 Tensor on the same device), or None for None."""
    if permutation is None:
        return None
    order = to_numpy(permutation.array)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return Tensor(inverse, dtype=int64, device=permutation.device)


class PackedSequence(collections.namedtuple("PackedSequence_", ["data", "batch_sizes", "sorted_indices",
                                                                "unsorted_indices"])):
    """data (sum of the lengths, *): the time steps one after another, at step t the first batch_sizes[t]
    sequences of the sorted batch; batch_sizes: an int64 Tensor on the CPU, one count per time step;
    sorted_indices / unsorted_indices: the sorting permutation and its inverse (None when the batch came sorted).

    Build one with pack_padded_sequence or pack_sequence; like PyTorch's, PackedSequence(data, batch_sizes,
    sorted_indices) also works, and computes unsorted_indices."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if batch_sizes is None:  # PackedSequence((data, batch_sizes)), as PyTorch allows
            data, batch_sizes = data
        if batch_sizes.device != "cpu":
            raise ValueError("batch_sizes should always be on CPU. Instances of PackedSequence should never be "
                             "created manually. They should be instantiated by functions like pack_sequence and "
                             "pack_padded_sequences in nn.utils.rnn. https://pytorch.org/docs/stable/nn.html"
                             "#torch.nn.utils.rnn.pack_sequence")
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        """data.to(...) (a device and/or dtype); the permutations follow data to its device, batch_sizes stays on
        the CPU. Returns self when data does not change."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        sorted_indices, unsorted_indices = (None if p is None else p.to(data.device)
                                            for p in (self.sorted_indices, self.unsorted_indices))
        return type(self)(data, self.batch_sizes, sorted_indices, unsorted_indices)

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def double(self):
        return self.to(np.dtype("float64"))

    def float(self):
        return self.to(np.dtype("float32"))

    def half(self):
        return self.to(np.dtype("float16"))

    def long(self):
        return self.to(np.dtype("int64"))

    def int(self):
        return self.to(np.dtype("int32"))

    @property
    def is_cuda(self):
        return self.data.device == "cuda"

    def is_pinned(self):
        return False


# -----------------------------------------------------------------------------------------------------------------
# The tables of positions
# -----------------------------------------------------------------------------------------------------------------
def _packed_positions(batch_sizes, sorted_indices):
    """For each row of the packed data, its time step and its sequence's place in the caller's batch: two int
    arrays. Row by row: step 0's sequences 0 .. batch_sizes[0] - 1 of the sorted batch, then step 1's, ..."""
    batch_sizes = to_numpy(batch_sizes.array) if isinstance(batch_sizes, Tensor) else np.asarray(batch_sizes)
    time = np.repeat(np.arange(len(batch_sizes)), batch_sizes)
    sorted_place = np.concatenate([np.arange(size) for size in batch_sizes]) if len(batch_sizes) else time
    batch = sorted_place if sorted_indices is None else to_numpy(sorted_indices.array)[sorted_place]
    return time, batch


def _place_rows(rows, time, batch, total_length, batch_size, batch_first, padding_value):
    """The padded (total_length, batch_size, *) tensor ((batch_size, total_length, *) if batch_first) that holds
    rows[i] at (time[i], batch[i]) and padding_value everywhere else.

    One gather: the rows with one padding row appended, indexed by a table that points each position at its row,
    or at the padding row."""
    padding_row = full((1,) + tuple(rows.shape[1:]), padding_value, dtype=rows.dtype, device=rows.device)
    row_at = np.full((total_length, batch_size), rows.shape[0])
    row_at[time, batch] = np.arange(rows.shape[0])
    return cat([rows, padding_row])[row_at.T if batch_first else row_at]


def _lengths_array(lengths):
    """lengths (a list, a NumPy array or a Tensor, as PyTorch takes them) as a 1-D int64 NumPy array."""
    lengths = to_numpy(lengths.array) if isinstance(lengths, Tensor) else np.asarray(lengths)
    if lengths.ndim != 1:
        raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got {lengths.ndim}D tensor")
    return lengths.astype(np.int64)


# -----------------------------------------------------------------------------------------------------------------
# Padding
# -----------------------------------------------------------------------------------------------------------------
def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack sequences of shapes (L_i, *) into one (max L_i, B, *) tensor ((B, max L_i, *) if batch_first),
    filling the missing steps with padding_value, after each sequence ("right") or before it ("left")."""
    if isinstance(sequences, Tensor):  # a tensor is the sequence of its rows, as in PyTorch
        sequences = [sequences[k] for k in range(sequences.shape[0])]
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    trailing = tuple(sequences[0].shape[1:])
    for k, sequence in enumerate(sequences):
        if tuple(sequence.shape[1:]) != trailing:
            raise RuntimeError(f"pad_sequence: every sequence must have the shape (L, *) with the same *: "
                               f"sequence 0 is {tuple(sequences[0].shape)}, sequence {k} is {tuple(sequence.shape)}")
    lengths = np.array([sequence.shape[0] for sequence in sequences], dtype=np.int64)
    total_length = int(lengths.max())
    batch = np.repeat(np.arange(len(sequences)), lengths)
    step = np.concatenate([np.arange(length) for length in lengths])  # each row's step in its own sequence
    time = step if padding_side == "right" else step + (total_length - lengths)[batch]
    return _place_rows(cat(sequences), time, batch, total_length, len(sequences), batch_first, padding_value)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of sequences that pad_sequence padded: sequence b is padded[:lengths[b], b] (right padding)."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[b, :int(length)] for b, length in enumerate(_lengths_array(lengths))]


# -----------------------------------------------------------------------------------------------------------------
# Packing
# -----------------------------------------------------------------------------------------------------------------
def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded (T, B, *) tensor ((B, T, *) if batch_first) whose b-th sequence has lengths[b] valid steps.

    enforce_sorted=True: the lengths must already decrease (sorted_indices is then None); False: the batch is
    sorted here, longest first (ties keep their order), and the permutation is kept in the PackedSequence."""
    if input.numel() == 0:
        raise RuntimeError(f"Cannot pack empty tensors (input of shape {tuple(input.shape)}).")
    lengths = _lengths_array(lengths)
    batch_size = input.shape[0 if batch_first else 1]
    if len(lengths) != batch_size:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got {len(lengths)} "
                           f"(batch_size={batch_size})")
    if (lengths <= 0).any():
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                           f"that is <= 0 (lengths: {lengths.tolist()})")
    total_length = input.shape[1 if batch_first else 0]
    if lengths.max() > total_length:  # PyTorch reads past the end of the input here; refuse instead
        raise RuntimeError(f"Every length must be at most the input's number of time steps {total_length}, but "
                           f"got lengths: {lengths.tolist()}")
    if enforce_sorted:
        if (np.diff(lengths) > 0).any():
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                               "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                               "sidestep this requirement if you do not need ONNX exportability. "
                               f"(lengths: {lengths.tolist()})")
        sorted_indices, sorted_lengths = None, lengths
    else:
        order = np.argsort(-lengths, kind="stable")
        sorted_indices, sorted_lengths = Tensor(order, dtype=int64, device=input.device), lengths[order]
    # batch_sizes[t]: how many sequences are longer than t
    batch_sizes = Tensor((sorted_lengths[None, :] > np.arange(sorted_lengths[0])[:, None]).sum(1), dtype=int64)
    time, batch = _packed_positions(batch_sizes, sorted_indices)
    data = input[(batch, time) if batch_first else (time, batch)]
    return PackedSequence(data, batch_sizes, sorted_indices)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """The inverse of pack_padded_sequence: (padded (T, B, *) or (B, T, *), lengths), in the caller's batch order.
    T is the longest length, or total_length (which must not be shorter)."""
    data, batch_sizes, sorted_indices, _ = sequence  # the positions come from sorted_indices
    longest = batch_sizes.shape[0]
    if total_length is not None:
        if total_length < longest:
            raise ValueError("Expected total_length to be at least the length of the longest sequence in input, "
                             f"but got total_length={total_length} and max sequence length being {longest}")
        longest = total_length
    time, batch = _packed_positions(batch_sizes, sorted_indices)
    batch_size = int(batch_sizes[0].item())
    padded = _place_rows(data, time, batch, longest, batch_size, batch_first, padding_value)
    lengths = np.bincount(batch, minlength=batch_size)  # each sequence's number of rows, in the caller's order
    return padded, Tensor(lengths, dtype=int64)


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of sequences of shapes (L_i, *): pad them, then pack them with their lengths."""
    lengths = [sequence.shape[0] for sequence in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The list of sequences that pack_sequence packed, in the caller's order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pack_sequence", "pad_packed_sequence",
           "pad_sequence", "unpack_sequence", "unpad_sequence"]
