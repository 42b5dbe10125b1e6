"""Seeded, stratified index splits: the same seed gives the same split on any machine.

Stratified means each class is split on its own, so a 10% validation set holds 10% of the cats and 10% of the dogs
(a plain random split of a small dataset can by chance hold mostly one class). Indices come back sorted, which
keeps reads from a memory-mapped cache in file order.
"""
import numpy as np


def train_val_split(labels, val_fraction=0.1, seed=0):
    """(train_indices, val_indices): about `val_fraction` of each class goes to validation.

    `labels` is an array of class labels, or an int n for n unlabelled items (one class, so a plain random split).
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    labels = np.zeros(labels, dtype=np.int64) if isinstance(labels, (int, np.integer)) else np.asarray(labels)
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_val = int(round(val_fraction * len(members)))
        val.append(members[:n_val])
        train.append(members[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def balanced_subset(labels, n, seed=0):
    """Sorted indices of `n` items (or all, if fewer), as evenly spread over the classes as the counts allow."""
    labels = np.asarray(labels)
    if n >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    per_class = [rng.permutation(np.flatnonzero(labels == label)) for label in np.unique(labels)]
    # deal one item from each class in turn (round robin) until n are taken: classes that run out drop away
    rounds = max(len(members) for members in per_class)
    dealt = [members[r] for r in range(rounds) for members in per_class if r < len(members)]
    return np.sort(np.array(dealt[:n], dtype=np.int64))
