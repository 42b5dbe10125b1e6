"""The plots of bn-study.md, drawn from the results of models/bn_study.py.

matplotlib's object API on the Agg canvas: it draws straight to PNG files, needs no display (servers, CI) and leaves
pyplot's global state alone.
"""
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .bn_study_report import CHANCE, Results, case_order, final_accuracy, scale_name, val_curve

BN_COLOR, NO_BN_COLOR = "tab:blue", "tab:red"
DPI = 80  # sharp enough on screen; noisy per-step curves make large PNGs


def draw_plots(results_dict, folder):
    """lr_sweep.png, convergence.png, init.png, gradients.png and batch_statistics.png in `folder`."""
    results = Results(results_dict)
    plot_lr_sweep(results, folder / "lr_sweep.png")
    plot_convergence(results, folder / "convergence.png", results.he_scale)
    plot_init(results, folder / "init.png")
    plot_gradients(results, folder / "gradients.png")
    if results_dict["batch_statistics"]:
        plot_batch_statistics(results_dict["batch_statistics"], folder / "batch_statistics.png")


def new_figure(rows, columns, size, **options):
    """A figure on its own Agg canvas and its grid of axes, always 2-D: axes[row, column]."""
    figure = Figure(figsize=size, layout="tight")
    FigureCanvasAgg(figure)
    return figure, figure.subplots(rows, columns, squeeze=False, **options)


def legend(axes, **options):
    """A legend, if anything was drawn (a run that diverged at once draws nothing)."""
    if axes.get_legend_handles_labels()[0]:
        axes.legend(**options)


def integer_epochs(axes):
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))


def plot_lr_sweep(results, path):
    figure, axes = new_figure(1, 1, (6, 4))
    ax = axes[0, 0]
    lrs = results.settings["sweep_lrs"]
    for bn, color, label in ((True, BN_COLOR, "BN"), (False, NO_BN_COLOR, "no BN")):
        runs = [results.run(bn, lr) for lr in lrs]
        ax.plot(lrs, [final_accuracy(run) if final_accuracy(run) is not None else np.nan for run in runs], "o-",
                color=color, label=label)
        diverged = [lr for lr, run in zip(lrs, runs) if run["diverged_at_step"]]
        ax.plot(diverged, [CHANCE] * len(diverged), "x", color=color, markersize=12, mew=3,
                label=f"{label}: diverged" if diverged else None)
    ax.axhline(CHANCE, color="gray", linestyle=":", label="chance")
    ax.set(xscale="log", xlabel="peak learning rate", ylabel="final validation accuracy")
    ax.set_title(f"Learning-rate sweep (seed {results.first_seed})")
    ax.grid(alpha=0.3)
    legend(ax)
    figure.savefig(path, dpi=DPI)


def plot_convergence(results, path, he_scale):
    figure, axes = new_figure(1, 2, (11, 4))
    for bn, color, label in ((True, BN_COLOR, "BN"), (False, NO_BN_COLOR, "no BN")):
        runs = [run for run in results.main_runs(bn) if run["history"]]
        for column, metric in enumerate(("val_accuracy", "train_loss")):
            length = min(len(run["history"]) for run in runs) if runs else 0
            if not length:
                continue
            values = np.array([[row[metric] for row in run["history"][:length]] for run in runs])
            epochs = np.arange(1, length + 1)
            axes[0, column].plot(epochs, values.mean(axis=0), "o-", color=color,
                                 label=f"{label}, default init ({len(runs)} seeds, band: min–max)")
            axes[0, column].fill_between(epochs, values.min(axis=0), values.max(axis=0), color=color, alpha=0.2)
        he_run = results.run(bn, init_scale=he_scale) if he_scale else None
        if he_run and he_run["history"]:
            epochs = [row["epoch"] for row in he_run["history"]]
            axes[0, 0].plot(epochs, val_curve(he_run), "s--", color=color, alpha=0.7,
                            label=f"{label}, He init (seed {results.first_seed})")
            axes[0, 1].plot(epochs, [row["train_loss"] for row in he_run["history"]], "s--", color=color, alpha=0.7)
    for threshold in results.settings["thresholds"]:
        axes[0, 0].axhline(threshold, color="gray", linestyle=":", linewidth=1)
    axes[0, 0].set(xlabel="epoch", ylabel="validation accuracy", title=f"Convergence at peak lr {results.main_lr}")
    axes[0, 1].set(xlabel="epoch", ylabel="training loss (mean over the epoch)", title="Training loss")
    for ax in axes[0]:
        ax.grid(alpha=0.3)
        integer_epochs(ax)
    legend(axes[0, 0], fontsize=8)
    figure.savefig(path, dpi=DPI)


