"""A/B of two versions of tinygrad_bn (and PyTorch) on the reference CNN: one worker process per version, asked in
turn to run one training step (or one inference forward), so that drift on a shared machine hits all alike.

    mkdir /tmp/before && git archive <commit> | tar -x -C /tmp/before   # the version to compare with
    python benchmarks/versions_ab.py --mode step --batch 64 --repeats 11 before=/tmp/before after=. torch=.
    python benchmarks/versions_ab.py --mode inference --batch 1 --repeats 61 before=/tmp/before after=. torch=.

Each NAME=TREE runs benchmarks/step.py's twin models from the tinygrad_bn checkout at TREE (the name `torch` runs
PyTorch's twin instead). Printed per version: the minimum and the median wall-clock ms, the median CPU ms of the
worker (both cores' work, which other processes on the machine disturb less), and the ratios to the first version.
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np


def worker(tree, mode, batch, framework):
    """Build the twin model from `tree`, then run one step or forward per line read from stdin."""
    sys.path[:0] = [os.path.join(tree, "benchmarks"), tree]
    import torch
    import step

    torch.set_num_threads(os.cpu_count())
    if mode == "step":
        tg_fn, torch_fn, _ = step.make_steps(torch, "cpu", batch, 64, first_steps=(framework,))
    else:
        tg_fn, torch_fn, _ = step.make_inference(torch, "cpu", batch, 64)
    fn = torch_fn if framework == "torch" else tg_fn
    fn()
    fn()
    print("ready", flush=True)
    for _ in sys.stdin:
        start, cpu_start = time.perf_counter(), time.process_time()
        fn()
        print(time.perf_counter() - start, time.process_time() - cpu_start, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("versions", nargs="*", help="NAME=TREE (a tinygrad_bn checkout); the name torch runs PyTorch")
    parser.add_argument("--mode", choices=["step", "inference"], default="step")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--worker", nargs=2, metavar=("TREE", "FRAMEWORK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker[0], args.mode, args.batch, args.worker[1])
    if not args.versions:
        parser.error("give at least one NAME=TREE")

    workers = {}
    for version in args.versions:
        name, tree = version.split("=", 1)
        framework = "torch" if name == "torch" else "tinygrad_bn"
        workers[name] = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--mode", args.mode, "--batch", str(args.batch),
             "--worker", os.path.abspath(tree), framework], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    for name, process in workers.items():
        if process.stdout.readline().strip() != "ready":
            raise SystemExit(f"worker {name} failed to start")
    wall, cpu = {name: [] for name in workers}, {name: [] for name in workers}
    for _ in range(args.repeats):
        for name, process in workers.items():
            process.stdin.write("go\n")
            process.stdin.flush()
            seconds, cpu_seconds = map(float, process.stdout.readline().split())
            wall[name].append(seconds)
            cpu[name].append(cpu_seconds)
    first = args.versions[0].split("=", 1)[0]
    print(f"{args.mode}, batch {args.batch}, {args.repeats} alternating repeats; ratios to {first}\n")
    print("| version | wall min ms | wall median ms | CPU median ms | ratio of minimums | ratio of medians |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in workers:
        print(f"| {name} | {min(wall[name]) * 1e3:.1f} | {np.median(wall[name]) * 1e3:.1f} | "
              f"{np.median(cpu[name]) * 1e3:.1f} | {min(wall[name]) / min(wall[first]):.2f} | "
              f"{np.median(wall[name]) / np.median(wall[first]):.2f} |")
    for process in workers.values():
        process.stdin.close()
        process.wait()


if __name__ == "__main__":
    main()
