"""`torch.nn.parallel` on one device: `DataParallel(model)` and `data_parallel(model, inputs)` run the model as it is.

PyTorch splits a batch over several GPUs and gathers the outputs; tinygrad_bn runs on one device, where PyTorch's
DataParallel also just calls the module. The wrapper keeps PyTorch's structure, so a checkpoint saved from a
DataParallel model (keys "module.conv1.weight", ...) loads into one here and back.
"""
from tinygrad_bn.nn.module import Module


class DataParallel(Module):
    """Holds the model as `self.module` and calls it; device_ids, output_device and dim are kept, not used."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        self.module = module
        self.device_ids = [] if device_ids is None else list(device_ids)
        self.output_device = output_device
        self.dim = dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0, module_kwargs=None):
    """module(*inputs, **module_kwargs) on the one device (inputs: one value or a tuple)."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,) if inputs is not None else ()
    return module(*inputs, **(module_kwargs or {}))


__all__ = ["DataParallel", "data_parallel"]
