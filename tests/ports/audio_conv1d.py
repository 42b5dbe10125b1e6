"""A 1-D convolutional classifier for raw audio (M5-style, Dai et al. 2017): a wide strided first conv acts as a
learned filter bank over the waveform, then conv/BN/ReLU/max-pool stages, a dilated conv with padding="same" to
widen the receptive field without shrinking the signal, global average pooling over time and a linear layer.
Input (N, C, L): a batch of one-channel clips. Cross-entropy, SGD with momentum."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class M5(nn.Module):
    def __init__(self, n_input=1, n_output=6, stride=4, n_channel=8):
        super().__init__()
        # each conv feeds a BatchNorm, which subtracts the channel mean: a conv bias would be cancelled (bias=False)
        self.conv1 = nn.Conv1d(n_input, n_channel, kernel_size=20, stride=stride, bias=False)
        self.bn1 = nn.BatchNorm1d(n_channel)
        self.pool1 = nn.MaxPool1d(4)
        self.conv2 = nn.Conv1d(n_channel, n_channel, kernel_size=3, bias=False)
        self.bn2 = nn.BatchNorm1d(n_channel)
        self.pool2 = nn.MaxPool1d(2, stride=2, padding=1)
        self.conv3 = nn.Conv1d(n_channel, 2 * n_channel, kernel_size=3, dilation=2, padding="same",
                               bias=False)
        self.bn3 = nn.BatchNorm1d(2 * n_channel)
        self.pool3 = nn.AdaptiveAvgPool1d(1)
        self.fc1 = nn.Linear(2 * n_channel, n_output)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.pool1(x)
        x = F.relu(self.bn2(self.conv2(x)))
        x = self.pool2(x)
        x = F.relu(self.bn3(self.conv3(x)))
        x = self.pool3(x)
        x = x.permute(0, 2, 1)  # (N, 1, C): the classic M5 keeps the time axis until the end
        x = self.fc1(x)
        return x.squeeze(1)


def build_model():
    return M5()


def make_batch(rng):
    t = np.arange(400) / 400.0
    frequencies = rng.uniform(5, 60, (8, 1, 1))
    waves = np.sin(2 * np.pi * frequencies * t) + 0.1 * rng.standard_normal((8, 1, 400))
    return waves.astype("float32"), rng.integers(0, 6, 8)


def compute_loss(model, batch):
    waves, labels = batch
    outputs = model(torch.tensor(waves))
    return outputs, F.cross_entropy(outputs, torch.tensor(labels))


def make_optimizer(model):
    return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
