"""Pictures of what a model does with single images: its most confident mistakes, its calibration, a labelled grid.

    python -m models.catsdogs evaluate --checkpoint runs/default      # mistakes-val.png, calibration-val.png
    python -m models.catsdogs predict --checkpoint runs/default photos/ --grid photos.png

mistakes-SPLIT.png     the images the model got wrong with the highest confidence, each with its true class, the
                       predicted class and the probability given to it: where to look first (a mislabelled image,
                       a dog on a cat's blanket, a photo of two animals...)
calibration-SPLIT.png  the reliability diagram: the images grouped by confidence (the largest probability), and for
                       each group the share the model got right. A calibrated model's bars reach the diagonal; bars
                       below it are over-confidence. The title gives the expected calibration error (reports.py).
a --grid PNG           every image (up to a maximum) with the predicted class and its probability

Drawn with matplotlib's object-oriented API on the Agg canvas (no display needed), written under a temporary name
and renamed, as every file of a run (reports.py).
"""
import math
from pathlib import Path

import numpy as np

from .reports import calibration_bins, expected_calibration_error, save_png
from .images import printable, read_image

THUMBNAIL_SIZE = 128  # pixels: larger than the network's input, so a person sees more than the model did
MISTAKES_SHOWN = 24
GRID_MAX_IMAGES = 100
COLUMNS = 8


def most_confidently_wrong(probabilities, labels, count=MISTAKES_SHOWN):
    """Row indices of the wrongly classified images, the most confident first (at most `count`)."""
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    confidence = probabilities[wrong, predicted[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")][:count]


def write_evaluation_figures(folder, probabilities, labels, data, rows, classes, name, description=""):
    """mistakes-NAME.png and calibration-NAME.png in `folder` for the images data.images[rows] (in the order of
    `probabilities` and `labels`); returns the two paths ("mistakes", "calibration") and how many mistakes were
    shown and made ("mistakes_shown", "mistakes_total")."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    predicted = probabilities.argmax(axis=1)
    shown = most_confidently_wrong(probabilities, labels)
    thumbnails = load_thumbnails([data.paths[rows[i]] for i in shown], [data.images[rows[i]] for i in shown])
    total_mistakes = int((predicted != labels).sum())
    mistakes = plot_mistakes(folder / f"mistakes-{name}.png", thumbnails, labels[shown], predicted[shown],
                             probabilities[shown, predicted[shown]], classes, len(labels), total_mistakes,
                             names=[data.paths[rows[i]] for i in shown])
    calibration = plot_calibration(folder / f"calibration-{name}.png", probabilities.max(axis=1),
                                   predicted == labels, len(classes), description)
    return {"mistakes": str(mistakes), "calibration": str(calibration), "mistakes_shown": len(shown),
            "mistakes_total": total_mistakes}


def load_thumbnails(paths, fallbacks=None):
    """Square RGB uint8 thumbnails of the files (centre square, as the model sees them), THUMBNAIL_SIZE pixels;
    for a file that can no longer be read, its entry of `fallbacks` (e.g. the cached image), else grey."""
    thumbnails = []
    for i, path in enumerate(paths):
        array, _ = read_image(path, THUMBNAIL_SIZE)
        if array is None:
            array = fallbacks[i] if fallbacks is not None else np.full((8, 8, 3), 128, np.uint8)
        thumbnails.append(array)
    return thumbnails


def plot_mistakes(path, thumbnails, true_labels, predicted, confidence, classes, total_images, total_mistakes,
                  names=None):
    """A grid of the mistakes given (the most confident first, out of `total_mistakes` on `total_images`)."""
    shown = len(thumbnails)
    if shown == 0:
        figure = _new_figure(6, 1.5)
        figure.text(0.5, 0.5, f"no mistakes among {total_images} images", ha="center", va="center", fontsize=14)
        return _save(figure, path)
    captions = [f"true {printable(classes[t])}\npredicted {printable(classes[p])} {c:.0%}"
                for t, p, c in zip(true_labels, predicted, confidence)]
    if names is not None:
        captions = [f"{_short(name)}\n{caption}" for name, caption in zip(names, captions)]
    figure = _image_grid(thumbnails, captions)
    which = (f"All {shown} mistakes" if shown == total_mistakes
             else f"The {shown} most confident of the {total_mistakes} mistakes")
    figure.suptitle(f"{which} on {total_images} images, most confident first: true class, predicted class and "
                    f"its probability")
    return _save(figure, path)


def plot_calibration(path, confidence, correct, num_classes, description=""):
    """The reliability diagram of `confidence` (the largest probability of each image) and whether it was right,
    above a histogram of how many images fall in each bin; the title gives the ECE."""
    edges, count, mean_confidence, accuracy = calibration_bins(confidence, correct, num_classes)
    ece = expected_calibration_error(confidence, correct, num_classes)
    figure = _new_figure(6, 7)
    top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    width = edges[1] - edges[0]
    filled = count > 0
    top.bar(edges[:-1][filled], accuracy[filled], width=width, align="edge", edgecolor="black", alpha=0.8,
            label="accuracy in the bin")
    top.bar(edges[:-1][filled], mean_confidence[filled] - accuracy[filled], bottom=accuracy[filled], width=width,
            align="edge", color="tab:red", alpha=0.3, hatch="//", label="gap to the mean confidence")
    top.plot([edges[0], 1], [edges[0], 1], "k--", label="perfect calibration")
    top.set_ylabel("accuracy")
    top.set_ylim(0, 1)
    top.legend(loc="upper left")
    top.set_title(f"Reliability diagram{': ' + description if description else ''}\n"
                  f"expected calibration error {ece:.4f} ({len(edges) - 1} bins, {int(count.sum())} images)")
    bottom.bar(edges[:-1], count, width=width, align="edge", edgecolor="black", color="tab:gray")
    bottom.set_xlabel("confidence (the largest probability)")
    bottom.set_ylabel("images")
    bottom.set_xlim(edges[0], 1)
    for axes in (top, bottom):
        axes.grid(alpha=0.3)
    return _save(figure, path)


def plot_prediction_grid(path, thumbnails, names, labels, confidence, total=None):
    """Each image with its file name, predicted class and probability; `total` > len(thumbnails) says how many
    images were labelled in all when the grid shows only the first ones."""
    captions = [f"{_short(name)}\n{printable(label)} {c:.0%}" for name, label, c in zip(names, labels, confidence)]
    figure = _image_grid(thumbnails, captions)
    shown = len(thumbnails)
    more = f" (the first {shown} of {total})" if total and total > shown else ""
    figure.suptitle(f"Predicted class and its probability{more}")
    return _save(figure, path)


def _new_figure(width, height):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _image_grid(thumbnails, captions, columns=COLUMNS):
    """A figure with one captioned image per cell, `columns` per row."""
    columns = min(columns, len(thumbnails))
    rows = math.ceil(len(thumbnails) / columns)
    figure = _new_figure(1.9 * columns, 2.3 * rows + 0.4)
    cells = np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel()
    for axes in cells:
        axes.axis("off")
    for axes, image, caption in zip(cells, thumbnails, captions):
        axes.imshow(image)
        axes.set_title(caption, fontsize=8)
    return figure


def _short(name, length=22):
    """The file name of a path, printable, cut to `length` characters (keeping its end, where the number is)."""
    name = printable(Path(name).name)
    return name if len(name) <= length else "..." + name[-(length - 3):]


def _save(figure, path):
    save_png(figure, path)
    return Path(path)
