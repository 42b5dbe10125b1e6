"""One clear error for the PyTorch names tinygrad_bn does not have (torch.fft, nn.Bilinear, F.conv3d, ...).

The packages that PyTorch code reaches into (`tinygrad_bn`, `.nn`, `.nn.functional`) get a module-level `__getattr__`
(`missing_attribute_of`, installed by tinygrad_bn/pytorch/__init__.py) that calls `missing`, so `nn.Bilinear(...)` fails
with a sentence naming what is missing, instead of a bare AttributeError from deep inside the user's model.
"""

SEE_ALSO = "see \"Coming from PyTorch\" in README.md for what is supported"

# Names that are real PyTorch features (not typos), grouped by what they are, for a more precise message.
KNOWN = {
    "3-D convolution and pooling, transposed 1-D convolution": ("Conv3d", "ConvTranspose1d", "ConvTranspose3d",
                                                                "MaxPool3d", "AvgPool3d", "AdaptiveAvgPool3d",
                                                                "BatchNorm3d", "conv3d", "max_pool3d", "avg_pool3d"),
    "compilation, distribution and mixed precision": ("compile", "distributed", "amp", "autocast",
                                                      "quantization", "fx"),
}


def missing(module_name, name):
    """The AttributeError to raise for `module_name.name`; it names the attribute and says it is not supported."""
    for kind, names in KNOWN.items():
        if name in names:
            return AttributeError(f"{module_name}.{name} is not supported by tinygrad_bn ({kind} are not "
                                  f"implemented); {SEE_ALSO}")
    return AttributeError(f"module {module_name!r} has no attribute {name!r}: tinygrad_bn does not support "
                          f"{name!r}; {SEE_ALSO}")


def missing_attribute_of(module_name):
    """A module-level `__getattr__` for `module_name`: Python calls it only for names the module lacks."""
    def __getattr__(name):
        if name.startswith("_"):  # private and dunder lookups (copy, pickle, IPython) get the plain error
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        raise missing(module_name, name)
    return __getattr__
