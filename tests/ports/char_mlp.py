"""A character-level language model: embed the previous 3 characters, concatenate, a tanh hidden layer, logits over
the next character (Bengio et al. 2003's MLP, at the scale of a names dataset)."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

WORDS = ["anna", "bertil", "cecilia", "dag", "elin", "fredrik", "gun", "hugo", "ines", "johan", "karin", "linnea"]
CHARS = ["."] + sorted(set("".join(WORDS)))
STOI = {c: i for i, c in enumerate(CHARS)}
BLOCK_SIZE = 3


class CharMLP(nn.Module):
    def __init__(self, vocab_size, n_embd=10, n_hidden=64, block_size=BLOCK_SIZE):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab_size, n_embd)
        self.hidden = nn.Linear(n_embd * block_size, n_hidden)
        self.act = nn.Tanh()
        self.head = nn.Linear(n_hidden, vocab_size)

    def forward(self, idx, targets=None):
        emb = self.tok_emb(idx)                       # (B, T, C)
        x = emb.view(emb.shape[0], -1)                # (B, T*C)
        logits = self.head(self.act(self.hidden(x)))
        loss = None if targets is None else F.cross_entropy(logits, targets)
        return logits, loss


def build_dataset(words):
    xs, ys = [], []
    for word in words:
        context = [0] * BLOCK_SIZE
        for ch in word + ".":
            xs.append(context)
            ys.append(STOI[ch])
            context = context[1:] + [STOI[ch]]
    return np.array(xs), np.array(ys)


def build_model():
    return CharMLP(len(CHARS))


def make_batch(rng):
    X, Y = build_dataset(WORDS)
    rows = rng.choice(len(X), size=32, replace=False)
    return X[rows], Y[rows]


def compute_loss(model, batch):
    X, Y = batch
    logits, loss = model(torch.tensor(X), torch.tensor(Y))
    return logits, loss


def make_optimizer(model):
    return torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
