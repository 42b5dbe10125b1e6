"""`tinygrad_bn.device`: PyTorch's device object, for code that writes `torch.device("cuda" if ... else "cpu")`.

Everywhere else a device is a plain name, "cpu" or "cuda" (a Tensor's `.device` is that string). A device object
prints as such a name, so it can be passed wherever a name is accepted (`Tensor(..., device=d)`, `t.to(d)`,
`model.to(d)`), and it compares equal to its name: `x.device == torch.device("cpu")` holds.
"""
from tinygrad_bn.backend import check_device


class device:
    """device("cpu"), device("cuda"), device("cuda:0") or device("cuda", 0). One GPU is supported: index 0."""

    def __init__(self, type, index=None):
        if isinstance(type, device):
            type, index = type.type, type.index
        name = str(type).lower()
        check_device(name)  # an unknown type or a malformed index ("cuda:x") raises here, as in PyTorch
        if ":" in name:
            if index is not None:
                raise RuntimeError(f"type (string) must not include an index because index was passed explicitly: "
                                   f"{type}")
            name, index = name.split(":", 1)
            index = int(index)
        if index is not None and (isinstance(index, bool) or not isinstance(index, int)):
            raise TypeError(f"device(): argument 'index' must be int, not {index.__class__.__name__}")
        if index is not None and index < 0:
            raise RuntimeError(f"Device index must not be negative, got {index}")
        if index is not None and name == "cpu" and index != 0:
            raise RuntimeError(f"there is only one CPU device, got index {index}")
        self.type, self.index = name, index

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        return f"device(type='{self.type}')" if self.index is None else \
            f"device(type='{self.type}', index={self.index})"

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        if not isinstance(other, device):
            return NotImplemented
        # A tensor's device is the bare name ("cuda"), so an index is only compared when both sides give one.
        same_index = self.index is None or other.index is None or self.index == other.index
        return self.type == other.type and same_index

    def __hash__(self):
        return hash(self.type)
