"""Training-step benchmark: tinygrad_bn against PyTorch on the same weights, the same batch, in one process.

    python benchmarks/step.py                       # CPU: step, inference, per-layer, BN analytic vs composed,
                                                    # memory, floor; batches 64 and 16 (inference: 64 and 1)
    python benchmarks/step.py --device cuda --batch-sizes 64 256
    bash benchmarks/blas_configs.sh --repeats 9     # the same benchmark twice: as configured, and with
                                                    # OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset for that command

The header says which BLAS ran: NumPy's OpenBLAS picks its kernels ("architecture": Haswell = AVX2, SkylakeX =
AVX-512 ...) from the processor, unless OPENBLAS_CORETYPE names one, so the same machine can run at different GEMM
rates depending on the environment. Inference = eval mode under no_grad, forward only.

The reference CNN: conv3x3 (no bias) + BatchNorm2d + ReLU blocks with channels 32, 32, pool, 64, 64, pool, 128,
128, pool, 256, global average pooling, Linear(256, 2); cross-entropy; SGD with momentum 0.9. One step =
zero_grad + forward + backward + optimizer step. Both frameworks alternate, several repetitions after warm-up;
medians are reported with the ratio tinygrad_bn / PyTorch, because on a shared machine absolute times drift while
ratios hold. Needs torch (the oracle): `pip install torch==2.13.0`.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tinygrad_bn as tg  # noqa: E402
import tinygrad_bn.nn as tnn  # noqa: E402
import tinygrad_bn.nn.functional as F  # noqa: E402
import tinygrad_bn.optim as toptim  # noqa: E402
from tinygrad_bn.kernels import layout  # noqa: E402

WIDTHS = (32, 32, "M", 64, 64, "M", 128, 128, "M", 256)


def reference_cnn(nn):
    """The reference CNN, built from `nn` = tinygrad_bn.nn or torch.nn: one code, two twin models."""
    layers, channels = [], 3
    for width in WIDTHS:
        if width == "M":
            layers.append(nn.MaxPool2d(2))
            continue
        layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
        channels = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, 2)]
    return nn.Sequential(*layers)


def conv_flops(batch, size):
    """Multiply-adds x2 of every conv's three matrix products (forward, weight grad, input grad; not the input
    grad of the first conv, which needs none), at `size` x `size` inputs."""
    flops, channels = 0, 3
    for index, width in enumerate(WIDTHS):
        if width == "M":
            size //= 2
            continue
        forward = 2 * batch * size * size * width * channels * 9
        flops += forward * (2 if index == 0 else 3)
        channels = width
    return flops


class Timer:
    """Wall-clock timing that waits for the GPU when there is one (both frameworks queue GPU work)."""

    def __init__(self, device):
        self.device = device

    def sync(self):
        if self.device == "cuda":
            import torch

            torch.cuda.synchronize()
            from tinygrad_bn.backend import cupy_module

            cupy_module().cuda.runtime.deviceSynchronize()

    def __call__(self, fn):
        self.sync()
        start = time.perf_counter()
        fn()
        self.sync()
        return time.perf_counter() - start


def alternate(timer, fns, repeats, warmup=2):
    """Median seconds of each function, run alternately so drift in the machine hits all of them alike."""
    return {name: median for name, (_, median) in alternate_stats(timer, fns, repeats, warmup).items()}


def alternate_stats(timer, fns, repeats, warmup=2):
    """(minimum, median) seconds of each function, run alternately: on a busy machine the minimum shows what the
    code can do, the median what it usually does."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(timer(fn))
    return {name: (float(np.min(t)), float(np.median(t))) for name, t in times.items()}


def make_steps(torch, device, batch, size, seed=0, first_steps=("tinygrad_bn", "torch")):
    """Twin models on identical weights and batch; returns (tinygrad step, torch step, first losses).

    `first_steps` names the frameworks whose first step runs here (to compare their losses); the memory benchmark
    runs only one, so that the other's activations do not count in its peak."""
    torch.manual_seed(seed)
    torch_device = "cuda" if device == "cuda" else "cpu"
    torch_model = reference_cnn(torch.nn).to(torch_device)
    model = reference_cnn(tnn)
    model.load_state_dict({k: v.cpu().numpy() for k, v in torch_model.state_dict().items()})
    model.to(device)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, 3, size, size)).astype(np.float32)
    y = rng.integers(0, 2, batch)
    tx, ty = tg.Tensor(x, device=device), tg.Tensor(y, device=device)
    X, Y = torch.tensor(x, device=torch_device), torch.tensor(y, device=torch_device)
    optimizer = toptim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    torch_optimizer = torch.optim.SGD(torch_model.parameters(), lr=0.01, momentum=0.9)
    losses = {}

    def step():
        optimizer.zero_grad()
        loss = F.cross_entropy(model(tx), ty)
        loss.backward()
        optimizer.step()
        losses["tinygrad_bn"] = loss

    def torch_step():
        torch_optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(torch_model(X), Y)
        loss.backward()
        torch_optimizer.step()
        losses["torch"] = loss

    for name, fn in (("tinygrad_bn", step), ("torch", torch_step)):
        if name in first_steps:
            fn()
    first = tuple(float(losses[name].item()) if name in losses else None for name in ("tinygrad_bn", "torch"))
    return step, torch_step, first


