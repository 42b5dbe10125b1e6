"""The study's figures, drawn from results.json alone (report.collect's "curves" and "metrics" of each row).

    draw_figures(results, folder)   ->  {name: path} of the figures that have data so far

main_curves.png   validation accuracy against epochs: BN, no BN + He init, noisy and shifted BN (full scale)
ics.png           internal covariate shift per layer: l2 distance, relative to the gradient, and cosine
                  (Santurkar et al., figure 3's measure)
smoothness.png    loss variation, gradient change and effective beta-smoothness along the gradient, over training
                  (Santurkar et al., figure 4's measures)
lr_sweep.png      final validation accuracy against the peak learning rate; diverged runs marked
init.png          final validation accuracy against the initialization scale
overfit.png       train - validation accuracy against the training loss, BN and no BN, per weight decay and
                  augmentation, with the matched training loss at which the table compares them
details.png       evaluation with each test batch's own statistics (the main comparison's BN models), and BN's
                  momentum against eval-mode accuracy on cats and on dogs
batch_size.png    final validation accuracy against the batch size per normalization (Wu and He, figure 1), and
                  the noise of BN's batch statistics against the batch size
"""
import math
from pathlib import Path

from ..reports import save_png

ROWS_OF_MAIN = (("main", "BN"), ("main", "no BN, He init"), ("noisy", "noisy BN"))
CURVES_OF_MAIN = (*ROWS_OF_MAIN, ("noisy", "shifted BN"))


def _figure(columns=1, width=6.5):
    from matplotlib.figure import Figure
    figure = Figure(figsize=(width * columns, 4.2), layout="tight")
    return figure, [figure.add_subplot(1, columns, k + 1) for k in range(columns)]


def _row(results, section, row):
    return results["sections"].get(section, {}).get(row)


def draw_main_curves(results, path):
    figure, (axis,) = _figure()
    drawn = False
    for section, row in CURVES_OF_MAIN:
        entry = _row(results, section, row)
        curve = entry and entry["curves"].get("val_accuracy")
        if curve:
            axis.plot(entry["curves"]["epochs"], [100 * value for value in curve], marker="o",
                      label=f"{row} ({entry['done']} seeds)")
            drawn = True
    if not drawn:
        return None
    for level in (80, 85, 88):
        axis.axhline(level, color="0.8", linewidth=0.8, zorder=0)
    axis.set(xlabel="epoch", ylabel="validation accuracy (%), mean over seeds",
             title="Default recipe, with and without BN")
    axis.legend()
    save_png(figure, path)
    return path


def draw_ics(results, path):
    figure, (l2_axis, relative_axis, cos_axis) = _figure(3, width=5)
    drawn = False
    for section, row in ROWS_OF_MAIN:
        entry = _row(results, section, row)
        curves = entry and entry["curves"]
        if curves and curves.get("ics_layers"):
            l2_axis.plot(curves["ics_layers"], curves["ics_l2"], marker="o", label=row)
            relative_axis.plot(curves["ics_layers"], curves["ics_relative"], marker="o", label=row)
            cos_axis.plot(curves["ics_layers"], curves["ics_cosine"], marker="o", label=row)
            drawn = True
    if not drawn:
        return None
    l2_axis.set(ylabel="||G - G'||, mean over probes and seeds", yscale="log",
                title="Internal covariate shift: ||G - G'||")
    relative_axis.set(ylabel="||G - G'|| / ||G||", yscale="log", title="... relative to ||G||")
    cos_axis.set(ylabel="cos(G, G')", title="... and cos(G, G') (1: no change)")
    for axis in (l2_axis, relative_axis, cos_axis):
        axis.set_xlabel("layer")
        axis.legend()
    save_png(figure, path)
    return path


def draw_smoothness(results, path):
    figure, axes = _figure(3, width=5)
    titles = {"loss_range": "variation of the loss along the gradient",
              "max_gradient_change": "gradient predictiveness: largest change",
              "effective_beta": "effective beta-smoothness"}
    drawn = False
    for section, row in ROWS_OF_MAIN:
        entry = _row(results, section, row)
        curves = entry and entry["curves"]
        if curves and curves.get("probe_steps"):
            for axis, name in zip(axes, titles):
                axis.plot(curves["probe_steps"], curves[name], marker="o", label=row)
            drawn = True
    if not drawn:
        return None
    for axis, title in zip(axes, titles.values()):
        axis.set(xlabel="training step", yscale="log", title=title)
        axis.legend()
    save_png(figure, path)
    return path


