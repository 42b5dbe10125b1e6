"""DCGAN (Radford et al. 2016): a generator of transposed convolutions with BN and ReLU ending in Tanh, a
discriminator of stride-2 convolutions with LeakyReLU(0.2) ending in Sigmoid, weights drawn from N(0, 0.02) by
`model.apply(weights_init)`, BCELoss, and Adam with betas (0.5, 0.999). One step of the usual training loop: the
discriminator on a real and a (detached) fake batch, the generator through the discriminator, both optimizers."""
import torch
import torch.nn as nn
import torch.optim as optim

nz, ngf, ndf, nc = 16, 8, 8, 3  # latent size, generator and discriminator widths, image channels (32x32 images)
real_label, fake_label = 1.0, 0.0


def weights_init(m):
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        m.weight.data.normal_(0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        m.weight.data.normal_(1.0, 0.02)
        m.bias.data.fill_(0)


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            # z: (nz, 1, 1) -> (ngf*4, 4, 4)
            nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            # -> (ngf*2, 8, 8)
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            # -> (ngf, 16, 16)
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            # -> (nc, 32, 32)
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, input):
        return self.main(input)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            # (nc, 32, 32) -> (ndf, 16, 16)
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            # -> (ndf*2, 8, 8)
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            # -> (ndf*4, 4, 4)
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            # -> (1, 1, 1)
            nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, input):
        return self.main(input).view(-1, 1).squeeze(1)


class DCGAN(nn.Module):
    """Both networks in one module, so that one state_dict holds them (the port runner compares one model)."""

    def __init__(self):
        super().__init__()
        self.netG = Generator()
        self.netG.apply(weights_init)
        self.netD = Discriminator()
        self.netD.apply(weights_init)


class BothOptimizers:
    """The training loop steps optimizerD and optimizerG; the runner calls one step()."""

    def __init__(self, model):
        self.optimizerD = optim.Adam(model.netD.parameters(), lr=0.0002, betas=(0.5, 0.999))
        self.optimizerG = optim.Adam(model.netG.parameters(), lr=0.0002, betas=(0.5, 0.999))

    def step(self):
        self.optimizerD.step()
        self.optimizerG.step()


def build_model():
    return DCGAN()


def make_batch(rng):
    real = rng.uniform(-1, 1, (4, nc, 32, 32)).astype("float32")
    noise = rng.standard_normal((4, nz, 1, 1)).astype("float32")
    return real, noise


def compute_loss(model, batch):
    real, noise = batch
    netG, netD = model.netG, model.netD
    criterion = nn.BCELoss()
    real_cpu = torch.tensor(real)
    b_size = real_cpu.size(0)

    # (1) the discriminator: maximize log(D(x)) + log(1 - D(G(z)))
    output = netD(real_cpu)
    label = torch.full((b_size,), real_label, dtype=output.dtype)
    errD_real = criterion(output, label)
    D_x = output.mean().item()
    fake = netG(torch.tensor(noise))
    output = netD(fake.detach())
    # a new label tensor, not label.fill_(fake_label): BCELoss saved `label` for the backward still to come
    errD_fake = criterion(output, torch.full_like(label, fake_label))
    errD = errD_real + errD_fake

    # (2) the generator: maximize log(D(G(z))), i.e. fake images labelled real
    output = netD(fake)
    errG = criterion(output, label)
    assert 0 < D_x < 1
    # The runner calls backward once: errD's gradients reach netD only (fake was detached), errG's reach both.
    return torch.cat([fake.view(b_size, -1), output.view(b_size, 1)], 1), errD + errG


def make_optimizer(model):
    return BothOptimizers(model)
