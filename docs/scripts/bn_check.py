"""Numerical check of the fused batch_norm (docs/batchnorm.md, section 5).

For (N, C), (N, C, L) and (N, C, H, W) inputs, in training and in eval mode, in float64:
  1. gradcheck() passes (central differences, its default tolerances);
  2. the largest |analytic - numeric| gradient entry, over x, gamma and beta;
  3. the largest difference, output and gradients, against a BN composed from primitive Tensor ops;
  4. the same against PyTorch (skipped when torch is not installed; it is a test oracle only).
Then: why gradcheck works in float64, and a constant channel (var = 0).

Run from the repository root:  PYTHONPATH=. python docs/scripts/bn_check.py
"""
import numpy as np

import tinygrad_bn.nn.functional as F
from tinygrad_bn import Tensor, gradcheck, no_grad

try:
    import torch
    # PyTorch splits its reductions among its threads, so the last bits of its gradients depend on the number of
    # cores; one thread makes the PyTorch columns below the same on every machine.
    torch.set_num_threads(1)
except ImportError:
    torch = None

EPS_BN = 1e-5
SHAPES = {"(N, C)       = (8, 3)": (8, 3), "(N, C, L)    = (5, 3, 4)": (5, 3, 4),
          "(N, C, H, W) = (4, 3, 3, 2)": (4, 3, 3, 2)}


def composed_batch_norm(x, gamma, beta, running_mean, running_var, training):
    """The slow, obviously-correct reference: the forward graph of docs/batchnorm.md, one primitive op per node."""
    axes = (0,) + tuple(range(2, x.ndim))                # every axis but the channel axis 1
    per_channel = (1, -1) + (1,) * (x.ndim - 2)          # (C,) -> (1, C, 1, ...) to broadcast over x
    if training:
        mean = x.mean(dim=axes, keepdim=True)
        centred = x - mean
        var = (centred * centred).mean(dim=axes, keepdim=True)   # biased: divide by m
    else:
        centred = x - running_mean.reshape(per_channel)
        var = running_var.reshape(per_channel)
    inv_std = 1 / (var + EPS_BN).sqrt()
    x_hat = centred * inv_std
    return x_hat * gamma.reshape(per_channel) + beta.reshape(per_channel)


def fused_batch_norm(x, gamma, beta, running_mean, running_var, training):
    # Copies of the running statistics: in training mode the op updates them in place.
    return F.batch_norm(x, Tensor(running_mean), Tensor(running_var), gamma, beta, training=training, eps=EPS_BN)


def analytic_gradients(fn, arrays, w):
    """Output of fn and the gradients of L = sum(fn(...) * w) with respect to x, gamma, beta (by backward())."""
    x, gamma, beta, running_mean, running_var = arrays
    leaves = [Tensor(a, requires_grad=True) for a in (x, gamma, beta)]
    out = fn(*leaves, Tensor(running_mean), Tensor(running_var))
    out.backward(Tensor(w))
    return out.numpy(), [t.grad.numpy() for t in leaves]


def numeric_gradients(fn, arrays, w, eps=1e-6):
    """dL/da_i ~ (L(a + eps e_i) - L(a - eps e_i)) / (2 eps) for every entry of x, gamma, beta: gradcheck's method."""
    def loss(values):
        with no_grad():
            return float((fn(*(Tensor(v) for v in values)).numpy().astype(np.float64) * w).sum())

    grads = []
    for k in range(3):                                   # x, gamma, beta; the running statistics are constants
        values = [a.copy() for a in arrays]
        grad = np.zeros_like(values[k])
        for i in np.ndindex(*values[k].shape):
            original = values[k][i]
            values[k][i] = original + eps
            plus = loss(values)
            values[k][i] = original - eps
            minus = loss(values)
            values[k][i] = original
            grad[i] = (plus - minus) / (2 * eps)
        grads.append(grad)
    return grads


def torch_outputs_and_gradients(arrays, w, training):
    x, gamma, beta, running_mean, running_var = (torch.tensor(a) for a in arrays)
    for t in (x, gamma, beta):
        t.requires_grad_(True)
    out = torch.nn.functional.batch_norm(x, running_mean, running_var, gamma, beta, training=training, eps=EPS_BN)
    out.backward(torch.tensor(w))
    return out.detach().numpy(), [t.grad.numpy() for t in (x, gamma, beta)]


def max_difference(a_list, b_list):
    return max(float(np.abs(a - b).max()) for a, b in zip(a_list, b_list))


def random_inputs(shape, rng):
    C = shape[1]
    x = rng.normal(0.5, 2.0, size=shape)
    gamma, beta = rng.uniform(0.5, 1.5, C), rng.normal(0.0, 1.0, C)
    running_mean, running_var = rng.normal(0.0, 0.5, C), rng.uniform(0.5, 2.0, C)
    return [x, gamma, beta, running_mean, running_var]


