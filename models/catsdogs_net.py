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

CatsDogsResNet (`--arch resnet`) is the residual variant: a conv-BN-ReLU stem, then one stage of residual blocks per
width, each stage after the first halving the maps with a stride-2 convolution. `build_model(architecture)` builds
either from the dict a checkpoint stores.
"""
import tinygrad_bn.nn as nn

DEFAULT_WIDTHS = (32, 32, "M", 64, 64, "M", 128, 128, "M", 256)
RESNET_WIDTHS = (32, 64, 128, 256)  # one stage per width: 60x60 maps, then 30, 15 and 8
ARCHES = ("vgg", "resnet")  # the --arch names


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


class BasicBlock(nn.Module):
    """The residual block of ResNet-18/34: out = relu(x' + bn2(conv2(relu(bn1(conv1(x)))))).

    x' is x itself, or, when the block changes the width or the size (stride 2), x through `downsample`: a 1x1
    convolution with that stride and a BatchNorm (torchvision's "option B"). No convolution has a bias: BN follows
    each one. bn2's weight (gamma) starts at zero, so every block starts as the identity (plus its shortcut's
    projection) and the network starts as a shallow one that the blocks learn to deepen ("zero-init residual",
    Goyal et al. 2017, torchvision's zero_init_residual=True).
    """

    def __init__(self, in_channels, channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        nn.init.zeros_(self.bn2.weight)
        self.downsample = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, channels, kernel_size=1, stride=stride, bias=False),
                                            nn.BatchNorm2d(channels))

    def forward(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + shortcut)


class CatsDogsResNet(nn.Module):
    """stem conv3x3-BN-ReLU (widths[0] channels), then for each width a stage of `blocks` BasicBlocks, the first
    block of every stage but the first with stride 2; global average pooling and a linear head, as CatsDogsNet.

    Input (N, 3, H, W) float32, normalised per channel; output (N, num_classes) logits. The state_dict keys are those
    of the same model in PyTorch: `features.0.weight` (stem conv), `features.3.conv1.weight`,
    `features.4.downsample.0.weight`, ..., `classifier.2.weight`.
    """

    def __init__(self, widths=RESNET_WIDTHS, blocks=1, num_classes=2):
        super().__init__()
        self.widths = tuple(widths)
        self.blocks = blocks
        self.num_classes = num_classes
        layers = [nn.Conv2d(3, self.widths[0], kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(self.widths[0]),
                  nn.ReLU()]
        channels = self.widths[0]
        for stage, width in enumerate(self.widths):
            for block in range(blocks):
                stride = 2 if stage > 0 and block == 0 else 1
                layers.append(BasicBlock(channels, width, stride))
                channels = width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))

    def architecture(self):
        """What it takes to build this model again: stored in every checkpoint."""
        return {"name": type(self).__name__, "bn": True, "widths": list(self.widths), "blocks": self.blocks,
                "num_classes": self.num_classes}

    @classmethod
    def from_architecture(cls, architecture):
        """The model described by `architecture()` (from a checkpoint), with freshly initialised weights."""
        if architecture.get("name") != cls.__name__:
            raise ValueError(f"expected a {cls.__name__}, got {architecture.get('name')!r}")
        return cls(widths=tuple(architecture["widths"]), blocks=int(architecture["blocks"]),
                   num_classes=int(architecture["num_classes"]))


MODEL_CLASSES = {"vgg": CatsDogsNet, "resnet": CatsDogsResNet}


def new_model(arch="vgg", bn=True, widths=None, blocks=1, num_classes=2):
    """A freshly initialised model of the --arch `arch` (widths=None: that architecture's default widths)."""
    if arch == "resnet":
        return CatsDogsResNet(widths=widths or RESNET_WIDTHS, blocks=blocks, num_classes=num_classes)
    if arch == "vgg":
        return CatsDogsNet(bn=bn, widths=widths or DEFAULT_WIDTHS, num_classes=num_classes)
    raise ValueError(f"arch must be one of {', '.join(ARCHES)}, got {arch!r}")


def build_model(architecture):
    """The model a checkpoint's `architecture` dict describes (either class), freshly initialised."""
    by_name = {model_class.__name__: model_class for model_class in MODEL_CLASSES.values()}
    name = architecture.get("name")
    if name not in by_name:
        raise ValueError(f"unknown architecture {name!r} (known: {', '.join(by_name)})")
    return by_name[name].from_architecture(architecture)


def output_side(arch, widths, image_size):
    """The height (= width) of the last feature maps for an image_size x image_size input."""
    side = image_size
    if arch == "resnet":
        for _ in widths[1:]:
            side = (side + 1) // 2  # a 3x3 convolution with stride 2 and padding 1
        return side
    for width in widths:
        side = side // 2 if width == "M" else side
    return side


def scale_initial_weights(model, scale):
    """Multiply every conv and linear weight by `scale`: a knob for studies of how BN copes with a bad init."""
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            module.weight.array *= scale
    return model