def plot_init(results, path):
    figure, axes = new_figure(1, 2, (11, 4))
    scales = sorted([1.0, *results.settings["init_scales"]])
    for column, (bn, label) in enumerate(((True, "BN"), (False, "no BN"))):
        ax = axes[0, column]
        for scale in scales:
            run = results.run(bn, init_scale=scale)
            if run["history"]:
                ax.plot([row["epoch"] for row in run["history"]], val_curve(run), "o-", label=scale_name(scale))
            if run["diverged_at_step"]:
                ax.plot([], [], "x", label=f"{scale_name(scale)}: diverged at step {run['diverged_at_step']}")
        ax.axhline(CHANCE, color="gray", linestyle=":")
        ax.set(xlabel="epoch", ylabel="validation accuracy", ylim=(0.4, 1.0),
               title=f"{label}: initial weights scaled (seed {results.first_seed})")
        ax.grid(alpha=0.3)
        integer_epochs(ax)
        legend(ax, fontsize=8)
    figure.savefig(path, dpi=DPI)


def plot_gradients(results, path):
    # one y scale per row, so that the two models' magnitudes compare at a glance
    figure, axes = new_figure(2, 2, (11, 7), sharey="row")
    for column, (bn, label) in enumerate(((True, "BN"), (False, "no BN"))):
        run = results.run(bn)
        norms, weights = np.array(run["gradient_norms"]), np.array(run["weight_norms"])
        if not len(norms):
            continue
        steps = np.arange(1, len(norms) + 1)
        for k, layer in enumerate(run["layers"]):
            axes[0, column].plot(steps, norms[:, k], label=layer)
            axes[1, column].plot(steps, norms[:, k] / weights[:, k], label=layer)
        axes[0, column].set(yscale="log", ylabel="||dL/dW||", title=f"{label}, default init: gradient norm per layer")
        axes[1, column].set(yscale="log", xlabel="step", ylabel="||dL/dW|| / ||W||",
                            title=f"{label}: gradient relative to the weights")
    for ax in axes.flat:
        ax.grid(alpha=0.3)
    legend(axes[0, 1], fontsize=8, ncol=2)
    figure.savefig(path, dpi=DPI)


def plot_batch_statistics(rows_by_seed, path):
    figure, axes = new_figure(1, 1, (9, 4))
    ax = axes[0, 0]
    cases = case_order(rows_by_seed)
    x = np.arange(len(cases))
    for offset, (statistics, color) in zip((-0.2, 0.2), (("running", "tab:green"), ("batch", "tab:orange"))):
        values = np.array([[row["accuracy"] for row in rows if row["statistics"] == statistics]
                           for rows in rows_by_seed.values()])
        mean = values.mean(axis=0)
        ax.bar(x + offset, mean, 0.4, color=color, label=f"{statistics} statistics",
               yerr=[mean - values.min(axis=0), values.max(axis=0) - mean], capsize=3)
    ax.axhline(CHANCE, color="gray", linestyle=":")
    ax.set_xticks(x, [f"{group}\nbatch {size}" for group, size in cases])
    ax.set(ylabel="validation accuracy", ylim=(0, 1),
           title=f"Trained BN models ({len(rows_by_seed)} seeds, bars: min–max): how BN normalizes at test time")
    ax.legend()
    figure.savefig(path, dpi=DPI)
