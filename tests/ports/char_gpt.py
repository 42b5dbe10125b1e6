"""A character-level GPT written by hand, nanoGPT-style: token and position embeddings, blocks of causal
self-attention (a lower-triangular mask registered as a buffer, filled with -inf above the diagonal) and a GELU MLP,
each behind a LayerNorm with a residual connection; the output head shares the token embedding's weight; AdamW with
weight decay on the matrices only (two parameter groups built from named_parameters).

The Linear layers and LayerNorms have no biases (nanoGPT's `bias=False` option). With a bias, the key projection's
would have a gradient of exactly 0 (softmax ignores a constant added to every score of a row): in float32 it holds
rounding noise, which AdamW's division by sqrt(v) turns into a step of ~lr that no two libraries take alike."""
import math

import numpy as np
import torch
import torch.nn as nn
from torch.nn import functional as F

TEXT = "to be, or not to be, that is the question: whether 'tis nobler in the mind to suffer"
CHARS = sorted(set(TEXT))
STOI = {c: i for i, c in enumerate(CHARS)}
BLOCK_SIZE = 8


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd, n_head, block_size, dropout, bias):
        super().__init__()
        assert n_embd % n_head == 0
        self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)  # query, key, value for all heads in one product
        self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.attn_dropout = nn.Dropout(dropout)
        self.resid_dropout = nn.Dropout(dropout)
        self.n_head = n_head
        # position t may look at positions <= t only; a buffer moves with .to() and .double() but is not trained
        self.register_buffer("mask", torch.tril(torch.ones(block_size, block_size))
                             .view(1, 1, block_size, block_size))

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        att = self.attn_dropout(att)
        y = att @ v                                         # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)    # heads side by side again
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, n_embd, dropout, bias):
        super().__init__()
        self.c_fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * n_embd, n_embd, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, n_embd, n_head, block_size, dropout, bias):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd, bias=bias)
        self.attn = CausalSelfAttention(n_embd, n_head, block_size, dropout, bias)
        self.ln_2 = nn.LayerNorm(n_embd, bias=bias)
        self.mlp = MLP(n_embd, dropout, bias)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


class GPT(nn.Module):
    def __init__(self, vocab_size, block_size=BLOCK_SIZE, n_layer=2, n_head=2, n_embd=16, dropout=0.1,
                 bias=False):
        super().__init__()
        self.block_size = block_size
        self.tok_emb = nn.Embedding(vocab_size, n_embd)
        self.pos_emb = nn.Embedding(block_size, n_embd)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList([Block(n_embd, n_head, block_size, dropout, bias) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd, bias=bias)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight  # weight tying: one matrix embeds tokens and scores them
        self.apply(self._init_weights)

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx, targets=None):
        B, T = idx.size()
        assert T <= self.block_size
        pos = torch.arange(0, T, dtype=torch.long)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(pos))  # (B, T, C) + (T, C)
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
        return logits, loss

    def configure_optimizers(self, weight_decay, learning_rate, betas):
        # decay the matrices (Linear weights, embeddings), not the vectors (LayerNorm's gains, biases if any)
        param_dict = {name: p for name, p in self.named_parameters() if p.requires_grad}
        decay_params = [p for name, p in param_dict.items() if p.dim() >= 2]
        nodecay_params = [p for name, p in param_dict.items() if p.dim() < 2]
        optim_groups = [
            {"params": decay_params, "weight_decay": weight_decay},
            {"params": nodecay_params, "weight_decay": 0.0},
        ]
        return torch.optim.AdamW(optim_groups, lr=learning_rate, betas=betas)


def build_model():
    return GPT(len(CHARS))


def make_batch(rng):
    data = np.array([STOI[c] for c in TEXT])
    starts = rng.integers(0, len(data) - BLOCK_SIZE, size=6)
    x = np.stack([data[i:i + BLOCK_SIZE] for i in starts])
    y = np.stack([data[i + 1:i + 1 + BLOCK_SIZE] for i in starts])  # each position predicts the next character
    return x, y


def compute_loss(model, batch):
    x, y = batch
    logits, loss = model(torch.tensor(x), torch.tensor(y))
    assert model.lm_head.weight is model.tok_emb.weight  # still tied after load_state_dict
    # parameters() yields the tied matrix once; state_dict() holds it under both names, and the blocks' masks
    assert len(list(model.parameters())) == len(model.state_dict()) - 1 - len(model.blocks)
    return logits, loss


def make_optimizer(model):
    return model.configure_optimizers(weight_decay=0.1, learning_rate=1e-3, betas=(0.9, 0.95))
