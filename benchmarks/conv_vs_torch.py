"""Every conv layer of the reference CNN: tinygrad_bn's F.conv2d against PyTorch's, forward and backward, one process.

    python benchmarks/conv_vs_torch.py --batch 16
    python benchmarks/conv_vs_torch.py --batch 64 --repeats 7

Inputs are stored channel-major for tinygrad_bn (as its convolutions hand them to each other in the network) and
NCHW for PyTorch (as its CPU convolutions get them); same numbers, same weights. The first layer's input needs no
gradient, as in the network. Printed: median ms of the forward alone and of backward (forward+backward minus the
forward), with ratios tinygrad_bn / PyTorch, and the forward's GFLOP/s. Needs torch (the oracle).
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tinygrad_bn as tg  # noqa: E402
import tinygrad_bn.nn.functional as F  # noqa: E402
from tinygrad_bn.kernels.layout import channel_major  # noqa: E402

from conv_layers import reference_layers  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=12)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(os.cpu_count())
    rng = np.random.default_rng(0)
    print(f"# batch {args.batch}, median of {args.repeats} alternating runs, ms\n")
    print("| layer | tg fwd | torch fwd | ratio | tg GFLOP/s | tg bwd | torch bwd | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for C, OC, H in reference_layers(args.image_size):
        x = rng.standard_normal((args.batch, C, H, H)).astype(np.float32)
        w = (rng.standard_normal((OC, C, 3, 3)) * 0.1).astype(np.float32)
        g = rng.standard_normal((args.batch, OC, H, H)).astype(np.float32)
        needs_grad = C != 3
        ours = [tg.Tensor._wrap(channel_major(x).swapaxes(0, 1)).requires_grad_(needs_grad), tg.Tensor(w, requires_grad=True),
                tg.Tensor._wrap(channel_major(g).swapaxes(0, 1))]
        theirs = [torch.from_numpy(x).requires_grad_(needs_grad), torch.from_numpy(w).requires_grad_(),
                  torch.from_numpy(g)]
        fns = {
            "tg fwd": lambda: F.conv2d(ours[0], ours[1], padding=1),
            "torch fwd": lambda: torch.nn.functional.conv2d(theirs[0], theirs[1], padding=1),
            "tg both": lambda: F.conv2d(ours[0], ours[1], padding=1).backward(ours[2]),
            "torch both": lambda: torch.nn.functional.conv2d(theirs[0], theirs[1], padding=1).backward(theirs[2]),
        }
        times = {name: [] for name in fns}
        for _ in range(2 + args.repeats):
            for name, fn in fns.items():
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
        ms = {name: float(np.median(t[2:])) * 1e3 for name, t in times.items()}
        tg_bwd, torch_bwd = ms["tg both"] - ms["tg fwd"], ms["torch both"] - ms["torch fwd"]
        gflops = 2 * args.batch * H * H * OC * C * 9 / (ms["tg fwd"] * 1e-3) / 1e9
        print(f"| {C}->{OC} 3x3 @{H}x{H} | {ms['tg fwd']:.2f} | {ms['torch fwd']:.2f} | "
              f"{ms['tg fwd'] / ms['torch fwd']:.2f} | {gflops:.0f} | {tg_bwd:.2f} | {torch_bwd:.2f} | "
              f"{tg_bwd / torch_bwd:.2f} |")


if __name__ == "__main__":
    main()
