"""A/B of the convolution kernels on every conv layer of the reference CNN (benchmarks/step.py), in one process.

    python benchmarks/conv_layers.py                        # batch 64 and 16, 15 alternating repeats
    python benchmarks/conv_layers.py --batch-sizes 64 --repeats 25
    python benchmarks/conv_layers.py --step         # and whole training steps in each variant

For each 3x3 layer it times the three primitives of tinygrad_bn/kernels/conv.py (forward, weight gradient, input
gradient), the input gradient in each of its formulations (VARIANTS below), alternating them so that drift on a
shared machine hits all alike, and prints the minimum and the median of each in ms. This is the measurement behind
input_grad_is_a_convolution in kernels/conv.py; --step times whole training steps in each variant.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from tinygrad_bn import kernels  # noqa: E402
from tinygrad_bn.kernels import conv as conv_kernels  # noqa: E402

from step import WIDTHS, Timer, alternate_stats  # noqa: E402


def reference_layers(image_size):
    """(C, OC, H) of each conv of the reference CNN."""
    layers, channels, size = [], 3, image_size
    for width in WIDTHS:
        if width == "M":
            size //= 2
            continue
        layers.append((channels, width, size))
        channels = width
    return layers


VARIANTS = {  # name: how col2im_matmul is made to compute the input gradient (None: its own choice per shape)
    "col2im": False,           # W^T @ g, then col2im's scattered additions
    "convolution": True,       # stride 1: an im2col convolution of the padded g with the flipped filters
    "as shipped": None,        # input_grad_is_a_convolution's choice, what the network runs
}


def variant(name, fn):
    """fn run with the input gradient of variant `name` (a monkeypatch of kernels/conv.py, undone afterwards)."""
    def run():
        forced, chosen = VARIANTS[name], conv_kernels.input_grad_is_a_convolution
        if forced is not None:
            conv_kernels.input_grad_is_a_convolution = lambda kernel, stride, *rest: forced and tuple(stride) == (1, 1)
        try:
            return fn()
        finally:
            conv_kernels.input_grad_is_a_convolution = chosen
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 16])
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--step", action="store_true", help="also time whole training steps in each variant")
    args = parser.parse_args()
    timer, rng = Timer("cpu"), np.random.default_rng(0)
    print("min / median ms of each variant (VARIANTS), alternating; ratio = median / col2im's median\n")
    print("| batch | C->OC @HxW | primitive | " + " | ".join(VARIANTS) + " | " +
          " | ".join(f"{name} ratio" for name in list(VARIANTS)[1:]) + " |")
    print("|---:|---|---|" + "---:|" * (2 * len(VARIANTS) - 1))
    for batch in args.batch_sizes:
        for C, OC, H in reference_layers(args.image_size):
            # channel-major padded input and output gradient, as the network hands them to the kernels
            x = rng.standard_normal((C, batch, H + 2, H + 2)).astype(np.float32).swapaxes(0, 1)
            w = (rng.standard_normal((OC, C * 9)) / np.sqrt(C * 9)).astype(np.float32)
            g = rng.standard_normal((OC, batch * H * H)).astype(np.float32)
            cases = {
                "forward": (lambda: kernels.im2col_matmul(w, x, (3, 3), (1, 1)), ("as shipped",)),
                "weight grad": (lambda: kernels.matmul_im2col_t(g, x, (3, 3), (1, 1)), ("as shipped",)),
                "input grad": (lambda: kernels.col2im_matmul(w, g, x.shape, (3, 3), (1, 1), (1, 1)), tuple(VARIANTS)),
            }
            for name, (fn, names) in cases.items():
                t = alternate_stats(timer, {v: variant(v, fn) for v in names}, args.repeats)
                cells = [f"{t[v][0] * 1e3:.1f} / {t[v][1] * 1e3:.1f}" if v in t else "" for v in VARIANTS]
                ratios = [f"{t[v][1] / t['col2im'][1]:.2f}" if v in t and "col2im" in t else ""
                          for v in list(VARIANTS)[1:]]
                print(f"| {batch} | {C}->{OC} @{H}x{H} | {name} | " + " | ".join(cells + ratios) + " |", flush=True)
    if args.step:
        step_ab(args)


def step_ab(args):
    """Whole training steps (benchmarks/step.py's, tinygrad_bn only) in each variant, alternating: wall-clock
    minimum and median, and the median CPU time of the process (both cores' work, which a busy machine disturbs
    less than the wall clock)."""
    import torch

    from step import make_steps

    print("\n| batch | variant | wall min ms | wall median ms | CPU median ms | CPU ratio |")
    print("|---:|---|---:|---:|---:|---:|")
    for batch in args.batch_sizes:
        step = make_steps(torch, "cpu", batch, args.image_size, first_steps=("tinygrad_bn",))[0]
        fns = {name: variant(name, step) for name in VARIANTS}
        wall, cpu = {name: [] for name in fns}, {name: [] for name in fns}
        for name, fn in fns.items():
            fn()
        for _ in range(args.repeats):
            for name, fn in fns.items():
                start, cpu_start = time.perf_counter(), time.process_time()
                fn()
                wall[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - cpu_start)
        base = np.median(cpu["col2im"])
        for name in fns:
            print(f"| {batch} | {name} | {min(wall[name]) * 1e3:.0f} | {np.median(wall[name]) * 1e3:.0f} | "
                  f"{np.median(cpu[name]) * 1e3:.0f} | {np.median(cpu[name]) / base:.2f} |", flush=True)


if __name__ == "__main__":
    main()
