"""A variational autoencoder on flattened 8x8 images: encoder to (mu, logvar), the reparameterisation trick, a
decoder to Bernoulli probabilities; loss = binary cross-entropy (summed) + KL divergence (Kingma & Welling 2014)."""
import torch
from torch import nn, optim
from torch.nn import functional as F

IMAGE = 64


class VAE(nn.Module):
    def __init__(self, hidden=32, latent=4):
        super().__init__()
        self.fc1 = nn.Linear(IMAGE, hidden)
        self.fc21 = nn.Linear(hidden, latent)
        self.fc22 = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, IMAGE)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar, eps=None):
        std = torch.exp(0.5 * logvar)
        if eps is None:  # the usual draw; the comparison passes the same noise to both libraries instead
            eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = nn.ReLU()(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x, eps=None):
        mu, logvar = self.encode(x.view(-1, IMAGE))
        z = self.reparameterize(mu, logvar, eps)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, IMAGE), reduction="sum")
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def build_model():
    return VAE()


def make_batch(rng):
    images = rng.random((16, 1, 8, 8)).astype("float32")
    noise = rng.standard_normal((16, 4)).astype("float32")
    return images, noise


def compute_loss(model, batch):
    images, noise = batch
    data = torch.tensor(images)
    recon, mu, logvar = model(data, eps=torch.tensor(noise))
    assert model.reparameterize(mu, logvar).shape == mu.shape  # the randn_like path runs too
    return recon, loss_function(recon, data, mu, logvar)


def make_optimizer(model):
    return optim.Adam(model.parameters(), lr=1e-3)
