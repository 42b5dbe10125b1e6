"""A text classifier on nn.TransformerEncoder: token embeddings scaled by sqrt(d_model), plus the sinusoidal positional
encoding of "Attention Is All You Need" (a buffer), encoder layers that ignore the padding (src_key_padding_mask from
each sequence's length), the mean of the real tokens' states, a linear layer to class scores; SGD with momentum."""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB = 20  # token 0 is padding
MAX_LEN = 10
N_CLASSES = 3


class PositionalEncoding(nn.Module):
    """PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d))."""

    def __init__(self, d_model, max_len=MAX_LEN, dropout=0.1):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(max_len).unsqueeze(1)                                      # (max_len, 1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))  # (d_model / 2,)
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe.unsqueeze(0))                                        # (1, max_len, d_model)

    def forward(self, x):
        return self.dropout(x + self.pe[:, :x.size(1)])


class TransformerClassifier(nn.Module):
    def __init__(self, vocab_size=VOCAB, d_model=16, nhead=4, dim_feedforward=32, num_layers=2,
                 num_classes=N_CLASSES, dropout=0.1):
        super().__init__()
        self.d_model = d_model
        self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=0)
        self.pos_encoder = PositionalEncoding(d_model, dropout=dropout)
        encoder_layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(encoder_layer, num_layers)
        self.classifier = nn.Linear(d_model, num_classes)

    def forward(self, tokens, lengths):
        # True marks padding: attention gives those keys no weight
        padding_mask = torch.arange(tokens.size(1)).unsqueeze(0) >= lengths.unsqueeze(1)  # (B, T)
        x = self.pos_encoder(self.embedding(tokens) * math.sqrt(self.d_model))
        x = self.encoder(x, src_key_padding_mask=padding_mask)                             # (B, T, d_model)
        keep = (~padding_mask).unsqueeze(-1).float()
        pooled = (x * keep).sum(dim=1) / keep.sum(dim=1)  # mean over the real tokens only
        return self.classifier(pooled)


def build_model():
    return TransformerClassifier()


def make_batch(rng):
    lengths = rng.integers(3, MAX_LEN + 1, size=8)
    tokens = np.zeros((8, MAX_LEN), dtype=np.int64)
    for row, length in enumerate(lengths):
        tokens[row, :length] = rng.integers(1, VOCAB, size=length)
    labels = rng.integers(0, N_CLASSES, size=8)
    return tokens, lengths, labels


def compute_loss(model, batch):
    tokens, lengths, labels = batch
    logits = model(torch.tensor(tokens), torch.tensor(lengths))
    return logits, F.cross_entropy(logits, torch.tensor(labels))


def make_optimizer(model):
    # SGD, not Adam, for the comparison: the key projection's bias has a gradient of exactly 0 (softmax ignores a
    # constant added to every score of a row), so in float32 it holds rounding noise (~1e-9), which Adam's division by
    # sqrt(v) would blow up to a step of ~lr in a direction each library draws differently.
    return torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
