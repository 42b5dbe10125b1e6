"""What a model's outputs say: loss, accuracy, per-class accuracy and the confusion matrix; a run's CSV and plot.

The confusion matrix has one row per true class and one column per predicted class, so row k holds where the
images of class k went: its diagonal entry over its sum is the accuracy on class k, the trace over the total is the
accuracy.
"""
import csv
import os
import sys
import uuid

import numpy as np
from tqdm import tqdm

import tinygrad_bn as tg
import tinygrad_bn.nn.functional as F

METRICS_COLUMNS = ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds",
                   "images_per_s"]


def evaluate_model(model, loader, classes, progress_bar=True):
    """{n, loss, accuracy, per_class: {name: {accuracy, n}}, confusion, classes} over every batch of `loader`."""
    was_training = model.training
    model.eval()  # BatchNorm uses its running statistics: a prediction never depends on the rest of the batch
    confusion = np.zeros((len(classes), len(classes)), dtype=np.int64)
    loss_sum = 0.0
    with tg.no_grad():
        for images, labels in tqdm(loader, desc="evaluating", unit="batch", leave=False, disable=not progress_bar,
                                   file=sys.stderr):
            logits = model(images)
            loss_sum += F.cross_entropy(logits, labels, reduction="sum").item()
            np.add.at(confusion, (labels.numpy(), logits.argmax(dim=1).numpy()), 1)
    model.train(was_training)
    n = int(confusion.sum())
    per_class = {}
    for k, name in enumerate(classes):
        count = int(confusion[k].sum())
        per_class[name] = {"accuracy": float(confusion[k, k]) / count if count else None, "n": count}
    return {
        "n": n,
        "loss": loss_sum / n if n else None,
        "accuracy": float(np.trace(confusion)) / n if n else None,
        "per_class": per_class,
        "confusion": confusion.tolist(),
        "classes": list(classes),
    }


def predict_probabilities(model, loader):
    """(N, num_classes) softmax probabilities for every image of `loader`, in order."""
    model.eval()
    with tg.no_grad():
        return np.concatenate([model(images).softmax(dim=1).numpy() for images, _ in loader])


def format_report(metrics):
    """The human-readable form of `evaluate_model`'s result."""
    classes = metrics["classes"]
    correct = sum(metrics["confusion"][k][k] for k in range(len(classes)))
    lines = [f"accuracy {metrics['accuracy']:.4f} ({correct}/{metrics['n']})   loss {metrics['loss']:.4f}",
             "per class: " + "   ".join(f"{name} {result['accuracy']:.4f} (n={result['n']})"
                                        for name, result in metrics["per_class"].items() if result["n"]),
             "confusion matrix (rows: true class, columns: predicted):"]
    width = max(8, max(len(name) for name in classes) + 2)
    lines.append(" " * width + "".join(f"{name:>{width}}" for name in classes))
    for name, row in zip(classes, metrics["confusion"]):
        lines.append(f"{name:<{width}}" + "".join(f"{count:>{width}}" for count in row))
    return "\n".join(lines)


def write_metrics_csv(path, history):
    """One row per finished epoch. Rewritten from the checkpoint's history, so after --resume it holds exactly the
    epochs of the run so far, however many times it was stopped."""
    temp_path = _temp_name(path)
    with open(temp_path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=METRICS_COLUMNS)
        writer.writeheader()
        for row in history:
            writer.writerow({name: "" if row.get(name) is None else row[name] for name in METRICS_COLUMNS})
    os.replace(temp_path, path)


def plot_curves(path, history):
    """Loss and accuracy per epoch, train and validation, side by side, as a PNG."""
    # The object-oriented API with the Agg canvas draws to a file without touching pyplot's global state or
    # needing a display (servers, CI).
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = [row["epoch"] for row in history]
    figure = Figure(figsize=(10, 4), layout="tight")
    FigureCanvasAgg(figure)
    for axes, metric in zip(figure.subplots(1, 2), ("loss", "accuracy")):
        axes.plot(epochs, [row[f"train_{metric}"] for row in history], "o-", label="train")
        if any(row[f"val_{metric}"] is not None for row in history):
            axes.plot(epochs, [row[f"val_{metric}"] for row in history], "o-", label="validation")
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_ylabel(metric)
        axes.grid(alpha=0.3)
        axes.legend()
    temp_path = _temp_name(path)
    figure.savefig(temp_path, format="png", dpi=100)
    os.replace(temp_path, path)


def _temp_name(path):
    """A fresh name next to `path`, renamed onto it when complete: readers never see a half-written file."""
    folder, name = os.path.split(os.fspath(path))
    return os.path.join(folder, f".{name}.{uuid.uuid4().hex[:8]}.tmp")
