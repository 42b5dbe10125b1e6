"""Sequence-model training step: tinygrad_bn against PyTorch on the same weights, the same batch, CPU, one process.

    python benchmarks/sequence_models.py                  # LSTM and GPT language models, batch 32 x 64 tokens
    python benchmarks/sequence_models.py --repeats 3 --batch 8

Two small language models, each written once against a `lib` (tinygrad_bn or torch) so that both frameworks run the
same code: an LSTM (embedding, one LSTM layer, linear read-out) and a GPT (token + position embeddings, pre-norm
blocks of causal self-attention via scaled_dot_product_attention and a GELU MLP, linear read-out). One step =
zero_grad + forward + cross-entropy + backward + AdamW step. PyTorch's initial weights are copied into tinygrad_bn's
model, the first losses are printed side by side (they should agree), then the frameworks alternate for --repeats
steps after warm-up; medians and the ratio tinygrad_bn / PyTorch are printed. On a shared machine absolute times
drift while ratios hold better; the header says which BLAS kernel and how many threads ran. Needs torch (the oracle).
"""
import argparse
import os
import platform
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tinygrad_bn as tg  # noqa: E402

from step import Timer, alternate_stats, blas_info  # noqa: E402


def language_models(lib):
    """The two model classes, written against `lib` = tinygrad_bn or torch."""
    nn, F = lib.nn, lib.nn.functional

    class LSTMLM(nn.Module):
        def __init__(self, vocab, width, hidden):
            super().__init__()
            self.embed = nn.Embedding(vocab, width)
            self.lstm = nn.LSTM(width, hidden, batch_first=True)
            self.out = nn.Linear(hidden, vocab)

        def forward(self, idx):
            return self.out(self.lstm(self.embed(idx))[0])

    class Block(nn.Module):
        def __init__(self, width, heads):
            super().__init__()
            self.heads = heads
            self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
            self.qkv, self.proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
            self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(approximate="tanh"),
                                     nn.Linear(4 * width, width))

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2)
                       for t in self.qkv(self.ln1(x)).split(C, dim=2))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).reshape(B, T, C))
            return x + self.mlp(self.ln2(x))

    class GPT(nn.Module):
        def __init__(self, vocab, context, width, layers, heads):
            super().__init__()
            self.tok, self.pos = nn.Embedding(vocab, width), nn.Embedding(context, width)
            self.blocks = nn.Sequential(*[Block(width, heads) for _ in range(layers)])
            self.ln, self.out = nn.LayerNorm(width), nn.Linear(width, vocab)

        def forward(self, idx):
            x = self.tok(idx) + self.pos(lib.arange(idx.shape[1]))
            return self.out(self.ln(self.blocks(x)))

    return LSTMLM, GPT


def make_steps(torch, name, args, vocab=96):
    """Twin models (PyTorch's initial weights copied into ours) and one training step for each."""
    def build(lib):
        LSTMLM, GPT = language_models(lib)
        if name == "LSTM":
            return LSTMLM(vocab, args.width, args.hidden)
        return GPT(vocab, args.context, args.width, args.layers, args.heads)

    torch.manual_seed(0)
    torch_model = build(torch)
    model = build(tg)
    model.load_state_dict({k: v.numpy() for k, v in torch_model.state_dict().items()})
    rng = np.random.default_rng(0)
    x = rng.integers(0, vocab, (args.batch, args.context + 1))
    losses = {}

    def stepper(lib, net, inputs, targets):
        optimizer = lib.optim.AdamW(net.parameters(), lr=1e-3)

        def step():
            optimizer.zero_grad()
            logits = net(inputs)
            loss = lib.nn.functional.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1))
            loss.backward()
            optimizer.step()
            losses.setdefault(lib.__name__, loss.item())
        return step

    ours = stepper(tg, model, tg.tensor(x[:, :-1]), tg.tensor(x[:, 1:]))
    theirs = stepper(torch, torch_model, torch.tensor(x[:, :-1]), torch.tensor(x[:, 1:]))
    ours(), theirs()  # the first steps, from identical weights: their losses must agree
    return ours, theirs, losses


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--context", type=int, default=64, help="tokens per sequence")
    parser.add_argument("--width", type=int, default=128, help="embedding width (both models)")
    parser.add_argument("--hidden", type=int, default=256, help="LSTM hidden size")
    parser.add_argument("--layers", type=int, default=2, help="GPT blocks")
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    if min(args.batch, args.context, args.width, args.hidden, args.layers, args.heads, args.repeats) <= 0:
        parser.error("all sizes and --repeats must be positive")
    if args.width % args.heads:
        parser.error(f"--heads ({args.heads}) must divide --width ({args.width})")

    import torch

    torch.set_num_threads(os.cpu_count())
    print(f"# tinygrad_bn vs PyTorch {torch.__version__}, CPU ({platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, torch threads {torch.get_num_threads()}), NumPy {np.__version__}")
    for key, value in blas_info().items():
        print(f"#   {key}: {value}")
    print(f"# batch {args.batch} x {args.context} tokens; one step = zero_grad + forward + backward + AdamW; "
          f"median of {args.repeats}")
    print(f"{'model':<6} {'tinygrad_bn ms':>15} {'PyTorch ms':>11} {'ratio':>7}   first losses (ours, torch)")
    for name in ("LSTM", "GPT"):
        ours, theirs, losses = make_steps(torch, name, args)
        stats = alternate_stats(Timer("cpu"), {"ours": ours, "torch": theirs}, args.repeats, warmup=1)
        ms_ours, ms_torch = stats["ours"][1] * 1e3, stats["torch"][1] * 1e3
        print(f"{name:<6} {ms_ours:>15.1f} {ms_torch:>11.1f} {ms_ours / ms_torch:>6.1f}x   "
              f"{losses['tinygrad_bn']:.5f}, {losses['torch']:.5f}", flush=True)


if __name__ == "__main__":
    main()
