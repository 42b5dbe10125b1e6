"""The networks the study compares: the default VGG-style CatsDogsNet with its normalization swapped or moved.

    net = study_net(norm="bn")                     # CatsDogsNet(bn=True), layer for layer
    net = study_net(norm="none", init="he")        # no normalization, convolutions with biases, He init
    net = study_net(norm="noisy_bn")               # BN, then random noise on every value, its law new each step
    net = study_net(norm="shifted_bn")             # BN, then each channel scaled and shifted at random each step
    net = study_net(norm="gn") / study_net(norm="ln")   # GroupNorm (8 channels per group) / LayerNorm as GN(1, C)

Each block of DEFAULT_WIDTHS is conv3x3 -> norm -> ReLU ("before_relu", the usual order and CatsDogsNet's) or
conv3x3 -> ReLU -> norm ("after_relu"). The rest (max pooling, global average pooling, the linear head, the
PyTorch-style state_dict keys) is CatsDogsNet's: with norm "bn" or "none" and the default init, a seeded
study_net draws the very same weights as a seeded CatsDogsNet (tests/test_bn_study.py checks it).

Everything is composed from tinygrad_bn.nn layers; the one new layer, NoisyBatchNorm2d, is BatchNorm2d plus noise.
"""
import tinygrad_bn as tg
from tinygrad_bn import nn

from ..catsdogs_net import DEFAULT_WIDTHS

NORMS = ("bn", "none", "noisy_bn", "shifted_bn", "gn", "ln")
NOISY_NORMS = ("noisy_bn", "shifted_bn")  # BN plus training-time noise (NoisyBatchNorm2d)
CHANNELS_PER_GROUP = 8  # GroupNorm: 32 -> 4 groups ... 256 -> 32 groups (Wu and He's default is 32 groups)


class NoisyBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d, then (in training only) noise whose distribution changes at every step (Santurkar et al. 2018,
    section 2.1, "noisy BatchNorm"):

        y[n, c, h, w] = BN(x)[n, c, h, w] + mu_c + sigma_c * eps[n, c, h, w],   eps ~ N(0, 1) i.i.d.
        mu_c ~ U(-mean_range, mean_range),  sigma_c ~ U(std_low, std_high),   drawn anew for every forward pass

    So each channel's output has a mean that jumps by up to +-mean_range and a variance sigma_c^2 above BN's,
    differently at each step: the distribution a layer sees keeps shifting, far more than
    without BN. If such a network still trains as well as with plain BN, the stability of the layer inputs'
    distribution cannot be what BN brings. In eval mode it is a plain BatchNorm2d (no noise), as dropout is.

    A subclass of BatchNorm2d, so its state_dict is BN's and a trained noisy net loads into a plain BN net.

    With per_value=False the noise is a random affine map of each channel instead, the same for all its values:

        y[n, c, h, w] = sigma_c * BN(x)[n, c, h, w] + mu_c,   mu_c and sigma_c drawn as above, each step

    which moves each channel's mean and variance just as far, step after step, but keeps every value's place
    among the others: the distribution shifts and no information is lost to noise (before the ReLU).
    """

    def __init__(self, num_features, mean_range=1.0, std_low=0.5, std_high=1.5, per_value=True, **kwargs):
        super().__init__(num_features, **kwargs)
        self.mean_range, self.std_low, self.std_high = mean_range, std_low, std_high
        self.per_value = per_value

    def forward(self, input):
        out = super().forward(input)
        if not self.training:
            return out
        # drawn from the library's seeded generator (tg.manual_seed), so a run's noise is reproducible
        shape, C, device = input.shape, self.num_features, input.device
        mu = self.mean_range * (2 * tg.rand(1, C, 1, 1, device=device) - 1)
        sigma = self.std_low + (self.std_high - self.std_low) * tg.rand(1, C, 1, 1, device=device)
        if not self.per_value:
            return sigma * out + mu  # sigma and mu are constants of the step (neither requires grad)
        return out + (mu + sigma * tg.randn(*shape, device=device))

    def extra_repr(self):
        kind = "noise on every value" if self.per_value else "each channel scaled and shifted"
        return (super().extra_repr() + f", {kind}: mean in +-{self.mean_range:g}, "
                f"std in [{self.std_low:g}, {self.std_high:g}]")


def norm_layer(norm, channels, bn_momentum=0.1):
    """The normalization layer of one block (None for "none")."""
    if norm == "bn":
        return nn.BatchNorm2d(channels, momentum=bn_momentum)
    if norm in NOISY_NORMS:
        return NoisyBatchNorm2d(channels, momentum=bn_momentum, per_value=norm == "noisy_bn")
    if norm == "gn":
        return nn.GroupNorm(max(channels // CHANNELS_PER_GROUP, 1), channels)
    if norm == "ln":
        # LayerNorm over (C, H, W) of each sample, with a scale and shift per channel as Wu and He compare it:
        # GroupNorm with one group (nn.LayerNorm((C, H, W)) would fix H and W and learn a scale per pixel)
        return nn.GroupNorm(1, channels)
    if norm == "none":
        return None
    raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")


class StudyNet(nn.Module):
    """CatsDogsNet with a choice of normalization, where it sits, and the conv bias: see `study_net`."""

    def __init__(self, norm="bn", widths=DEFAULT_WIDTHS, norm_position="before_relu", conv_bias=None,
                 bn_momentum=0.1, num_classes=2):
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")
        if norm_position not in ("before_relu", "after_relu"):
            raise ValueError(f"norm_position must be before_relu or after_relu, got {norm_position!r}")
        if conv_bias is None:
            conv_bias = norm == "none" or norm_position == "after_relu"
        self.norm, self.widths = norm, tuple(widths)
        layers = []
        channels = 3
        for width in self.widths:
            if width == "M":
                layers.append(nn.MaxPool2d(2))
                continue
            block = [nn.Conv2d(channels, width, kernel_size=3, padding=1, bias=conv_bias), nn.ReLU()]
            normalization = norm_layer(norm, width, bn_momentum)
            if normalization is not None:
                block.insert(1 if norm_position == "before_relu" else 2, normalization)
            layers += block
            channels = width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


def study_net(norm="bn", widths=DEFAULT_WIDTHS, norm_position="before_relu", conv_bias=None, init="default",
              init_scale=1.0, bn_momentum=0.1, num_classes=2):
    """A StudyNet, initialized. Blocks are conv -> norm -> ReLU (norm_position "before_relu") or conv -> ReLU -> norm.

    conv_bias   None: a bias only where no normalization follows the convolution directly (CatsDogsNet's rule:
                BN's mean subtraction cancels a bias before it, see catsdogs_net.py); True/False: forced
    init        "default": PyTorch's default (kaiming_uniform_ with a = sqrt(5): std 1 / sqrt(3 fan_in));
                "he": kaiming_normal_ for ReLU (std sqrt(2 / fan_in)), the scale that keeps the variance of the
                activations constant from layer to layer (He et al. 2015), on every conv and linear weight
    init_scale  then multiplies every conv and linear weight (the initialization sweep)
    """
    net = StudyNet(norm, widths, norm_position, conv_bias, bn_momentum, num_classes)
    weighted = [module for module in net.modules() if isinstance(module, (nn.Conv2d, nn.Linear))]
    if init == "he":
        for module in weighted:
            nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
    elif init != "default":
        raise ValueError(f"init must be default or he, got {init!r}")
    for module in weighted:
        module.weight.array *= init_scale
    return net


def weight_layers(model):
    """[(name, conv or linear module)] input to output: conv1, conv2, ..., fc. "Layer i" in the measurements."""
    layers = []
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            layers.append((f"conv{len(layers) + 1}", module))
        elif isinstance(module, nn.Linear):
            layers.append(("fc", module))
    return layers


def layer_groups(model):
    """The parameters of each layer, input to output: a conv (or the linear head) with its bias and the parameters
    of the normalization of its block. "Updating the layers before layer i" (the covariate-shift measure) updates
    the groups before group i. A list of lists of parameters."""
    groups = []
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            groups.append([])
        if groups and not isinstance(module, (nn.Sequential, StudyNet)):
            groups[-1] += [param for _, param in module.named_parameters(recurse=False)]
    return groups
