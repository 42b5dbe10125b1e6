"""What a model's outputs say: loss, accuracy, per-class accuracy, the confusion matrix and the calibration error;
a run's CSV and plot. The pictures of single images (mistakes, calibration, prediction grids) are in figures.py.

The confusion matrix has one row per true class and one column per predicted class, so row k holds where the
images of class k went: its diagonal entry over its sum is the accuracy on class k, the trace over the total is the
accuracy.

Calibration: a model is calibrated when, of the images it labels with confidence 0.8 (its largest probability),
80% are right. `calibration_bins` groups the images by confidence; the expected calibration error (ECE) is the
average gap |accuracy - mean confidence| over the bins, weighted by how many images each holds.
"""
import csv
import os
import sys
import uuid

import numpy as np
from tqdm import tqdm

import tinygrad_bn as tg
from .images import printable

# seconds: the epoch's training steps and validation; elapsed_seconds: the run's total of them so far (derived)
METRICS_COLUMNS = ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "image_size",
                   "seconds", "images_per_s", "elapsed_seconds"]
CALIBRATION_BINS = 10


def evaluate_model(model, loader, classes, progress_bar=True, tta=False):
    """{n, loss, accuracy, per_class: {name: {accuracy, n}}, confusion, classes, ece} over every batch of `loader`
    (tta: each image's prediction averaged with its mirror image's, see `log_probabilities`)."""
    log_p, labels = model_outputs(model, loader, tta, progress_bar)
    return metrics_from_outputs(log_p, labels, classes)


def model_outputs(model, loader, tta=False, progress_bar=True):
    """(log-probabilities (N, num_classes), labels (N,)) for every image of `loader`, in its order."""
    was_training = model.training
    model.eval()  # BatchNorm uses its running statistics: a prediction never depends on the rest of the batch
    outputs, labels = [], []
    with tg.no_grad():
        for images, batch_labels in tqdm(loader, desc="evaluating", unit="batch", leave=False,
                                         disable=not progress_bar, file=sys.stderr):
            outputs.append(log_probabilities(model, images, tta))
            labels.append(batch_labels.numpy())
    model.train(was_training)
    if not outputs:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.int64)
    return np.concatenate(outputs), np.concatenate(labels)


def log_probabilities(model, images, tta=False):
    """log softmax(model(images)) as a host array (N, num_classes).

    tta (test-time augmentation): the log of the average of the probabilities for the images and for their mirror
    images, log((p + q) / 2) = logaddexp(log p, log q) - log 2, which stays finite where p or q underflows. Training
    flipped the images at random, so the mirror image is as good a view as the original; averaging the two smooths
    out what the model happens to see on one side.
    """
    log_p = model(images).log_softmax(dim=1).numpy()
    if not tta:
        return log_p
    mirrored = tg.Tensor(images.array[..., ::-1].copy(), device=images.device)  # NCHW: W is the last axis
    log_q = model(mirrored).log_softmax(dim=1).numpy()
    return np.logaddexp(log_p, log_q) - np.log(2.0)


def metrics_from_outputs(log_p, labels, classes):
    """`evaluate_model`'s dict from the log-probabilities of N images and their labels."""
    n = len(labels)
    log_p = log_p.reshape(n, len(classes))
    predicted = log_p.argmax(axis=1)
    confusion = np.zeros((len(classes), len(classes)), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    per_class = {}
    for k, name in enumerate(classes):
        count = int(confusion[k].sum())
        per_class[name] = {"accuracy": float(confusion[k, k]) / count if count else None, "n": count}
    # the cross-entropy: minus the mean log-probability of the true class (summed in float64)
    loss = -float(log_p[np.arange(n), labels].astype(np.float64).mean()) if n else None
    confidence = np.exp(log_p.max(axis=1).astype(np.float64))
    return {
        "n": n,
        "loss": loss,
        "accuracy": float(np.trace(confusion)) / n if n else None,
        "per_class": per_class,
        "confusion": confusion.tolist(),
        "classes": list(classes),
        "ece": expected_calibration_error(confidence, predicted == labels, len(classes)) if n else None,
    }


def calibration_bins(confidence, correct, num_classes, bins=CALIBRATION_BINS):
    """(edges (bins + 1,), count, mean confidence, accuracy (each (bins,), NaN for an empty bin)) of images grouped
    by confidence. The largest probability is at least 1 / num_classes, so the bins split [1 / num_classes, 1]."""
    edges = np.linspace(1.0 / num_classes, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="right") - 1, 0, bins - 1)  # 1.0 goes in the last bin
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(which, weights=confidence, minlength=bins) / count
        accuracy = np.bincount(which, weights=np.asarray(correct, np.float64), minlength=bins) / count
    return edges, count, mean_confidence, accuracy


