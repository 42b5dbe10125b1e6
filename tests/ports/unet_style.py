"""A small U-Net for image-to-image work, in the fast-neural-style / super-resolution manner: reflection padding
instead of zero padding (no dark borders), instance norm with a learned scale and shift, a strided conv to go down,
a residual block at the bottom, PixelShuffle to go back up (sub-pixel convolution, Shi et al. 2016) and a skip
connection that concatenates the encoder's features with the decoder's. Trained to reproduce a target image under
the mean squared error, with Adam."""
import torch
import torch.nn as nn
import torch.nn.init as init


class ConvLayer(nn.Module):
    """Reflection padding, then an unpadded conv: the output keeps the input's size (divided by the stride).
    A conv followed by InstanceNorm has no bias: the norm subtracts each channel's mean, bias included, so its
    gradient is zero (only rounding noise, which Adam would scale up to full-size steps)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, bias=True):
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride, bias=bias)

    def forward(self, x):
        return self.conv2d(self.reflection_pad(x))


class ResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, kernel_size=3, bias=False)
        self.in1 = nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = ConvLayer(channels, channels, kernel_size=3, bias=False)
        self.in2 = nn.InstanceNorm2d(channels, affine=True)
        self.relu = nn.ReLU()

    def forward(self, x):
        residual = x
        out = self.relu(self.in1(self.conv1(x)))
        out = self.in2(self.conv2(out))
        return out + residual


class UpsampleConvLayer(nn.Module):
    """Sub-pixel upsampling: a conv makes upscale**2 times the channels, PixelShuffle moves them into space."""

    def __init__(self, in_channels, out_channels, upscale=2):
        super().__init__()
        self.conv = ConvLayer(in_channels, out_channels * upscale ** 2, kernel_size=3)
        self.shuffle = nn.PixelShuffle(upscale)

    def forward(self, x):
        return self.shuffle(self.conv(x))


class SmallUNet(nn.Module):
    def __init__(self, channels=8):
        super().__init__()
        self.enc1 = ConvLayer(3, channels, kernel_size=5, bias=False)
        self.in1 = nn.InstanceNorm2d(channels, affine=True)
        self.down = ConvLayer(channels, channels * 2, kernel_size=3, stride=2, bias=False)
        self.in2 = nn.InstanceNorm2d(channels * 2, affine=True)
        self.res = ResidualBlock(channels * 2)
        self.up = UpsampleConvLayer(channels * 2, channels)
        self.in3 = nn.InstanceNorm2d(channels, affine=True)
        # the skip path: nearest-neighbour upsampling of the bottleneck's features, added to the shuffled ones
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        self.skip_proj = nn.Conv2d(channels * 2, channels, kernel_size=1)
        self.dec = ConvLayer(channels * 2, 3, kernel_size=3)  # after torch.cat: the decoder's and encoder's features
        self.relu = nn.ReLU()
        init.orthogonal_(self.skip_proj.weight)
        init.zeros_(self.skip_proj.bias)

    def forward(self, x):
        e1 = self.relu(self.in1(self.enc1(x)))
        e2 = self.relu(self.in2(self.down(e1)))
        b = self.res(e2)
        d = self.relu(self.in3(self.up(b)) + self.skip_proj(self.upsample(b)))
        d = torch.cat([d, e1], dim=1)
        return self.dec(d)


def build_model():
    return SmallUNet()


def make_batch(rng):
    images = rng.standard_normal((2, 3, 12, 12)).astype("float32")
    targets = rng.standard_normal((2, 3, 12, 12)).astype("float32")
    return images, targets


def compute_loss(model, batch):
    images, targets = batch
    outputs = model(torch.tensor(images))
    return outputs, nn.MSELoss()(outputs, torch.tensor(targets))


def make_optimizer(model):
    return torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999))
