"""Running statistics of nn.BatchNorm1d, batch by batch (docs/batchnorm.md, section 6).

Three training-mode batches of one channel, with momentum=0.1 and momentum=None (cumulative average), printed next
to the formulas computed by hand and, when installed, next to PyTorch's BatchNorm1d fed the same batches.

Run from the repository root:  PYTHONPATH=. python docs/scripts/bn_running_stats.py
"""
import numpy as np

import tinygrad_bn.nn as nn
from tinygrad_bn import Tensor

try:
    import torch
except ImportError:
    torch = None

BATCHES = [np.array([[1.0], [2.0], [3.0], [4.0]]), np.array([[0.0], [10.0]]), np.array([[5.0], [5.0], [8.0]])]


def by_hand(momentum):
    """running = (1 - a) * running + a * batch_stat, a = momentum, or 1/n for the n-th batch when momentum is None."""
    running_mean, running_var = 0.0, 1.0                  # the initial buffers
    rows = []
    for n, batch in enumerate(BATCHES, start=1):
        a = 1 / n if momentum is None else momentum
        running_mean = (1 - a) * running_mean + a * batch.mean()
        running_var = (1 - a) * running_var + a * batch.var(ddof=1)     # unbiased: divide by m - 1
        rows.append((running_mean, running_var))
    return rows


def main():
    for momentum in (0.1, None):
        bn = nn.BatchNorm1d(1, momentum=momentum, affine=False)
        twin = torch.nn.BatchNorm1d(1, momentum=momentum, affine=False).double() if torch is not None else None
        print(f"momentum={momentum}")
        print(f"  {'batch':16} {'mean':>6} {'var/m':>6} {'var/(m-1)':>9} | {'running_mean':>12} {'running_var':>11} "
              f"{'tracked':>7} | {'by hand':>15} | {'PyTorch':>15}")
        for batch, (hand_mean, hand_var) in zip(BATCHES, by_hand(momentum)):
            y = bn(Tensor(batch))
            torch_text = f"{'(no torch)':>15}"
            if twin is not None:
                twin(torch.tensor(batch))
                torch_text = f"{twin.running_mean.item():7.4f} {twin.running_var.item():7.4f}"
            values = ",".join(f"{v:g}" for v in batch[:, 0])
            print(f"  {values:16} {batch.mean():6.3f} {batch.var():6.3f} {batch.var(ddof=1):9.3f} | "
                  f"{bn.running_mean.item():12.4f} {bn.running_var.item():11.4f} {bn.num_batches_tracked.item():7d} | "
                  f"{hand_mean:7.4f} {hand_var:7.4f} | {torch_text}")
        print(f"  last batch normalized with its biased var {BATCHES[-1].var():.3f}: y = "
              f"{np.round(y.numpy()[:, 0], 4).tolist()}\n")


if __name__ == "__main__":
    main()