def expected_calibration_error(confidence, correct, num_classes, bins=CALIBRATION_BINS):
    """ECE = sum over bins of (images in the bin / N) * |accuracy - mean confidence| (Guo et al. 2017)."""
    _, count, mean_confidence, accuracy = calibration_bins(confidence, correct, num_classes, bins)
    filled = count > 0
    return float((count[filled] * np.abs(accuracy[filled] - mean_confidence[filled])).sum() / count.sum())


def predict_probabilities(model, loader, tta=False):
    """(N, num_classes) softmax probabilities for every image of `loader`, in order (tta: as in evaluate_model)."""
    log_p, _ = model_outputs(model, loader, tta, progress_bar=False)
    return np.exp(log_p)


def format_report(metrics):
    """The human-readable form of `evaluate_model`'s result (class names from folder names, printable)."""
    classes = [printable(name) for name in metrics["classes"]]
    correct = sum(metrics["confusion"][k][k] for k in range(len(classes)))
    lines = [f"accuracy {metrics['accuracy']:.4f} ({correct}/{metrics['n']})   loss {metrics['loss']:.4f}   "
             f"expected calibration error {metrics['ece']:.4f}",
             "per class: " + "   ".join(f"{name} {result['accuracy']:.4f} (n={result['n']})"
                                        for name, result in zip(classes, metrics["per_class"].values())
                                        if result["n"]),
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
        for row, elapsed in zip(history, elapsed_seconds(history)):
            row = {**row, "elapsed_seconds": elapsed}
            writer.writerow({name: "" if row.get(name) is None else row[name] for name in METRICS_COLUMNS})
    os.replace(temp_path, path)


def elapsed_seconds(history):
    """The run's time at the end of each epoch: the running total of the epochs' `seconds` (training steps and
    validation; the one-off decoding of the images and the writing of the files between epochs are left out), so
    that recipes can be compared by time. Derived, not stored: a resumed run's total leaves out the pause."""
    return np.cumsum([row.get("seconds") or 0.0 for row in history]).tolist()


def plot_curves(path, history):
    """Loss and accuracy per epoch, train and validation, and the accuracy against the training time in minutes,
    side by side, as a PNG."""
    # The object-oriented API with the Agg canvas draws to a file without touching pyplot's global state or
    # needing a display (servers, CI).
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = [row["epoch"] for row in history]
    minutes = [seconds / 60 for seconds in elapsed_seconds(history)]
    figure = Figure(figsize=(15, 4), layout="tight")
    FigureCanvasAgg(figure)
    panels = (("loss", epochs, "epoch"), ("accuracy", epochs, "epoch"),
              ("accuracy", minutes, "training time (minutes)"))
    for axes, (metric, x, x_label) in zip(figure.subplots(1, 3), panels):
        axes.plot(x, [row[f"train_{metric}"] for row in history], "o-", label="train")
        if any(row[f"val_{metric}"] is not None for row in history):
            axes.plot(x, [row[f"val_{metric}"] for row in history], "o-", label="validation")
        axes.set_xlabel(x_label)
        if x is epochs:
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        else:
            axes.set_xlim(left=0)
        axes.set_ylabel(metric)
        axes.grid(alpha=0.3)
        axes.legend()
    save_png(figure, path)


def save_png(figure, path):
    """Write a matplotlib figure as a PNG under a temporary name, then rename it onto `path`."""
    temp_path = _temp_name(path)
    figure.savefig(temp_path, format="png", dpi=100)
    os.replace(temp_path, path)


def _temp_name(path):
    """A fresh name next to `path`, renamed onto it when complete: readers never see a half-written file."""
    folder, name = os.path.split(os.fspath(path))
    return os.path.join(folder, f".{name}.{uuid.uuid4().hex[:8]}.tmp")
