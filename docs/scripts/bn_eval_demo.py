"""Eval with running statistics vs the test batch's own statistics (docs/batchnorm.md, section 6).

A toy "cats vs dogs" problem with two made-up features per animal (synthetic Gaussian points, not the images), so
that a small Linear -> BatchNorm1d -> ReLU -> Linear classifier trains in about a second. The trained model is then
evaluated two ways:
  - running statistics: model.eval(), what BatchNorm1d does;
  - the test batch's own statistics: the hidden activations go through the naive snippet
    `normalize(test_data)` that many tutorials show, for batches of 64, 8 and 1 and for batches of only cats.

Run from the repository root:  PYTHONPATH=. python docs/scripts/bn_eval_demo.py
"""
import numpy as np

import tinygrad_bn as tg
import tinygrad_bn.nn as nn
import tinygrad_bn.nn.functional as F
import tinygrad_bn.optim as optim
from tinygrad_bn import Tensor, no_grad

CAT, DOG = 0, 1
CENTRES = {CAT: (1.0, 0.5), DOG: (-1.0, -0.5)}


def make_animals(count, rng, only=None):
    """`count` points (x, label); half cats, half dogs, or all of one kind."""
    labels = rng.integers(0, 2, count) if only is None else np.full(count, only)
    centres = np.array([CENTRES[int(label)] for label in labels])
    return (centres + rng.standard_normal((count, 2))).astype(np.float32), labels


def normalize(data, eps=1e-5):
    """The naive tutorial snippet: normalize a batch with its own mean and variance (used here at test time)."""
    mean = data.mean(axis=0)
    var = data.var(axis=0)
    return (data - mean) / np.sqrt(var + eps)


def train(model, rng, steps=300, batch_size=64):
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model.train()
    for _ in range(steps):
        x, labels = make_animals(batch_size, rng)
        loss = F.cross_entropy(model(Tensor(x)), Tensor(labels))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def p_cat_running_stats(model, x):
    """P(cat) for each row of x, BatchNorm using its running statistics (model.eval())."""
    model.eval()
    with no_grad():
        return model(Tensor(x)).softmax(dim=1).numpy()[:, CAT]


def p_cat_batch_stats(model, x):
    """P(cat) for each row of x, BatchNorm replaced by normalize(hidden activations of this batch) * gamma + beta."""
    linear1, bn, relu, linear2 = model
    with no_grad():
        h = linear1(Tensor(x)).numpy()
        h = normalize(h, bn.eps) * bn.weight.numpy() + bn.bias.numpy()
        return linear2(relu(Tensor(h))).softmax(dim=1).numpy()[:, CAT]


def accuracy(p_cat, labels):
    return float(((p_cat > 0.5) == (labels == CAT)).mean())


def in_batches(p_cat_fn, model, x, batch_size):
    return np.concatenate([p_cat_fn(model, x[i:i + batch_size]) for i in range(0, len(x), batch_size)])


def main():
    tg.manual_seed(0)
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2))
    train(model, rng)

    x, labels = make_animals(2048, rng)
    cats, _ = make_animals(2048, rng, only=CAT)
    dogs, _ = make_animals(2048, rng, only=DOG)
    print(f"Accuracy on 2048 mixed test points ({int((labels == CAT).sum())} cats), 2048 cats, 2048 dogs:")
    print(f"  {'how BatchNorm normalizes at test time':44} {'batch size':>10} {'mixed':>6} "
          f"{'cats only':>9} {'dogs only':>9}")
    for name, fn in (("running statistics (model.eval())", p_cat_running_stats),
                     ("the batch's own statistics (normalize)", p_cat_batch_stats)):
        for batch_size in (64, 8, 1):
            row = (accuracy(in_batches(fn, model, x, batch_size), labels),
                   accuracy(in_batches(fn, model, cats, batch_size), np.full(len(cats), CAT)),
                   accuracy(in_batches(fn, model, dogs, batch_size), np.full(len(dogs), DOG)))
            print(f"  {name:44} {batch_size:10d} {row[0]:6.1%} {row[1]:9.1%} {row[2]:9.1%}")

    alone = in_batches(p_cat_running_stats, model, x, 1)
    print(f"  running statistics: max |P(cat) in batches of 1 - P(cat) in batches of 64| over the 2048 points = "
          f"{np.abs(alone - in_batches(p_cat_running_stats, model, x, 64)).max():.1e}")

    # The same animal in different company.
    one = x[:1]
    kind = "cat" if labels[0] == CAT else "dog"
    print(f"\nOne test point, features {np.round(one[0].astype(float), 3).tolist()} (a {kind}):")
    print(f"  P(cat) with running statistics: alone {p_cat_running_stats(model, one)[0]:.3f}, "
          f"in a batch of 64 {p_cat_running_stats(model, x[:64])[0]:.3f}")
    companions = {"7 random animals": x[1:8], "7 other animals": x[8:15], "7 cats": cats[:7], "7 dogs": dogs[:7]}
    text = ", ".join(f"with {name} {p_cat_batch_stats(model, np.concatenate([one, others]))[0]:.3f}"
                     for name, others in companions.items())
    print(f"  P(cat) with the batch's own statistics: {text}")

    # A batch of one: every feature equals its batch mean.
    h = model[0](Tensor(one)).numpy()
    print(f"\nBatch of 1: normalize(h) = {np.abs(normalize(h)).max():.1f} for all {h.shape[1]} features, so every "
          f"input gets P(cat) = {p_cat_batch_stats(model, one)[0]:.3f} = P(cat) of any other single input "
          f"{p_cat_batch_stats(model, dogs[:1])[0]:.3f}")
    try:
        F.batch_norm(Tensor(h), None, None, training=True)
    except ValueError as error:
        print(f"F.batch_norm(h, training=True) on that batch of 1 refuses: ValueError: {error}")

    # Images (BatchNorm2d): a batch of 1 still has H*W values per channel, but loses each channel's level and contrast.
    image = rng.uniform(0, 255, (1, 3, 8, 8))             # pixel values
    darker = 0.5 * image + 10
    same_image = np.abs(F.batch_norm(Tensor(image), None, None, training=True).numpy()
                        - F.batch_norm(Tensor(darker), None, None, training=True).numpy()).max()
    print(f"BatchNorm2d statistics on a batch of 1 image: image vs 0.5 * image + 10 give outputs that differ by "
          f"{same_image:.1e}")

    # The naive snippet is exactly what BatchNorm does in training mode, for a batch of more than one.
    h8 = model[0](Tensor(x[:8])).numpy()
    same = np.abs(normalize(h8) - F.batch_norm(Tensor(h8), None, None, training=True).numpy()).max()
    print(f"check: normalize(h) vs F.batch_norm(h, training=True) on a batch of 8: max difference {same:.1e}")


if __name__ == "__main__":
    main()
