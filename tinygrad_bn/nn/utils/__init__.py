"""torch.nn.utils: gradient clipping (clip_grad.py), the parameters as one vector (convert_parameters.py), packed
sequences for the recurrent layers (rnn.py, used as nn.utils.rnn.pack_padded_sequence, like PyTorch's)."""
from . import rnn
from .clip_grad import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm
from .convert_parameters import parameters_to_vector, vector_to_parameters

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm", "parameters_to_vector",
           "rnn", "vector_to_parameters"]
