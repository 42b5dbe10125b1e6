"""A VGG-style network with batch normalization: stacks of 3x3 conv-BN-ReLU separated by 2x2 max pooling, then a
classifier of Linear-ReLU-Dropout layers (Simonyan & Zisserman 2015, with BN after each conv)."""
import torch
import torch.nn as nn

CFG = [16, "M", 32, 32, "M", 64, "M"]


def make_layers(cfg, in_channels=3):
    layers = []
    for v in cfg:
        if v == "M":
            layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
        else:
            conv2d = nn.Conv2d(in_channels, v, kernel_size=3, padding=1)
            layers += [conv2d, nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
            in_channels = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    def __init__(self, features, num_classes=10, dropout=0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((2, 2))
        self.classifier = nn.Sequential(
            nn.Linear(64 * 2 * 2, 128),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(128, 128),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(128, num_classes),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.constant_(m.bias, 0)

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def build_model():
    return VGG(make_layers(CFG))


def make_batch(rng):
    return rng.standard_normal((4, 3, 16, 16)).astype("float32"), rng.integers(0, 10, 4)


def compute_loss(model, batch):
    images, labels = batch
    criterion = nn.CrossEntropyLoss()
    outputs = model(torch.tensor(images))
    return outputs, criterion(outputs, torch.tensor(labels))


def make_optimizer(model):
    return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
