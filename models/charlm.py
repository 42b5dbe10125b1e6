"""A character-level language model: a small GPT trained on this repository's own documentation.

    python -m models.charlm                        # defaults: a few minutes on 2 CPU cores
    python -m models.charlm --steps 3000 --width 128 --layers 4 --context 64 --lr 1e-3 --out runs/charlm-big
    OPENBLAS_NUM_THREADS=1 python -m models.charlm    # on a machine busy with other jobs: threads fighting over
                                                     # the cores can make each step many times slower

The model reads `context` characters and predicts, at every position, the next one. It is a decoder-only
Transformer (GPT) in ~60 lines: token + position embeddings, `layers` pre-norm blocks of causal self-attention and
an MLP, a final LayerNorm, and an output layer that shares its weight with the token embedding (weight tying: the
same vector both means a character going in and scores it coming out). Training minimises the cross-entropy of the
next character (in nats); the baseline to beat is the unigram entropy, what a model that ignores the context scores.

Written with tinygrad_bn's public API only, exactly as one would write it with PyTorch (`import torch as tg` runs it).
Ctrl-C stops training cleanly; the loss history (CSV), the loss curve (PNG) and the last sample are still written.
"""
import argparse
import csv
import glob
import math
import os
import sys
import time

import numpy as np

import tinygrad_bn as tg
import tinygrad_bn.nn.functional as F
from tinygrad_bn import nn, optim

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ----------------------------------------------------------------------------------------------------------------
# Data: the repository's Markdown, as one string of characters
# ----------------------------------------------------------------------------------------------------------------
def load_text(root=ROOT):
    """README.md and docs/*.md, concatenated. Translations (docs/*.vi.md) are left out: another alphabet would grow
    the vocabulary and mix two languages in the samples."""
    paths = [os.path.join(root, "README.md")]
    paths += sorted(p for p in glob.glob(os.path.join(root, "docs", "*.md")) if p.count(".") == 1)
    texts = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            texts.append(f.read())
    return "\n\n".join(texts)


class CharData:
    """Characters <-> integer ids, and the text split 90% train / 10% validation (the last tenth, held out whole so
    that validation text is never seen, not even as context)."""

    def __init__(self, text):
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}
        ids = np.array([self.index[c] for c in text], dtype=np.int64)
        cut = int(0.9 * len(ids))
        self.train, self.val = ids[:cut], ids[cut:]
        counts = np.bincount(ids, minlength=len(self.chars)) / len(ids)
        self.unigram_entropy = float(-(counts * np.log(counts)).sum())  # nats per character

    def encode(self, s):
        return [self.index[c] for c in s if c in self.index]

    def decode(self, ids):
        return "".join(self.chars[i] for i in ids)

    def batch(self, split, batch_size, context, rng):
        """batch_size random windows: inputs x = ids[t : t+context], targets y = the same shifted by one."""
        ids = self.train if split == "train" else self.val
        starts = rng.integers(0, len(ids) - context - 1, size=batch_size)
        x = np.stack([ids[s:s + context] for s in starts])
        y = np.stack([ids[s + 1:s + context + 1] for s in starts])
        return tg.from_numpy(x), tg.from_numpy(y)


# ----------------------------------------------------------------------------------------------------------------
# Model: a small GPT
# ----------------------------------------------------------------------------------------------------------------
class CausalSelfAttention(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)  # the three projections as one matrix product
        self.proj = nn.Linear(width, width)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        # (B, T, C) -> (B, heads, T, C/heads): each head attends on its own slice of the channels
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        # is_causal: position t sees positions 0..t only, so predicting t+1 never peeks at the answer
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    """Pre-norm residual block: x + attention(LN(x)), then x + MLP(LN(x)). The residual path stays an identity,
    which is what lets gradients reach the first layers unchanged."""

    def __init__(self, width, heads):
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(width), CausalSelfAttention(width, heads)
        self.ln2 = nn.LayerNorm(width)
        # GELU's tanh form (GPT-2's): NumPy has no erf, and the exact form goes element by element through Python
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(approximate="tanh"), nn.Linear(4 * width, width))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, vocab, context, width, layers, heads):
        super().__init__()
        self.context = context
        self.tok = nn.Embedding(vocab, width)
        self.pos = nn.Embedding(context, width)  # learned positions: attention alone is blind to order
        self.blocks = nn.Sequential(*[Block(width, heads) for _ in range(layers)])
        self.ln = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab, bias=False)
        self.head.weight = self.tok.weight  # weight tying: one (vocab, width) matrix, listed once by parameters()
        for p in self.parameters():  # small init (GPT-2's): the residual sum starts near the embedding
            if p.ndim == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx):
        T = idx.shape[1]
        x = self.tok(idx) + self.pos(tg.arange(T))
        return self.head(self.ln(self.blocks(x)))  # (B, T, vocab) logits


@tg.no_grad()
def generate(model, data, prompt, length, temperature=0.8, top_k=10, seed=0):
    """Sample one character at a time: logits of the last position / temperature, keep the top_k, softmax, draw."""
    tg.manual_seed(seed)
    was_training = model.training
    model.eval()
    ids = data.encode(prompt) or [0]
    for _ in range(length):
        logits = model(tg.tensor([ids[-model.context:]]))[0, -1] / temperature
        kth = tg.topk(logits, min(top_k, logits.shape[0])).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))  # outside the top k: probability 0
        ids.append(int(tg.multinomial(F.softmax(logits, dim=-1), 1).item()))
    model.train(was_training)
    return data.decode(ids)


