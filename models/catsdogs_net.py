"""CatsDogsNet: a small VGG-style CNN that tells cats from dogs, written with the public nn API only.

    widths = (32, 32, 'M', 64, 64, 'M', 128, 128, 'M', 256)

Each number is a block conv3x3 -> BatchNorm2d -> ReLU with that many output channels; each 'M' halves the height and
width with MaxPool2d(2). A 64x64 image therefore reaches the last block as 8x8 maps with 256 channels; global average
pooling turns each map into one number, and a linear layer maps the 256 numbers to one logit per class.

Why the convolution has no bias when BatchNorm follows: BN subtracts the per-channel batch mean, which removes any
constant added before it, so a bias there would receive a zero gradient forever. BN's own `bias` (beta) plays that
role after the normalisation.

`bn=False` builds the comparison variant: the same convolutions with biases and no normalisation at all.

The layers live in two nn.Sequential containers, `features` and `classifier`, so the state_dict keys are those of
the same model written in PyTorch (`features.0.weight`, `features.1.running_mean`, ..., `classifier.2.weight`) and
weights load in both directions.
"""
import tinygrad_bn.nn as nn

DEFAULT_WIDTHS = (32, 32, "M", 64, 64, "M", 128, 128, "M", 256)


class CatsDogsNet(nn.Module):
    """conv-BN-ReLU blocks and max pooling as listed in `widths`, then global average pooling and a linear head.

    Input (N, 3, H, W) float32, normalised per channel; output (N, num_classes) logits. Any H, W divisible by
    2 ** (number of 'M') works, thanks to the global average pooling.
    """

    def __init__(self, bn=True, widths=DEFAULT_WIDTHS, num_classes=2):
        super().__init__()
        self.bn = bn
        self.widths = tuple(widths)
        self.num_classes = num_classes
        layers = []
        channels = 3  # RGB
        for width in self.widths:
            if width == "M":
                layers.append(nn.MaxPool2d(2))
                continue
            layers.append(nn.Conv2d(channels, width, kernel_size=3, padding=1, bias=not bn))
            if bn:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU())
            channels = width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),  # (N, C, h, w) -> (N, C, 1, 1): the mean of each feature map
            nn.Flatten(),  # -> (N, C)
            nn.Linear(channels, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))

    def architecture(self):
        """What it takes to build this model again: stored in every checkpoint."""
        return {"name": type(self).__name__, "bn": self.bn, "widths": list(self.widths),
                "num_classes": self.num_classes}

    @classmethod
    def from_architecture(cls, architecture):
        """The model described by `architecture()` (from a checkpoint), with freshly initialised weights."""
        if architecture.get("name") != cls.__name__:
            raise ValueError(f"expected a {cls.__name__}, got {architecture.get('name')!r}")
        return cls(bn=bool(architecture["bn"]), widths=tuple(architecture["widths"]),
                   num_classes=int(architecture["num_classes"]))


def scale_initial_weights(model, scale):
    """Multiply every conv and linear weight by `scale`: a knob for studies of how BN copes with a bad init."""
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            module.weight.array *= scale
    return model