def check_table():
    rng = np.random.default_rng(0)
    header = f"{'input shape':29} {'mode':5} {'gradcheck':9} {'|analytic-numeric|':>18} " \
             f"{'composed: out':>13} {'grads':>8} {'PyTorch: out':>12} {'grads':>8}"
    print(header)
    print("-" * len(header))
    for name, shape in SHAPES.items():
        for training in (True, False):
            arrays = random_inputs(shape, rng)
            w = rng.standard_normal(shape)                # the fixed random projection L = sum(y * w)

            def fused(x, gamma, beta, rm, rv, training=training):
                return fused_batch_norm(x, gamma, beta, rm.numpy(), rv.numpy(), training)

            def composed(x, gamma, beta, rm, rv, training=training):
                return composed_batch_norm(x, gamma, beta, rm, rv, training)

            tensors = [Tensor(a, requires_grad=k < 3) for k, a in enumerate(arrays)]
            passed = gradcheck(fused, tensors)
            out, grads = analytic_gradients(fused, arrays, w)
            numeric = numeric_gradients(fused, arrays, w)
            ref_out, ref_grads = analytic_gradients(composed, arrays, w)
            row = f"{name:29} {'train' if training else 'eval':5} {str(passed):9} " \
                  f"{max_difference(grads, numeric):18.1e} {np.abs(out - ref_out).max():13.1e} " \
                  f"{max_difference(grads, ref_grads):8.1e}"
            if torch is not None:
                torch_out, torch_grads = torch_outputs_and_gradients(arrays, w, training)
                row += f" {np.abs(out - torch_out).max():12.1e} {max_difference(grads, torch_grads):8.1e}"
            else:
                row += f" {'(no torch)':>12}"
            print(row)


def why_float64():
    """The same central difference on float32 data: rounding error of L / (2 eps) swamps the derivative."""
    rng = np.random.default_rng(1)
    arrays = random_inputs((4, 3, 3, 2), rng)
    w = rng.standard_normal((4, 3, 3, 2))

    def fused(x, gamma, beta, rm, rv):
        return fused_batch_norm(x, gamma, beta, rm.numpy(), rv.numpy(), True)

    _, grads = analytic_gradients(fused, arrays, w)
    print("\nSame 4D training case, |analytic(float64) - numeric| for x, with the numeric derivative taken in:")
    for dtype, eps in ((np.float64, 1e-6), (np.float32, 1e-6), (np.float32, 1e-3)):
        low = [a.astype(dtype) for a in arrays]
        numeric = numeric_gradients(fused, low, w.astype(dtype), eps=eps)
        print(f"  {np.dtype(dtype).name:7} eps={eps:g}: max error {np.abs(grads[0] - numeric[0]).max():.1e}"
              f"   (largest |dL/dx| is {np.abs(grads[0]).max():.2f})")


def constant_channel():
    """Channel 1 holds the same value everywhere, so its variance is 0 and only eps keeps 1/sqrt(var + eps) finite."""
    rng = np.random.default_rng(2)
    arrays = random_inputs((4, 3, 3, 2), rng)
    arrays[0][:, 1] = 0.7
    w = rng.standard_normal((4, 3, 3, 2))

    def fused(x, gamma, beta, rm, rv):
        return fused_batch_norm(x, gamma, beta, rm.numpy(), rv.numpy(), True)

    out, grads = analytic_gradients(fused, arrays, w)
    x_hat = (out[:, 1] - arrays[2][1]) / arrays[1][1]
    tensors = [Tensor(a, requires_grad=k < 3) for k, a in enumerate(arrays)]
    print("\nConstant channel (x[:, 1] = 0.7 everywhere, var = 0), training mode, float64:")
    print(f"  max |x_hat| in that channel: {np.abs(x_hat).max():.1e};  y there = beta = {out[0, 1, 0, 0]:.6f} "
          f"(beta[1] = {arrays[2][1]:.6f})")
    print(f"  all outputs finite: {bool(np.isfinite(out).all())};  all gradients finite: "
          f"{all(bool(np.isfinite(g).all()) for g in grads)};  gradcheck: {gradcheck(fused, tensors)}")
    print(f"  dgamma[1] = {grads[1][1]:.1e} (sum of g * x_hat, x_hat = 0);  max |dx| in that channel = "
          f"{np.abs(grads[0][:, 1]).max():.1f}, elsewhere = {np.abs(grads[0][:, [0, 2]]).max():.2f} "
          f"(1/sqrt(eps) = {1 / np.sqrt(EPS_BN):.0f})")


if __name__ == "__main__":
    print(f"torch: {torch.__version__ if torch is not None else 'not installed'}\n")
    check_table()
    why_float64()
    constant_channel()