def make_inference(torch, device, batch, size, seed=0):
    """Twin models in eval mode (running statistics, no graph): a tinygrad_bn forward and a torch forward."""
    torch.manual_seed(seed)
    torch_device = "cuda" if device == "cuda" else "cpu"
    torch_model = reference_cnn(torch.nn).to(torch_device).eval()
    model = reference_cnn(tnn)
    model.load_state_dict({k: v.cpu().numpy() for k, v in torch_model.state_dict().items()})
    model.to(device).eval()
    x = np.random.default_rng(seed).standard_normal((batch, 3, size, size)).astype(np.float32)
    tx, X = tg.Tensor(x, device=device), torch.tensor(x, device=torch_device)

    def forward():
        with tg.no_grad():
            return model(tx)

    def torch_forward():
        with torch.no_grad():
            return torch_model(X)

    difference = float(np.abs(forward().numpy() - torch_forward().cpu().numpy()).max())
    return forward, torch_forward, difference


def blas_info():
    """Which BLAS NumPy runs, and the OpenBLAS variables of this process's environment (threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return {"blas": "unknown (threadpoolctl is not installed)"}
    blas = [lib for lib in threadpool_info() if lib.get("user_api") == "blas"]
    info = {f"{lib['internal_api']} {lib.get('version')}": f"kernel {lib.get('architecture', '?')}, "
            f"{lib.get('num_threads')} threads" for lib in blas}
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        info[name] = os.environ.get(name, "unset")
    return info


def layer_benchmarks(torch, device, timer, repeats):
    """Forward+backward of single layers at the shapes of the reference net's largest block."""
    torch_device = "cuda" if device == "cuda" else "cpu"
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 32, 64, 64)).astype(np.float32)
    cases = {
        "conv 32->32 3x3 @64x64": (lambda nn: nn.Conv2d(32, 32, 3, padding=1, bias=False)),
        "batchnorm2d(32) @64x64": (lambda nn: nn.BatchNorm2d(32)),
        "relu @64x64": (lambda nn: nn.ReLU()),
        "maxpool 2x2 @64x64": (lambda nn: nn.MaxPool2d(2)),
    }
    rows = []
    for name, make in cases.items():
        torch_layer = make(torch.nn).to(torch_device)
        layer = make(tnn)
        layer.load_state_dict({k: v.cpu().numpy() for k, v in torch_layer.state_dict().items()})
        layer.to(device)
        # a conv output is channel-major in memory inside the net (layout.py); give each layer what it would get
        tx = tg.Tensor(x, device=device)
        if name.startswith(("batchnorm", "relu", "maxpool")):
            xp = tg.backend.array_module(device)
            tx = tg.Tensor._wrap(xp.ascontiguousarray(tx.array.swapaxes(0, 1)).swapaxes(0, 1))
        tx.requires_grad_(True)
        X = torch.tensor(x, device=torch_device, requires_grad=True)
        out, torch_out = layer(tx), torch_layer(X)
        g = tg.Tensor._wrap(tg.backend.array_module(device).ones_like(out.array))
        G = torch.ones_like(torch_out)
        fns = {
            "tg fwd": lambda: layer(tx),
            "torch fwd": lambda: torch_layer(X),
            "tg fwd+bwd": lambda: layer(tx).backward(g),
            "torch fwd+bwd": lambda: torch_layer(X).backward(G),
        }
        t = alternate(timer, fns, repeats)
        rows.append((name, t["tg fwd"], t["torch fwd"], t["tg fwd+bwd"] - t["tg fwd"],
                     t["torch fwd+bwd"] - t["torch fwd"]))
    return rows


