"""A/B of the convolution kernels on every conv layer of the reference CNN (benchmarks/step.py), in one process.

    python benchmarks/conv_layers.py                        # batch 64 and 16, 15 alternating repeats
    python benchmarks/conv_layers.py --batch-sizes 64 --repeats 25

For each 3x3 layer it times the three primitives of tinygrad_bn/kernels/conv.py (forward, weight gradient, input
gradient) in each of their formulations (VARIANTS below), alternating them so that drift on a shared machine hits
all alike, and prints the minimum and the median of each in ms. This is the measurement behind the choices in
kernels/conv.py (WINOGRAD_MIN_CHANNELS, the input gradient as a convolution).
"""
import argparse
import os
import sys

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


VARIANTS = {  # name: (input gradient as a convolution when the stride is 1, WINOGRAD_MIN_CHANNELS)
    "im2col": (False, 10**9),       # the forward by im2col, the input gradient by col2im
    "flipped": (True, 10**9),       # the input gradient as an im2col convolution of g with the flipped filters
    "winograd": (True, 1),          # both by Winograd
}


def variant(name, fn):
    """fn run with the kernels of variant `name` (a monkeypatch of kernels/conv.py, undone afterwards)."""
    as_convolution, threshold = VARIANTS[name]

    def run():
        saved = conv_kernels.WINOGRAD_MIN_CHANNELS, conv_kernels.input_grad_is_a_convolution
        conv_kernels.WINOGRAD_MIN_CHANNELS = threshold
        if not as_convolution:
            conv_kernels.input_grad_is_a_convolution = lambda *args: False
        try:
            return fn()
        finally:
            conv_kernels.WINOGRAD_MIN_CHANNELS, conv_kernels.input_grad_is_a_convolution = saved
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 16])
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    timer, rng = Timer("cpu"), np.random.default_rng(0)
    print("min / median ms of each variant (VARIANTS), alternating; ratio = median / im2col's median\n")
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
                "forward": (lambda: kernels.im2col_matmul(w, x, (3, 3), (1, 1)), ("im2col", "winograd")),
                "weight grad": (lambda: kernels.matmul_im2col_t(g, x, (3, 3), (1, 1)), ("im2col",)),
                "input grad": (lambda: kernels.col2im_matmul(w, g, x.shape, (3, 3), (1, 1), (1, 1)), tuple(VARIANTS)),
            }
            for name, (fn, names) in cases.items():
                t = alternate_stats(timer, {v: variant(v, fn) for v in names}, args.repeats)
                cells = [f"{t[v][0] * 1e3:.1f} / {t[v][1] * 1e3:.1f}" if v in t else "" for v in VARIANTS]
                ratios = [f"{t[v][1] / t['im2col'][1]:.2f}" if v in t else "" for v in list(VARIANTS)[1:]]
                print(f"| {batch} | {C}->{OC} @{H}x{H} | {name} | " + " | ".join(cells + ratios) + " |", flush=True)


if __name__ == "__main__":
    main()