@tg.no_grad()
def estimate_loss(model, data, split, batches, batch_size, context, seed):
    """Mean cross-entropy over `batches` fixed windows (the same ones every time: a fixed seed), in eval mode."""
    rng = np.random.default_rng(seed)
    model.eval()
    losses = []
    for _ in range(batches):
        x, y = data.batch(split, batch_size, context, rng)
        logits = model(x)
        losses.append(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).item())
    model.train()
    return float(np.mean(losses))


# ----------------------------------------------------------------------------------------------------------------
# Command line, training loop, outputs
# ----------------------------------------------------------------------------------------------------------------
def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m models.charlm", description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=1200, help="optimizer steps (default 1200)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--context", type=int, default=32, help="characters the model sees (default 32)")
    p.add_argument("--width", type=int, default=64, help="embedding width (default 64)")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4, help="attention heads; must divide --width")
    p.add_argument("--lr", type=float, default=2e-3, help="AdamW learning rate at step 1 (cosine decay)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-every", type=int, default=100, help="steps between validation losses")
    p.add_argument("--sample-every", type=int, default=400, help="steps between generated samples")
    p.add_argument("--sample-length", type=int, default=200)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-k", type=int, default=10)
    p.add_argument("--out", default="runs/charlm", help="folder for loss.csv and loss.png")
    args = p.parse_args(argv)
    for name in ("steps", "batch_size", "context", "width", "layers", "heads", "eval_every", "sample_every",
                 "sample_length", "top_k"):
        if getattr(args, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(args, name)}")
    if args.width % args.heads:
        p.error(f"--heads ({args.heads}) must divide --width ({args.width})")
    if not (args.lr > 0 and math.isfinite(args.lr)) or not args.temperature > 0:
        p.error("--lr and --temperature must be positive")
    return args


def write_outputs(history, out, unigram_entropy):
    """loss.csv (step, lr, train_loss, val_loss: empty between validations) and loss.png."""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "loss.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", "lr", "train_loss", "val_loss"])
        for row in history:
            writer.writerow([row["step"], f"{row['lr']:.6g}", f"{row['train_loss']:.5f}",
                             "" if row["val_loss"] is None else f"{row['val_loss']:.5f}"])
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot([r["step"] for r in history], [r["train_loss"] for r in history], lw=0.8, alpha=0.6, label="train")
    val = [(r["step"], r["val_loss"]) for r in history if r["val_loss"] is not None]
    if val:
        ax.plot(*zip(*val), "o-", ms=3, label="validation")
    ax.axhline(unigram_entropy, color="gray", ls="--", lw=1, label="unigram entropy (no context)")
    ax.set(xlabel="step", ylabel="cross-entropy (nats/char)", title="Character-level GPT on the repository's docs")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "loss.png"), dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    tg.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    data = CharData(load_text())
    model = GPT(len(data.chars), args.context, args.width, args.layers, args.heads)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{len(data.train) + len(data.val):,} characters ({len(data.chars)} distinct), {n_params:,} parameters; "
          f"unigram entropy {data.unigram_entropy:.3f} nats/char (the loss of a model that ignores the context)")
    # AdamW: weight decay on the matrices (embeddings included); biases and LayerNorm gains (1-D) are left alone
    decay = [p for p in model.parameters() if p.ndim == 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    optimizer = optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.99))
    # cosine decay from lr to lr/100: big steps while the loss is far off, small ones to settle at the end
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.steps, eta_min=args.lr / 100)

    history, start, sample = [], time.time(), ""
    try:
        for step in range(1, args.steps + 1):
            x, y = data.batch("train", args.batch_size, args.context, rng)
            logits = model(x)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            lr = scheduler.get_last_lr()[0]
            optimizer.step()
            scheduler.step()
            row = {"step": step, "lr": lr, "train_loss": loss.item(), "val_loss": None}
            if step % args.eval_every == 0 or step == args.steps:
                row["val_loss"] = estimate_loss(model, data, "val", 8, args.batch_size, args.context, args.seed)
                print(f"step {step:5d}/{args.steps}  lr {lr:.2e}  train {row['train_loss']:.3f}  "
                      f"val {row['val_loss']:.3f}  ({time.time() - start:.0f} s)", flush=True)
            history.append(row)
            if step % args.sample_every == 0 or step == args.steps:
                sample = generate(model, data, "# ", args.sample_length, args.temperature, args.top_k, args.seed)
                print(f"--- sample at step {step} ---\n{sample}\n---", flush=True)
    except KeyboardInterrupt:
        print(f"\ninterrupted after {len(history)} steps; writing what there is", flush=True)
    if history:
        write_outputs(history, args.out, data.unigram_entropy)
        print(f"wrote {os.path.join(args.out, 'loss.csv')} and loss.png ({time.time() - start:.0f} s)")
    return {"history": history, "sample": sample, "data": data, "model": model}


if __name__ == "__main__":
    main(sys.argv[1:])
