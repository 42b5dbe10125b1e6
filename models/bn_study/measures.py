"""The measurements the literature uses to explain BatchNorm, each a function of a model and one batch.

Santurkar, Tsipras, Ilyas and Madry, "How Does Batch Normalization Help Optimization?", NeurIPS 2018:

    internal_covariate_shift   how much a layer's gradient changes when the layers before it take their step
    smoothness_along_gradient  how much the loss and the gradient change along the gradient direction

Wu and He, "Group Normalization", ECCV 2018 (why BN breaks at small batches):

    batch_statistics_noise     how far a batch's mean and variance stray from the population's, per batch size

and the tutorial mistake of the old study's section 6:

    forward_with_batch_statistics   eval with the test batch's own statistics instead of the running ones

Every function takes the model in the mode it should measure (training mode for the two of Santurkar et al.: the
gradients training sees, with batch statistics) and leaves its weights as it found them. Training-mode forward
passes move BN's running statistics: `kept_buffers` puts them back. Gradients are compared on the host in float64.
"""
import math
from contextlib import contextmanager

import numpy as np

import tinygrad_bn as tg
import tinygrad_bn.nn.functional as F
from tinygrad_bn import nn

from .nets import layer_groups, weight_layers


@contextmanager
def kept_buffers(model):
    """Run the block, then restore every buffer (BN's running mean and variance, num_batches_tracked)."""
    saved = [buffer.array.copy() for buffer in model.buffers()]
    try:
        yield model
    finally:
        for buffer, value in zip(model.buffers(), saved):
            buffer.array[...] = value


def loss_and_gradients(model, images, labels):
    """(L, [dL/dp for every parameter p, as a host float64 array]) of the mean cross-entropy on one batch."""
    params = list(model.parameters())
    for param in params:
        param.grad = None
    loss = F.cross_entropy(model(images), labels)
    loss.backward()
    grads = [np.zeros(param.shape) if param.grad is None else param.grad.numpy().astype(np.float64)
             for param in params]
    for param in params:
        param.grad = None
    return loss.item(), grads


def set_weights(model, arrays):
    """Copy `arrays` (one per parameter, on the host or the model's device) into the model's parameters."""
    for param, value in zip(model.parameters(), arrays):
        param.array[...] = tg.Tensor(value, device=param.device).array


def l2(array):
    return float(np.linalg.norm(array))


def cosine(a, b):
    """cos of the angle between two arrays (as flat vectors); nan when one is zero (no direction to compare: 0
    would read as "orthogonal")."""
    denominator = l2(a) * l2(b)
    return float(np.vdot(a, b) / denominator) if denominator > 0 else float("nan")


def internal_covariate_shift(model, weights_before, weights_after, images, labels):
    """Santurkar et al.'s Definition 2.1, for each layer i (conv1, ..., fc):

        G_i  = grad_{W_i} L(W_1,  ..., W_{i-1},  W_i, ..., W_k; x, y)      at the weights before the step t
        G'_i = grad_{W_i} L(W_1', ..., W_{i-1}', W_i, ..., W_k; x, y)      the layers before i already updated
        ICS_i = ||G_i - G'_i||_2,  and  cos(G_i, G'_i)

    where W' are the weights after the optimizer's step t (`weights_after`, one array per parameter; `weights_before`
    likewise) and (x, y) is the batch of step t. A layer whose inputs' distribution shifts when the layers before it
    change sees its gradient change: ICS measures that change where it matters, in the optimization. "Layer" j
    holds a convolution (or the linear head) with its bias and its block's normalization parameters
    (nets.layer_groups). The first layer has no layers before it (G' = G), so it is left out.

    Returns [{layer, l2, cosine, grad_norm}] for layers 2..k; the model's weights and buffers are left as found.
    """
    params = list(model.parameters())
    index = {id(param): k for k, param in enumerate(params)}
    groups = [[index[id(param)] for param in group] for group in layer_groups(model)]
    names = [name for name, _ in weight_layers(model)]
    rows = []
    with kept_buffers(model):
        set_weights(model, weights_before)
        _, gradients = loss_and_gradients(model, images, labels)
        for i in range(1, len(groups)):
            earlier = {k for group in groups[:i] for k in group}
            set_weights(model, [weights_after[k] if k in earlier else weights_before[k] for k in range(len(params))])
            _, shifted = loss_and_gradients(model, images, labels)
            weight = groups[i][0]  # the conv / linear weight comes first in its group
            G, G_shifted = gradients[weight], shifted[weight]
            rows.append({"layer": names[i], "l2": l2(G - G_shifted), "cosine": cosine(G, G_shifted),
                         "grad_norm": l2(G)})
        set_weights(model, weights_before)
    return rows


