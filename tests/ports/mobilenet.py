"""A small MobileNet: a stem convolution, a depthwise-separable block (MobileNetV1: a 3x3 depthwise convolution,
groups = channels, then a 1x1 pointwise one, each with BN and ReLU6) and inverted-residual blocks (MobileNetV2:
expand 1x1, depthwise 3x3, project 1x1 without activation, plus the input when the shapes allow), then global
average pooling, dropout and a linear classifier (Howard et al. 2017, Sandler et al. 2018)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvBNReLU(nn.Sequential):
    def __init__(self, in_planes, out_planes, kernel_size=3, stride=1, groups=1):
        padding = (kernel_size - 1) // 2
        super().__init__(
            nn.Conv2d(in_planes, out_planes, kernel_size, stride, padding, groups=groups, bias=False),
            nn.BatchNorm2d(out_planes),
            nn.ReLU6(inplace=True),
        )


class DepthwiseSeparable(nn.Module):
    def __init__(self, inp, oup, stride=1):
        super().__init__()
        self.depthwise = nn.Conv2d(inp, inp, 3, stride, 1, groups=inp, bias=False)
        self.bn1 = nn.BatchNorm2d(inp)
        self.pointwise = nn.Conv2d(inp, oup, 1, 1, 0, bias=False)
        self.bn2 = nn.BatchNorm2d(oup)

    def forward(self, x):
        x = F.relu6(self.bn1(self.depthwise(x)))
        return F.relu6(self.bn2(self.pointwise(x)))


class InvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__()
        assert stride in [1, 2]
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(ConvBNReLU(inp, hidden_dim, kernel_size=1))
        layers.extend([
            ConvBNReLU(hidden_dim, hidden_dim, stride=stride, groups=hidden_dim),
            nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),
            nn.BatchNorm2d(oup),
        ])
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


class MobileNet(nn.Module):
    def __init__(self, num_classes=10, width=16):
        super().__init__()
        features = [ConvBNReLU(3, width, stride=2), DepthwiseSeparable(width, 24)]
        input_channel = 24
        # t (expansion), c (channels), n (repeats), s (stride of the first)
        for t, c, n, s in [[4, 24, 2, 1], [4, 32, 2, 2]]:
            for i in range(n):
                features.append(InvertedResidual(input_channel, c, s if i == 0 else 1, expand_ratio=t))
                input_channel = c
        features.append(nn.Conv2d(input_channel, 64, kernel_size=3, padding=2, dilation=2, bias=False))
        features.append(nn.BatchNorm2d(64))
        features.append(nn.ReLU6(inplace=True))
        self.features = nn.Sequential(*features)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(64, num_classes))

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.features(x)
        x = self.pool(x)
        x = x.view(x.size(0), -1)
        return self.classifier(x)


def build_model():
    return MobileNet()


def make_batch(rng):
    return rng.standard_normal((4, 3, 16, 16)).astype("float32"), rng.integers(0, 10, 4)


def compute_loss(model, batch):
    images, labels = batch
    outputs = model(torch.tensor(images))
    return outputs, F.cross_entropy(outputs, torch.tensor(labels))


def make_optimizer(model):
    return torch.optim.RMSprop(model.parameters(), lr=0.01, alpha=0.9, eps=1e-3, momentum=0.9, weight_decay=4e-5)