def draw_sweep(results, section, setting, path, xlabel, title, group_of=lambda row: row.split(" @ ")[0]):
    """Final validation accuracy of each row against one of its settings, a line per group of rows, with its 95%
    interval as a bar (where two seeds or more give one); a cross where a run diverged."""
    rows = results["sections"].get(section, {})
    groups = {}
    for row, entry in rows.items():
        summary = entry["metrics"].get("final_val_accuracy")
        diverged = entry["metrics"].get("diverged")
        learned = summary and summary["n"]
        half_width = summary["ci"] if learned and summary["ci"] is not None and math.isfinite(summary["ci"]) else 0
        groups.setdefault(group_of(row), []).append(
            (entry["settings"][setting], summary["mean"] if learned else None, half_width,
             diverged["mean"] if diverged and diverged["n"] else None))
    if not any(point[1] is not None or point[3] for points in groups.values() for point in points):
        return None
    figure, (axis,) = _figure()
    for group, points in groups.items():
        points.sort()
        finished = [(x, y, half) for x, y, half, _ in points if y is not None]
        line = axis.errorbar([x for x, _, _ in finished], [100 * y for _, y, _ in finished],
                             yerr=[100 * half for _, _, half in finished], marker="o", capsize=3, label=group)
        crosses = [x for x, _, _, diverged in points if diverged]
        axis.plot(crosses, [50] * len(crosses), "x", color=line.lines[0].get_color(), markersize=10)
    axis.set(xscale="log", xlabel=xlabel, ylabel="final validation accuracy (%)", title=title)
    axis.text(0.01, 0.01, "bars: 95% interval; x: a run diverged", transform=axis.transAxes, fontsize=8,
              color="0.4")
    axis.legend()
    save_png(figure, path)
    return path


def draw_overfitting(results, path):
    """One panel per (weight decay, augmentation): each row's gap between training and validation accuracy against
    its training loss (both means over the seeds at each evaluation, the loss falling from left to right), and the
    matched training loss, where the table reads the gap."""
    rows = results["sections"].get("overfit", {})
    settings = sorted({(entry["settings"]["weight_decay"], entry["settings"]["augment"]) for entry in rows.values()},
                      reverse=True)
    if not any(entry["curves"].get("train_eval_accuracy") for entry in rows.values()):
        return None
    figure, axes = _figure(len(settings), width=4)
    for axis, (weight_decay, augment) in zip(axes, settings):
        for row, entry in rows.items():
            curves = entry["curves"]
            if (entry["settings"]["weight_decay"], entry["settings"]["augment"]) != (weight_decay, augment) \
                    or not curves.get("train_eval_accuracy"):
                continue
            gaps = [100 * (train - val) for train, val in zip(curves["train_eval_accuracy"], curves["val_accuracy"])]
            seeds = f"{entry['done']} seed{'s' if entry['done'] != 1 else ''}"
            axis.plot(curves["train_eval_loss"], gaps, marker="o", label=f"{row.split(',')[0]} ({seeds})")
            if entry.get("matched_training_loss") is not None:
                axis.axvline(entry["matched_training_loss"], color="0.6", linestyle=":", linewidth=1)
        axis.set(xlabel="training loss (eval mode)", title=f"wd {weight_decay:g}, {'aug' if augment else 'no aug'}")
        axis.invert_xaxis()
        axis.legend(fontsize=8)
    axes[0].set_ylabel("train - val accuracy (points)")
    low, high = min(axis.get_ylim()[0] for axis in axes), max(axis.get_ylim()[1] for axis in axes)
    for axis in axes:  # one scale for the panels: their gaps compare with each other too
        axis.set_ylim(low, high)
    save_png(figure, path)
    return path


# section 6's evaluations of the main BN models: (bar label, metric), running statistics first
BATCH_STATISTICS_BARS = (("running\nstatistics", "accuracy_running_mixed_64"),
                         ("batch\nof 64", "accuracy_batch_mixed_64"),
                         ("batch\nof 8", "accuracy_batch_mixed_8"), ("batch\nof 1", "accuracy_batch_mixed_1"),
                         ("batch of\n64 cats", "accuracy_batch_cats_only_64"),
                         ("batch of\n64 dogs", "accuracy_batch_dogs_only_64"))


def _bars(axis, positions, summaries, **style):
    """Bars of the means (in %) with their 95% intervals, where a summary has them."""
    means = [100 * summary["mean"] if summary and summary["n"] else 0 for summary in summaries]
    errors = [100 * summary["ci"] if summary and summary["n"] > 1 and summary["ci"] is not None else 0
              for summary in summaries]
    axis.bar(positions, means, yerr=errors, capsize=3, **style)