def bn_benchmark(device, timer, repeats, shape=(64, 64, 32, 32), channel_major=False):
    """Analytic (fused) BN vs the composed one: forward+backward time, and peak memory (NumPy, via tracemalloc).

    channel_major=True feeds both the input and the output gradient stored channel-major, as batch norm gets them
    in the network (from a convolution, and back through ReLU); NCHW-contiguous ones cost the fused op a layout copy
    each (its per-channel rows are then not a view), which the composed op, working on strided views, does not pay."""
    rng = np.random.default_rng(0)
    xp = tg.backend.array_module(device)

    def stored(array):  # NCHW shape; in memory (C, N, H, W) when channel_major
        array = xp.asarray(array)
        return layout.channel_major(array).swapaxes(0, 1) if channel_major else array

    x = tg.Tensor._wrap(stored(rng.standard_normal(shape).astype(np.float32))).requires_grad_()
    weight = tg.Tensor(rng.standard_normal(shape[1]).astype(np.float32), device=device, requires_grad=True)
    bias = tg.Tensor(rng.standard_normal(shape[1]).astype(np.float32), device=device, requires_grad=True)
    g = tg.Tensor._wrap(stored(np.ones(shape, dtype=np.float32)))
    fused = lambda: F.batch_norm(x, None, None, weight, bias, training=True).backward(g)  # noqa: E731
    composed = lambda: F.batch_norm_simple(x, None, None, weight, bias, training=True).backward(g)  # noqa: E731
    t = alternate(timer, {"fused": fused, "composed": composed}, repeats)
    peaks = {}
    if device == "cpu":
        for name, fn in (("fused", fused), ("composed", composed)):
            tracemalloc.start()
            fn()
            peaks[name] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    return shape, t, peaks


def gemm_rate(device, n=2048, repeats=5):
    """float32 matrix-product FLOP/s of the array library (NumPy's BLAS, or cuBLAS through CuPy)."""
    xp = tg.backend.array_module(device)
    a = xp.asarray(np.random.default_rng(0).standard_normal((n, n)).astype(np.float32))
    timer = Timer(device)
    timer(lambda: a @ a)
    return 2 * n**3 / min(timer(lambda: a @ a) for _ in range(repeats))


