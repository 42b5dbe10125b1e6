"""gradcheck: compare a backward pass with central finite differences, in float64.

For a function f of tensors, backward() gives the analytic gradient. The numeric one comes from the definition
of the derivative, with the central difference (error O(eps^2) instead of O(eps)):

    dL/dx_i  ~  (L(x + eps e_i) - L(x - eps e_i)) / (2 eps)

To check every output at once with one backward pass, the output is reduced to a scalar with fixed random weights,
L = sum(f(x) * w): a wrong entry anywhere in the Jacobian changes dL/dx almost surely. Float64 matters: in
float32 the rounding error of L (about 1e-7 * |L|) divided by 2 eps swamps the derivative.
"""
import numpy as np

from .autograd import no_grad
from .backend import get_array_module, to_numpy
from .tensors import Tensor


class GradcheckError(AssertionError):
    """The analytic gradient of an input disagrees with the numeric one."""


def _as_tuple(outputs):
    return outputs if isinstance(outputs, (tuple, list)) else (outputs,)


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """Check the gradient of `fn(*inputs)` with respect to every input that requires grad.

    The inputs are copied to float64 (so the caller's tensors are untouched). Returns True, or raises
    GradcheckError naming the input, the worst element, the analytic and the numeric value.
    """
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    probes = []
    for t in inputs:
        if isinstance(t, Tensor) and t.requires_grad:
            probes.append(Tensor(t.array, dtype=np.float64, requires_grad=True))
        elif isinstance(t, Tensor) and np.issubdtype(t.dtype, np.floating):
            probes.append(Tensor(t.array, dtype=np.float64))
        else:
            probes.append(t)
    checked = [i for i, t in enumerate(probes) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")

    outputs = _as_tuple(fn(*probes))
    rng = np.random.default_rng(seed)
    weights = [get_array_module(o.array).asarray(rng.standard_normal(o.shape)) for o in outputs]

    def loss():
        return sum(float((o.array.astype(np.float64) * w).sum()) for o, w in zip(_as_tuple(fn(*probes)), weights))

    # Analytic: one backward pass of L = sum(out * w), i.e. dL/dout = w.
    for out, w in zip(outputs, weights):
        if out.requires_grad:
            out.backward(Tensor(w, dtype=np.float64), retain_graph=True)

    for i in checked:
        x = probes[i]
        analytic = np.zeros(x.shape) if x.grad is None else to_numpy(x.grad.array)
        numeric = np.zeros(x.shape)
        with no_grad():
            # Index element by element: x.array may be non-contiguous (a transposed input), where reshape(-1)
            # would return a copy and the perturbation would never reach x.
            for element in np.ndindex(*x.shape):
                original = float(x.array[element])
                x.array[element] = original + eps
                plus = loss()
                x.array[element] = original - eps
                minus = loss()
                x.array[element] = original
                numeric[element] = (plus - minus) / (2 * eps)
        error = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
        if (error > 0).any():
            worst = np.unravel_index(int(np.argmax(error)), x.shape) if x.ndim else ()
            raise GradcheckError(
                f"gradcheck failed for input {i} (shape {x.shape}) at element {tuple(int(k) for k in worst)}: "
                f"analytic {analytic[worst]:.10g} vs numeric {numeric[worst]:.10g} "
                f"(atol={atol}, rtol={rtol}; {int((error > 0).sum())} of {x.numel()} elements differ)")
    return True