def draw_details(results, path):
    """Two of section 6's details: the main BN models evaluated with each test batch's own statistics (the
    tutorial mistake), and how BN's momentum moves eval-mode accuracy on cats and on dogs."""
    main = _row(results, "main", "BN")
    momenta = {row: entry for row, entry in results["sections"].get("details", {}).items()
               if row.startswith("BN momentum") and entry["done"]}
    if not (main and main["metrics"].get("accuracy_batch_mixed_1")) and not momenta:
        return None
    figure, (statistics_axis, momentum_axis) = _figure(2)
    if main and main["metrics"].get("accuracy_batch_mixed_1"):
        labels, metrics = zip(*BATCH_STATISTICS_BARS)
        _bars(statistics_axis, range(len(labels)), [main["metrics"].get(metric) for metric in metrics],
              color=["tab:blue"] + ["tab:orange"] * (len(labels) - 1))
        statistics_axis.set_xticks(range(len(labels)), labels)
    statistics_axis.axhline(50, color="0.6", linestyle=":", linewidth=1)
    statistics_axis.set(ylabel="validation accuracy (%)", ylim=(0, 100),
                        title="Main BN models: running vs batch statistics")
    names = list(momenta)
    for offset, (animal, color) in ((-0.2, ("cats", "tab:purple")), (0.2, ("dogs", "tab:green"))):
        _bars(momentum_axis, [k + offset for k in range(len(names))],
              [momenta[row]["metrics"].get(f"accuracy_running_{animal}_only_64") for row in names], width=0.4,
              color=color, label=f"{animal} only")
    momentum_axis.set_xticks(range(len(names)), [row.removeprefix("BN momentum ") for row in names])
    momentum_axis.axhline(50, color="0.6", linestyle=":", linewidth=1)
    momentum_axis.set(xlabel="BN momentum (PyTorch's convention)", ylim=(0, 105),
                      title="Eval mode (running statistics), by class")
    momentum_axis.legend(fontsize=8)
    statistics_axis.text(0.99, 0.98, "bars: 95% interval; dotted: chance", transform=statistics_axis.transAxes,
                         fontsize=8, color="0.4", ha="right", va="top")
    save_png(figure, path)
    return path


def draw_batch_noise(results, path):
    # the BN models trained at batch 64 (the recipe's batch): at 32 px if the batch section has them, else full scale
    entry, source = _row(results, "batch", "bn @ batch 64"), "BN models trained at batch 64, 32 px"
    if not entry or not entry["curves"].get("noise_batch_sizes"):
        entry, source = _row(results, "main", "BN"), "the main comparison's BN models"
        if not entry or not entry["curves"].get("noise_batch_sizes"):
            return None
    curves = entry["curves"]
    figure, (axis,) = _figure()
    for label in ("first", "last"):
        axis.plot(curves["noise_batch_sizes"], curves[f"noise_mean_error_{label}"], marker="o",
                  label=f"{label} BN layer")
    axis.set(xscale="log", yscale="log", xlabel="batch size", ylabel="mean |batch mean - population mean| / sigma",
             title=f"The noise of BN's batch statistics ({source})")
    axis.legend()
    save_png(figure, path)
    return path


def draw_figures(results, folder):
    """Every figure that has data in `results`; returns {name: path}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    drawn = {
        "main_curves": draw_main_curves(results, folder / "main_curves.png"),
        "ics": draw_ics(results, folder / "ics.png"),
        "smoothness": draw_smoothness(results, folder / "smoothness.png"),
        "lr_sweep": draw_sweep(results, "lr", "lr", folder / "lr_sweep.png", "peak learning rate",
                               "The largest stable learning rate (reduced scale)"),
        "init": draw_sweep(results, "init", "init_scale", folder / "init.png", "He init times",
                           "Initialization scale (reduced scale)", group_of=lambda row: row.split(", He")[0]),
        "overfit": draw_overfitting(results, folder / "overfit.png"),
        "details": draw_details(results, folder / "details.png"),
        "batch_size": draw_sweep(results, "batch", "batch_size", folder / "batch_size.png", "batch size",
                                 "Batch size (32 px, lr 0.1 x batch / 64)"),
        "batch_noise": draw_batch_noise(results, folder / "batch_noise.png"),
    }
    return {name: path for name, path in drawn.items() if path is not None}