def peak_rss_of_steps(framework, steps=20, batch=64, size=64):
    """Peak resident memory (MB) of a fresh process running `steps` training steps of one framework."""
    code = (f"import sys; sys.argv=['x']; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); "
            f"import step as b, torch; "
            f"s, ts, _ = b.make_steps(torch, 'cpu', {batch}, {size}, first_steps=({framework!r},)); "
            f"f = s if {framework!r} == 'tinygrad_bn' else ts\n"
            f"for _ in range({steps}): f()\n"
            # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over exec from the forked parent
            f"print([line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM')][0])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 16])
    parser.add_argument("--inference-batch-sizes", type=int, nargs="+", default=[64, 1])
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--skip", nargs="*", default=[], choices=["inference", "layers", "bn", "memory"])
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()

    import torch

    if args.device == "cpu":
        torch.set_num_threads(os.cpu_count())
    timer = Timer(args.device)
    results = {"date": time.strftime("%Y-%m-%d %H:%M"), "device": args.device, "torch": torch.__version__,
               "numpy": np.__version__, "machine": f"{platform.processor() or platform.machine()}, "
                                                  f"{os.cpu_count()} cores"}
    if args.device == "cuda":
        results["gpu"] = torch.cuda.get_device_name()
    results["blas"] = blas_info()
    print(f"# tinygrad_bn vs PyTorch {torch.__version__} on {args.device} ({results.get('gpu', results['machine'])})")
    print("\nNumPy's BLAS: " + "; ".join(f"{k}: {v}" for k, v in results["blas"].items()))

    print("\n## Training step (zero_grad + forward + backward + SGD momentum step), minimum / median of "
          f"{args.repeats} after warm-up\n")
    print("| batch | tinygrad_bn ms | PyTorch ms | ratio of medians | ratio of minimums | first loss tg / torch |")
    print("|---:|---:|---:|---:|---:|---|")
    rate = gemm_rate(args.device)
    results["steps"] = []
    for batch in args.batch_sizes:
        step, torch_step, (loss, torch_loss) = make_steps(torch, args.device, batch, args.image_size)
        (tg_min, tg_s), (torch_min, torch_s) = alternate_stats(timer, {"tg": step, "torch": torch_step},
                                                               args.repeats).values()
        floor = conv_flops(batch, args.image_size) / rate
        results["steps"].append(dict(batch=batch, tg_s=tg_s, torch_s=torch_s, ratio=tg_s / torch_s, tg_min_s=tg_min,
                                     torch_min_s=torch_min, ratio_of_minimums=tg_min / torch_min,
                                     loss=loss, torch_loss=torch_loss, gemm_floor_s=floor))
        print(f"| {batch} | {tg_min * 1e3:.0f} / {tg_s * 1e3:.0f} | {torch_min * 1e3:.0f} / {torch_s * 1e3:.0f} | "
              f"{tg_s / torch_s:.2f} | {tg_min / torch_min:.2f} | {loss:.6f} / {torch_loss:.6f} |")
    print(f"\nfloat32 GEMM rate: {rate / 1e9:.0f} GFLOP/s; the conv matrix products of one step need "
          f"{conv_flops(args.batch_sizes[0], args.image_size) / 1e9:.1f} GFLOP, so the floor is "
          f"{results['steps'][0]['gemm_floor_s'] * 1e3:.0f} ms at batch {args.batch_sizes[0]}.")

    if "inference" not in args.skip:
        print("\n## Inference (eval mode, no_grad, forward only), minimum / median of "
              f"{args.repeats} after warm-up (batch 1: {4 * args.repeats})\n")
        print("| batch | tinygrad_bn ms | PyTorch ms | ratio of medians | ratio of minimums | max abs difference |")
        print("|---:|---:|---:|---:|---:|---:|")
        results["inference"] = []
        for batch in args.inference_batch_sizes:
            forward, torch_forward, difference = make_inference(torch, args.device, batch, args.image_size)
            repeats = args.repeats * (4 if batch == 1 else 1)  # milliseconds each: more repeats cost little
            (tg_min, tg_s), (torch_min, torch_s) = alternate_stats(timer, {"tg": forward, "torch": torch_forward},
                                                                   repeats).values()
            results["inference"].append(dict(batch=batch, tg_s=tg_s, torch_s=torch_s, ratio=tg_s / torch_s,
                                             tg_min_s=tg_min, torch_min_s=torch_min,
                                             ratio_of_minimums=tg_min / torch_min, max_abs_difference=difference))
            print(f"| {batch} | {tg_min * 1e3:.1f} / {tg_s * 1e3:.1f} | {torch_min * 1e3:.1f} / {torch_s * 1e3:.1f} | "
                  f"{tg_s / torch_s:.2f} | {tg_min / torch_min:.2f} | {difference:.1e} |")

    if "layers" not in args.skip:
        print("\n## Single layers, input (64, 32, 64, 64), median ms\n")
        print("| layer | tg fwd | torch fwd | ratio | tg bwd | torch bwd | ratio |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        results["layers"] = []
        for name, f, tf, b, tb in layer_benchmarks(torch, args.device, timer, args.repeats):
            results["layers"].append(dict(layer=name, tg_fwd=f, torch_fwd=tf, tg_bwd=b, torch_bwd=tb))
            print(f"| {name} | {f * 1e3:.1f} | {tf * 1e3:.1f} | {f / tf:.2f} | {b * 1e3:.1f} | {tb * 1e3:.1f} | "
                  f"{b / tb:.2f} |")

    if "bn" not in args.skip:
        for layout, channel_major in (("channel-major, as in the network", True), ("NCHW-contiguous", False)):
            shape, t, peaks = bn_benchmark(args.device, timer, args.repeats, channel_major=channel_major)
            key = "bn" if channel_major else "bn_nchw"
            results[key] = dict(shape=shape, layout=layout, fused_s=t["fused"], composed_s=t["composed"], peaks=peaks)
            if channel_major:
                print(f"\n## BatchNorm forward+backward on {shape}: analytic (fused) vs composed from primitives\n")
            print(f"{layout}: fused {t['fused'] * 1e3:.1f} ms, composed {t['composed'] * 1e3:.1f} ms: "
                  f"the analytic op is {t['composed'] / t['fused']:.1f}x faster")
            if peaks:
                print(f"  peak memory allocated during one forward+backward: fused {peaks['fused'] / 2**20:.0f} MB, "
                      f"composed {peaks['composed'] / 2**20:.0f} MB")

    if "memory" not in args.skip and args.device == "cpu":
        rss = {fw: peak_rss_of_steps(fw) for fw in ("tinygrad_bn", "torch")}
        results["peak_rss_mb"] = rss
        print(f"\n## Peak RSS of a fresh process running 20 training steps (batch 64)\n")
        print(f"tinygrad_bn {rss['tinygrad_bn']:.0f} MB, PyTorch {rss['torch']:.0f} MB, "
              f"ratio {rss['tinygrad_bn'] / rss['torch']:.2f} (both include the Python interpreter, NumPy and torch "
              f"imports)")

    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
