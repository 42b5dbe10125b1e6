"""Where a training step's time goes: wall-clock ms per op (forward and backward of each Function class), summed
over the reference CNN's step (benchmarks/step.py's twin model), next to the whole step and PyTorch's.

    python benchmarks/op_times.py --batch 16

Each Function's forward and backward is wrapped with a timer (on the calling thread, so the work a primitive hands
to the thread pool is inside its op's time). What is left of the step (the sum of ops against the whole) is autograd's
bookkeeping, the optimizer and Python.
"""
import argparse
import collections
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..")]

import step  # noqa: E402
from tinygrad_bn.nn.functional import batchnorm  # noqa: E402  (importing it defines the layers' Function classes)
from tinygrad_bn.autograd import Function  # noqa: E402


def subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)


def time_every_op(totals):
    """Wrap forward/backward of every Function class so that each call adds its seconds to totals[name]; and batch
    norm's statistics, which F.batch_norm computes before its Function runs (they feed the running estimates)."""
    for cls in set(subclasses(Function)):
        for name in ("forward", "backward"):
            if name in cls.__dict__:
                setattr(cls, name, timed(cls.__dict__[name], f"{cls.__name__}.{name}", totals))
    batchnorm.standardize = timed(batchnorm.standardize, "standardize (batch norm's statistics and x_hat)", totals)


def timed(fn, key, totals):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        totals[key] += time.perf_counter() - start
        return result
    return wrapper


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(os.cpu_count())
    totals = collections.defaultdict(float)
    time_every_op(totals)
    tg_step, torch_step, _ = step.make_steps(torch, "cpu", args.batch, 64, first_steps=("tinygrad_bn",))
    for _ in range(3):
        tg_step(), torch_step()
    totals.clear()
    whole = {"tinygrad_bn": 0.0, "torch": 0.0}
    for _ in range(args.steps):  # alternating, like step.py
        for name, fn in (("tinygrad_bn", tg_step), ("torch", torch_step)):
            start = time.perf_counter()
            fn()
            whole[name] += time.perf_counter() - start
    ms = {k: v / args.steps * 1e3 for k, v in totals.items()}
    step_ms = whole["tinygrad_bn"] / args.steps * 1e3
    print(f"# batch {args.batch}: tinygrad_bn step {step_ms:.1f} ms, PyTorch step "
          f"{whole['torch'] / args.steps * 1e3:.1f} ms (means of {args.steps}, alternating)\n")
    print("| op | ms per step | share of the step |")
    print("|---|---:|---:|")
    for key, value in sorted(ms.items(), key=lambda kv: -kv[1]):
        if value >= 0.05:
            print(f"| {key} | {value:.1f} | {value / step_ms:.0%} |")
    rest = step_ms - sum(ms.values())
    print(f"| everything else (autograd, optimizer, Python) | {rest:.1f} | {rest / step_ms:.0%} |")


if __name__ == "__main__":
    main()
