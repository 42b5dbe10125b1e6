"""All the parameters as one flat vector and back, as PyTorch's torch.nn.utils (for optimizers and analyses that see
the weights as a single point in a long vector: line searches, weight averaging, a loss landscape's directions)."""
from ...autograd import no_grad
from ...tensors import Tensor, cat


def parameters_to_vector(parameters):
    """One 1-D tensor: each parameter flattened, in order, concatenated (a copy; it carries gradients back)."""
    parameters = list(parameters)
    _check_one_device(parameters)
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-D tensor `vec` into the parameters, in place (no gradient is recorded)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    parameters = list(parameters)
    _check_one_device(parameters)
    needed = sum(p.numel() for p in parameters)
    if vec.ndim != 1 or vec.shape[0] != needed:
        raise RuntimeError(f"vector_to_parameters: expected a 1-D vector of {needed} elements for the parameters, "
                           f"got shape {tuple(vec.shape)}")
    start = 0
    with no_grad():
        for p in parameters:
            p.array[...] = vec[start:start + p.numel()].reshape(p.shape).to(p.dtype).array
            start += p.numel()


def _check_one_device(parameters):
    devices = {p.device for p in parameters}
    if len(devices) > 1:
        raise TypeError(f"Found two parameters on different devices, this is currently not supported: "
                        f"{sorted(devices)}")
