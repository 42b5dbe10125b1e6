"""Gradient clipping, as PyTorch's torch.nn.utils: rescale (or clamp) the gradients in place before the optimizer
step, so that one bad batch cannot throw the weights far (recurrent networks, where gradients can explode through
time, are the classic case).

    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.25)   # returns the norm before clipping
    optimizer.step()
"""
import math

from ...autograd import no_grad
from ...tensors import Tensor, stack


def _gradients(parameters):
    """The .grad of each parameter that has one; `parameters` is one Tensor or an iterable of them."""
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad for p in parameters if p.grad is not None]


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The norm of all the tensors together, as if concatenated into one vector: (sum_i ||t_i||_p^p)^(1/p), which is
    the p-norm of the vector of the tensors' own p-norms; for p = inf, the largest absolute value of any element."""
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return Tensor(0.0)
    with no_grad():
        norms = stack([_norm(t.to(tensors[0].dtype), norm_type) for t in tensors])
        total = _norm(norms, norm_type)
    if error_if_nonfinite and not math.isfinite(total.item()):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so "
                           "it cannot be clipped. To disable this error and scale the gradients by the non-finite "
                           "norm anyway, set `error_if_nonfinite=False`")
    return total


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale every gradient by min(1, max_norm / (total_norm + 1e-6)), in place (PyTorch's 1e-6 keeps a zero norm
    from dividing by zero)."""
    gradients = _gradients(parameters)
    if not gradients:
        return
    with no_grad():
        scale = (float(max_norm) / (total_norm + 1e-6)).clamp(max=1.0)
        for grad in gradients:
            grad.array *= scale.to(grad.dtype).array  # a 0-d array: the same line on NumPy and CuPy


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Rescale the gradients in place so that their total norm (get_total_norm) is at most max_norm; returns the
    total norm measured before clipping (a 0-d Tensor). Parameters without a gradient are left out."""
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)  # a generator is read once
    total_norm = get_total_norm(_gradients(parameters), norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total_norm)
    return total_norm


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element into [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    for grad in _gradients(parameters):
        grad.array[...] = grad.clamp(-clip_value, clip_value).array


def _norm(t, p):
    """||t||_p over all its elements; p = inf: the largest absolute value."""
    return t.abs().max() if p == math.inf else (t.abs() ** p).sum() ** (1.0 / p)