def smoothness_along_gradient(model, images, labels, step_sizes):
    """Santurkar et al.'s section 3.1 measures, at the model's weights W and on one batch, along the gradient
    g = grad L(W) (of the loss, without weight decay), for each step size eta in `step_sizes`:

        loss landscape          L(W - eta g): its range over eta is the "variation of the loss" they plot
        gradient predictiveness ||grad L(W) - grad L(W - eta g)||_2: how far the gradient at the start predicts the
                                gradient a step away (its largest value over eta is plotted)
        effective beta-smoothness  max over eta of ||grad L(W) - grad L(W - eta g)||_2 / ||eta g||_2: the largest
                                ratio of gradient change to distance moved, a local Lipschitz constant of the gradient

    Returns {loss, grad_norm, losses: [...], gradient_changes: [...], step_sizes, loss_range, max_gradient_change,
    effective_beta}; the weights and buffers are left as found.
    """
    params = list(model.parameters())
    start = [param.numpy().astype(np.float64) for param in params]
    losses, changes, ratios = [], [], []
    with kept_buffers(model):
        loss, gradients = loss_and_gradients(model, images, labels)
        g_norm = float(np.sqrt(sum(float((g * g).sum()) for g in gradients)))
        for eta in step_sizes:
            set_weights(model, [(w - eta * g).astype(np.float32) for w, g in zip(start, gradients)])
            moved_loss, moved = loss_and_gradients(model, images, labels)
            change = float(np.sqrt(sum(float(((a - b) ** 2).sum()) for a, b in zip(gradients, moved))))
            losses.append(moved_loss)
            changes.append(change)
            ratios.append(change / (eta * g_norm) if g_norm > 0 else 0.0)
        set_weights(model, start)
    finite = [value for value in losses if np.isfinite(value)]
    return {"loss": loss, "grad_norm": g_norm, "step_sizes": list(step_sizes), "losses": losses,
            "gradient_changes": changes, "loss_range": (max(finite) - min(finite)) if finite else float("nan"),
            # a step that overflowed makes its change infinite or nan: the largest is then inf, never a silent pick
            "max_gradient_change": largest(changes), "effective_beta": largest(ratios)}


def largest(values):
    """max(values), inf if any is not finite (Python's max skips or keeps a nan depending on where it stands)."""
    return max(values) if all(np.isfinite(values)) else float("inf")


def normalization_output_moments(model, images):
    """What each normalization layer hands the next layer, in training mode, on one batch: per channel, the mean
    and standard deviation of its output over the batch and the positions; for a noisy BN, also those of its output
    without the noise (what plain BN gives, with the same weights). Santurkar et al.'s figure 2 shows such
    distributions moving from step to step under noisy BN and not under BN. Buffers are left as found; the noise
    is a fresh draw. Returns [{layer, mean, std, clean_mean, clean_std}] (lists of C host floats)."""
    def moments(tensor):
        values = tensor.numpy().astype(np.float64)
        return values.mean(axis=(0, 2, 3)).tolist(), values.std(axis=(0, 2, 3)).tolist()

    rows, x = [], images
    with tg.no_grad(), kept_buffers(model):
        for layer in model.features:
            if isinstance(layer, nn.BatchNorm2d):
                clean_mean, clean_std = moments(nn.BatchNorm2d.forward(layer, x))
                x = layer(x)
                mean, std = moments(x)
                rows.append({"layer": len(rows) + 1, "mean": mean, "std": std, "clean_mean": clean_mean,
                             "clean_std": clean_std})
            else:
                x = layer(x)
    return rows


def forward_with_batch_statistics(model, images):
    """The trained model, except that every BatchNorm normalizes with the mean and variance of `images` itself.

    That is the tutorial snippet `(x - x.mean(0)) / x.std(0)` applied to test data: BN's training-mode computation,
    here without touching the running statistics (none are passed, so none are updated), and without the noise of
    a noisy BN (that is a training-time perturbation).
    """
    x = images
    for layer in model.features:
        if isinstance(layer, nn.BatchNorm2d):
            x = F.batch_norm(x, None, None, layer.weight, layer.bias, training=True, eps=layer.eps)
        else:
            x = layer(x)
    return model.classifier(x)


def per_image_channel_moments(model, images):
    """For every BatchNorm of the model (eval mode: each sees the inputs that the running statistics were made for),
    the per-image, per-channel mean of its input and of its square over the H x W positions: a list of pairs of
    (N, C) host arrays. From them, the statistics of any batch of those images follow without another pass."""
    moments = []
    x = images
    with tg.no_grad():
        for layer in model.features:
            if isinstance(layer, nn.BatchNorm2d):
                values = x.numpy().astype(np.float64)
                moments.append((values.mean(axis=(2, 3)), (values * values).mean(axis=(2, 3))))
            x = layer(x)
    return moments


def batch_statistics_noise(moments, batch_sizes, batches=64, seed=0):
    """How far the statistics of a batch of b images stray from those of all N images (Wu and He's explanation of
    BN's small-batch failure), per BN layer and batch size b. With m_c and v_c the mean and biased variance of
    channel c over the batch's images and positions (what BN normalizes with in training) and mu_c, sigma_c^2
    those over all N images:

        mean_error = average over channels and batches of |m_c - mu_c| / sigma_c
        std_error  = average over channels and batches of |sqrt(v_c) / sigma_c - 1|

    `moments` is per_image_channel_moments' output; the batches are drawn without replacement from the N images.
    Returns [{layer, batch_size, mean_error, std_error}].
    """
    rng = np.random.default_rng(seed)
    rows = []
    for layer, (first, second) in enumerate(moments):
        N = len(first)
        mu = first.mean(axis=0)
        sigma = np.sqrt(np.maximum(second.mean(axis=0) - mu * mu, 1e-12))
        for b in batch_sizes:
            if b > N:
                continue
            picks = np.stack([rng.choice(N, b, replace=False) for _ in range(batches)])  # (batches, b)
            m = first[picks].mean(axis=1)
            v = np.maximum(second[picks].mean(axis=1) - m * m, 0.0)
            rows.append({"layer": layer + 1, "batch_size": int(b),
                         "mean_error": float((np.abs(m - mu) / sigma).mean()),
                         "std_error": float(np.abs(np.sqrt(v) / sigma - 1).mean())})
    return rows


def mean_bn_scale(state_dict):
    """The mean |gamma| over the channels of every BN layer of a state_dict (a BN layer: a weight beside a
    running_mean). A noisy-BN network can drown its noise by growing gamma: this shows whether it did."""
    scales = [abs(state_dict[name[:-len("running_mean")] + "weight"]).mean() for name in state_dict
              if name.endswith("running_mean")]
    return float(sum(scales) / len(scales)) if scales else math.nan
