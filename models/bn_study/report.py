"""The report: results.json (per row of every section, each metric's seeds, mean and 95% interval) and a markdown
file of tables rendered from results.json alone, so that every number in the tables is one of the file's.

It renders whatever the cache holds: a row whose runs are not all finished says how many seeds it has, a row with
none shows dashes. The prose of the final docs/bn-study.md is written by a person from these tables once
the study is complete; this module makes the tables, the figures' data and the checks.

The rule for a difference: rows with the same seed share their batches, crops and flips, so two rows are compared
seed by seed; they differ when the 95% interval (Student t) of the per-seed differences leaves out zero.
"""
import itertools
import json
import math
import re
from pathlib import Path

from tinygrad_bn import nn

from .cells import confidence_interval
from .measures import mean_bn_scale
from .nets import NOISY_NORMS, study_net
from .plots import draw_figures

THRESHOLDS = (0.80, 0.85, 0.88)
STALLED_BELOW = 0.6  # a run that ends under this validation accuracy did not learn (chance is 0.5)


# ---------------------------------------------------------------------------------------------------------------------
# one run -> its numbers
# ---------------------------------------------------------------------------------------------------------------------
def evaluations(result):
    """The run's evaluations, in order; for a run evaluated with recalibrated statistics too (noisy BN), those
    (runner.recalibrate_statistics), with each row's step, epoch and time."""
    return [{**row, **row["recalibrated"]} if row.get("recalibrated") else row for row in result["history"]]


def run_metrics(result):
    """The numbers of one finished run that the tables use ({} for a run that diverged: it has none)."""
    history = evaluations(result)
    metrics = {"diverged": 1.0 if result["diverged_at_step"] else 0.0}
    if result["diverged_at_step"] or not history:
        return metrics
    last = history[-1]
    if result["history"][-1].get("recalibrated"):  # also in plain eval mode, with the running statistics
        metrics["final_val_accuracy_eval_mode"] = result["history"][-1]["val_accuracy"]
    metrics.update(final_val_accuracy=last["val_accuracy"], best_val_accuracy=max(r["val_accuracy"] for r in history),
                   final_train_eval_accuracy=last["train_eval_accuracy"], final_train_eval_loss=last["train_eval_loss"],
                   final_val_loss=last["val_loss"], stalled=1.0 if last["val_accuracy"] < STALLED_BELOW else 0.0,
                   generalization_gap=last["train_eval_accuracy"] - last["val_accuracy"],
                   # on the batches of the last stretch of training as they were trained on (training mode:
                   # augmented, batch statistics, noisy BN's noise): whether a noisy net learned at all with its noise
                   training_mode_accuracy=result["history"][-1]["train_accuracy"],
                   train_minutes=result["train_seconds"] / 60)
    for threshold in THRESHOLDS:
        reached = next((row for row in history if row["val_accuracy"] >= threshold), None)
        name = f"{round(threshold * 100)}"
        metrics[f"epochs_to_{name}"] = reached["epoch"] if reached else math.nan
        metrics[f"minutes_to_{name}"] = reached["train_seconds"] / 60 if reached else math.nan
    if result.get("probes"):
        shifting = shift_probes(result)
        metrics["ics_l2_mean"] = mean(row["l2"] for probe in shifting for row in probe["ics"])
        metrics["ics_cosine_mean"] = mean(row["cosine"] for probe in shifting for row in probe["ics"])
        # relative to the gradient's own size: the networks' gradients differ in scale, their relative change not
        metrics["ics_relative_mean"] = mean(relative_shift(row) for probe in shifting for row in probe["ics"])
        probes = result["probes"]
        # at the first step, and the median over training: the first probe, at the initial weights, can be larger
        # than the rest by orders of magnitude, and would dominate a mean
        for name, short in (("loss_range", "loss_range"), ("max_gradient_change", "gradient_change"),
                            ("effective_beta", "effective_beta")):
            values = [probe["smoothness"][name] for probe in probes]
            metrics[f"{short}_first"] = values[0]
            metrics[f"{short}_median"] = median(values)
        moments = [probe["moments"] for probe in probes if probe.get("moments")]
        if len(moments) > 1:
            metrics["input_shift_with_noise"] = distribution_shift(moments, "mean")
            metrics["input_shift_without_noise"] = distribution_shift(moments, "clean_mean")
            metrics["noise_std_ratio"] = mean(std / clean for probe in moments for layer in probe
                                              for std, clean in zip(layer["std"], layer["clean_std"]) if clean > 0)
    if history[0]["epoch"] == 0:  # a fine-tuning run: the pretrained model before any step
        metrics["start_val_accuracy"] = history[0]["val_accuracy"]
    biases = conv_bias_names(result["cell"]) if "cell" in result else []
    gradients = result.get("first_step_gradient_norms") or {}
    if biases and all(name in gradients for name in biases):
        # ||dL/db|| over every conv bias at the first step: zero (to rounding) where BN follows the convolution
        metrics["conv_bias_gradient"] = math.sqrt(sum(gradients[name] ** 2 for name in biases))
        metrics["conv_weight_gradient"] = math.sqrt(sum(gradients[name.replace(".bias", ".weight")] ** 2
                                                        for name in biases))
    extras = result.get("extras")
    if extras:
        for row in extras["batch_statistics"]:
            metrics[f"accuracy_{row['statistics']}_{row['group'].replace(' ', '_')}_{row['batch_size']}"] = row["accuracy"]
    return metrics


def distribution_shift(moments, key):
    """How far the per-channel means of the normalization layers' outputs move from one probe to the next: the
    mean over consecutive probes, layers and channels of |m_c(t) - m_c(t - 1)| (key "mean": with noisy BN's
    noise; "clean_mean": without it, the same weights)."""
    return mean(abs(a - b) for earlier, later in itertools.pairwise(moments)
                for before, after in zip(earlier, later) for a, b in zip(after[key], before[key]))


def relative_shift(row):
    """||G - G'|| / ||G|| of one layer at one probe (None where the gradient is zero)."""
    return row["l2"] / row["grad_norm"] if row["grad_norm"] > 0 else None


def shift_probes(result):
    """The probes whose covariate shift means something: all but one at the run's very last step, where the
    one-cycle schedule has annealed the lr to 1/250,000 of its peak, the step (and with it the shift) to nothing.
    (The smoothness measures move by a fixed multiple of the peak lr, so every probe counts for them.)"""
    last_step = result["steps_per_epoch"] * result["cell"]["epochs"]
    return [probe for probe in result["probes"] if probe["step"] != last_step]


def conv_bias_names(cell_settings):
    """The parameter names of the convolutions' biases in the network of a run's settings (built, not trained)."""
    net = study_net(cell_settings["norm"], widths=tuple(cell_settings["widths"]),
                    norm_position=cell_settings["norm_position"], conv_bias=cell_settings["conv_bias"])
    return [f"features.{index}.bias" for index, layer in enumerate(net.features)
            if isinstance(layer, nn.Conv2d) and layer.bias is not None]


def median(values):
    values = sorted(value for value in values if value is not None and math.isfinite(value))
    if not values:
        return math.nan
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def mean(values):
    values = [value for value in values if value is not None and math.isfinite(value)]
    return sum(values) / len(values) if values else math.nan


def summarize(values):
    """{values, n, finished, mean, ci} over the seeds that have the metric (nan where none has); values holds None
    for a run not finished yet and nan for a finished run without the metric (it diverged, or never reached a
    threshold), finished counts the finished runs."""
    finite = [value for value in values if value is not None and math.isfinite(value)]
    finished = sum(value is not None for value in values)
    if not finite:
        return {"values": values, "n": 0, "finished": finished, "mean": math.nan, "ci": math.nan}
    center, half = confidence_interval(finite)
    return {"values": values, "n": len(finite), "finished": finished, "mean": center, "ci": half}


# ---------------------------------------------------------------------------------------------------------------------
# the whole study -> results.json
# ---------------------------------------------------------------------------------------------------------------------
def collect(entries, store):
    """{section: {row: {seeds, done, keys, settings, timing, metrics: {name: summary}, curves}}} over the cached
    runs."""
    sections = {}
    for section, row, cell in entries:
        entry = sections.setdefault(section, {}).setdefault(row, {"seeds": [], "done": 0, "keys": [], "results": []})
        entry["seeds"].append(cell.seed)
        entry["keys"].append(cell.key())
        entry["settings"] = {"lr": cell.lr, "batch_size": cell.batch_size, "norm": cell.norm, "init": cell.init,
                             "init_scale": cell.init_scale, "epochs": cell.epochs, "weight_decay": cell.weight_decay,
                             "augment": cell.augment}
        result = store.load(cell)
        entry["results"].append(result)
        entry.setdefault("cells", []).append(cell)
        entry["done"] += result is not None
    for section, rows in sections.items():
        timing = common_timing(rows)
        for entry in rows.values():
            results = entry["results"]
            runs = [run_metrics(result) if result else None for result in results]
            if entry["settings"]["norm"] in ("bn", *NOISY_NORMS):  # BN's scale: in the result, or (runs saved
                for run, cell, result in zip(runs, entry["cells"], results):  # before it was) from the final weights
                    weights = store.weights(cell) if run is not None and "bn_gamma_mean" not in result else None
                    if run is not None and "bn_gamma_mean" in result:
                        run["bn_gamma_mean"] = result["bn_gamma_mean"]
                    elif weights is not None:
                        run["bn_gamma_mean"] = mean_bn_scale(weights)
            for run, result in zip(runs, results):
                if run is not None and timing_of(result) != timing:  # minutes compare only like with like: the
                    # others' are left out as if not run (None), not counted as a threshold never reached (nan)
                    for name in [name for name in run if name.startswith("minutes_to_") or name == "train_minutes"]:
                        run[name] = None
            if section in ("main", "overfit"):
                target = matched_training_loss(rows, entry["settings"])
                for run, result in zip(runs, results):
                    if run is not None and not result["diverged_at_step"]:
                        run["gap_at_matched_loss"] = gap_at_training_loss(evaluations(result), target)
                entry["matched_training_loss"] = target
            names = sorted({name for run in runs if run for name in run})
            entry["metrics"] = {name: summarize([run.get(name, math.nan) if run else None for run in runs])
                                for name in names}
            entry["curves"] = curves([result for result in results if result])
            entry["timing"] = timing
        for entry in rows.values():
            del entry["results"], entry["cells"]
    return sections


# The differences the report's prose cites: (section a, row a, section b, row b, metrics); row names with {} are
# filled with each value of the section's sweep. Rows with the same seed share the batches, crops and flips, so the
# difference a - b is taken seed by seed (a paired comparison), and two rows differ when the 95% interval of that
# difference leaves out zero.
MAIN_METRICS = ("final_val_accuracy", "epochs_to_80", "epochs_to_85", "epochs_to_88", "generalization_gap",
                "gap_at_matched_loss", "ics_l2_mean", "ics_relative_mean", "ics_cosine_mean", "loss_range_first",
                "loss_range_median", "gradient_change_first", "gradient_change_median", "effective_beta_first",
                "effective_beta_median")
COMPARISONS = [
    ("main", "BN", "main", "no BN, He init", MAIN_METRICS),
    ("noisy", "shifted BN", "main", "BN", ("final_val_accuracy", "epochs_to_80", "epochs_to_85", "ics_relative_mean",
                                           "ics_cosine_mean", "effective_beta_median", "bn_gamma_mean")),
    ("noisy", "shifted BN", "main", "no BN, He init", ("final_val_accuracy", "epochs_to_80", "epochs_to_85")),
    ("noisy", "shifted BN", "noisy", "noisy BN", ("final_val_accuracy",)),
    ("noisy", "noisy BN", "main", "BN", ("final_val_accuracy", "epochs_to_80", "epochs_to_85", "ics_relative_mean",
                                         "ics_cosine_mean", "effective_beta_median", "bn_gamma_mean")),
    ("noisy", "noisy BN", "main", "no BN, He init", ("final_val_accuracy", "epochs_to_80", "epochs_to_85",
                                                     "ics_relative_mean", "ics_cosine_mean",
                                                     "effective_beta_median")),
    ("lr", "BN @ lr {}", "lr", "no BN, He init @ lr {}", ("final_val_accuracy",)),
    ("init", "BN, He x{}", "init", "no BN, He x{}", ("final_val_accuracy",)),
    # does the scale matter with BN: each factor against He's own (x1)
    ("init", "BN, He x{}", "init", "BN, He x1", ("final_val_accuracy",)),
    ("overfit", "BN, {}", "overfit", "no BN, He, {}", ("final_val_accuracy", "generalization_gap",
                                                       "gap_at_matched_loss")),
    ("details", "BN after ReLU", "details", "BN before ReLU", ("final_val_accuracy",)),
    ("details", "BN with conv bias", "details", "BN before ReLU", ("final_val_accuracy",)),
    # the momentum rows train alike (momentum only moves the running statistics): each against PyTorch's default
    ("details", "BN momentum {}", "details", "BN momentum 0.1", ("final_val_accuracy", "accuracy_running_cats_only_64",
                                                               "accuracy_running_dogs_only_64")),
    ("details", "fine-tune in gray, BN frozen", "details", "fine-tune in gray, BN updated", ("final_val_accuracy",)),
    ("batch", "bn @ batch {}", "batch", "gn @ batch {}", ("final_val_accuracy",)),
    ("batch", "bn @ batch {}", "batch", "none @ batch {}", ("final_val_accuracy",)),
]


def paired_comparisons(sections):
    """[{a, b, metric, difference (a summary of the per-seed differences a - b), differs}] for COMPARISONS, where
    both rows exist; differs: True / False where at least two seeds give a difference, else None."""
    out = []
    for section_a, pattern_a, section_b, pattern_b, metrics in COMPARISONS:
        rows_a, rows_b = sections.get(section_a, {}), sections.get(section_b, {})
        for row_a in rows_a:
            fill = re.fullmatch(re.escape(pattern_a).replace(r"\{\}", "(.+)"), row_a)
            if not fill:
                continue
            row_b = pattern_b.format(*fill.groups())
            if row_b not in rows_b or (section_a, row_a) == (section_b, row_b):
                continue
            for metric in metrics:
                values_a = rows_a[row_a]["metrics"].get(metric, {}).get("values")
                values_b = rows_b[row_b]["metrics"].get(metric, {}).get("values")
                if not values_a or not values_b:
                    continue
                differences = [a - b if a is not None and b is not None else None
                               for a, b in zip(values_a, values_b)]
                summary = summarize(differences)
                differs = (None if summary["n"] < 2 or not math.isfinite(summary["ci"])
                           else abs(summary["mean"]) > summary["ci"])
                out.append({"a": [section_a, row_a], "b": [section_b, row_b], "metric": metric,
                            "difference": summary, "differs": differs})
    return out


def timing_of(result):
    """What a run's minutes were measured on: the device and the cores it could use."""
    cores = result["machine"].get("usable_cpus", result["machine"]["cpus"])
    return f"{result['device']}, {cores} core{'s' if cores != 1 else ''}"


def common_timing(rows):
    """The device and core count of most of a section's finished runs: the minutes of the others are left out."""
    kinds = [timing_of(result) for entry in rows.values() for result in entry["results"] if result]
    return max(set(kinds), key=kinds.count) if kinds else None


def matched_training_loss(rows, settings):
    """The training loss (eval mode, on the fixed training sample) that every finished run of the rows compared
    with each other (the same weight decay and augmentation: BN against no BN) reached: the largest of their lowest
    losses. Comparing the runs where each first reached it compares the generalization of models that fit the
    training data equally well, not of models trained equally long."""
    compared = [entry for entry in rows.values() if (entry["settings"]["weight_decay"], entry["settings"]["augment"])
                == (settings["weight_decay"], settings["augment"])]
    lowest = [min(row["train_eval_loss"] for row in evaluations(result) if row["train_eval_loss"] is not None)
              for entry in compared for result in entry["results"]
              if result and result["history"] and not result["diverged_at_step"]]
    return max(lowest) if lowest else None


def gap_at_training_loss(history, target):
    """Train minus validation accuracy where the training loss first fell to `target`, interpolated linearly
    between the two evaluations around that point; nan if it never did, or if it was already below at the first
    evaluation (no point of the run is known to have the target loss)."""
    previous = None
    for row in (row for row in history if row["train_eval_loss"] is not None):
        if row["train_eval_loss"] <= target:
            if previous is None:
                return row["train_eval_accuracy"] - row["val_accuracy"] if row["train_eval_loss"] == target \
                    else math.nan
            t = (previous["train_eval_loss"] - target) / (previous["train_eval_loss"] - row["train_eval_loss"])
            train, val = (previous[name] + t * (row[name] - previous[name])
                          for name in ("train_eval_accuracy", "val_accuracy"))
            return train - val
        previous = row
    return math.nan


def curves(results):
    """Per row, the means over its finished runs of: validation accuracy, and training loss and accuracy (eval mode,
    on the fixed training sample) at each evaluation (by epoch), the covariate shift per layer (averaged over the
    probes), the smoothness measures at each probe (by step), and the noise of batch statistics per batch size
    (first and last BN layer). For the figures."""
    finished = [result for result in results if result["history"] and not result["diverged_at_step"]]
    out = {}
    if finished and len({len(result["history"]) for result in finished}) == 1:
        histories = [evaluations(result) for result in finished]
        out["epochs"] = [row["epoch"] for row in histories[0]]
        for name in ("val_accuracy", "train_eval_loss", "train_eval_accuracy"):
            out[name] = [mean(history[k][name] for history in histories) for k in range(len(out["epochs"]))]
    probed = [result for result in finished if result.get("probes")]
    if probed and len({len(result["probes"]) for result in probed}) == 1:
        layers = [row["layer"] for row in probed[0]["probes"][0]["ics"]]
        out["ics_layers"] = layers
        for name in ("l2", "cosine"):
            out[f"ics_{name}"] = [mean(probe["ics"][k][name] for result in probed for probe in shift_probes(result))
                                  for k in range(len(layers))]
        out["ics_relative"] = [mean(relative_shift(probe["ics"][k]) for result in probed
                                    for probe in shift_probes(result)) for k in range(len(layers))]
        out["probe_steps"] = [probe["step"] for probe in probed[0]["probes"]]
        for name in ("loss_range", "max_gradient_change", "effective_beta"):
            out[name] = [mean(result["probes"][k]["smoothness"][name] for result in probed)
                         for k in range(len(out["probe_steps"]))]
    noisy = [result["extras"]["batch_statistics_noise"] for result in finished if result.get("extras")]
    if noisy:
        layers = sorted({row["layer"] for row in noisy[0]})
        for label, layer in (("first", layers[0]), ("last", layers[-1])):
            sizes = sorted({row["batch_size"] for row in noisy[0] if row["layer"] == layer})
            out["noise_batch_sizes"] = sizes
            out[f"noise_mean_error_{label}"] = [mean(row["mean_error"] for rows in noisy for row in rows
                                                     if row["layer"] == layer and row["batch_size"] == b)
                                                for b in sizes]
    return out


def rounded(value):
    """`value` with every float rounded to 5 significant digits (NaN as None, which JSON has)."""
    if isinstance(value, float):
        return None if not math.isfinite(value) else float(f"{value:.5g}")
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(item) for item in value]
    return value


# ---------------------------------------------------------------------------------------------------------------------
# results.json -> markdown tables
# ---------------------------------------------------------------------------------------------------------------------
# (section, title, [(column header, metric, format)])
PERCENT, NUMBER, SCIENTIFIC, MINUTES, FLAG = "percent", "number", "scientific", "minutes", "flag"
TABLES = {
    "main": ("Main comparison (full scale)", [("final val acc", "final_val_accuracy", PERCENT),
                                              ("epochs to 80%", "epochs_to_80", NUMBER),
                                              ("epochs to 85%", "epochs_to_85", NUMBER),
                                              ("epochs to 88%", "epochs_to_88", NUMBER),
                                              ("minutes to 88%", "minutes_to_88", MINUTES),
                                              ("train - val acc", "generalization_gap", PERCENT),
                                              ("same, at matched train loss", "gap_at_matched_loss", PERCENT),
                                              ("ICS l2 / ‖G‖", "ics_relative_mean", NUMBER),
                                              ("ICS cos", "ics_cosine_mean", NUMBER),
                                              ("β-smoothness, step 1", "effective_beta_first", NUMBER),
                                              ("β-smoothness, median", "effective_beta_median", NUMBER)]),
    "noisy": ("Noisy BN (full scale; evaluated with BN statistics measured anew without the noise)",
              [("final val acc", "final_val_accuracy", PERCENT),
               ("same, plain eval mode", "final_val_accuracy_eval_mode", PERCENT),
               ("train acc as trained, with the noise", "training_mode_accuracy", PERCENT),
               ("epochs to 85%", "epochs_to_85", NUMBER),
               ("layer-input shift per probe", "input_shift_with_noise", NUMBER),
               ("same, without the noise", "input_shift_without_noise", NUMBER),
               ("std with / without noise", "noise_std_ratio", NUMBER),
               ("mean |gamma| at the end", "bn_gamma_mean", NUMBER),
               ("ICS l2 / ‖G‖", "ics_relative_mean", NUMBER),
               ("ICS cos", "ics_cosine_mean", NUMBER),
               ("β-smoothness, median", "effective_beta_median", NUMBER)]),
    "lr": ("Learning-rate sweep (reduced scale)", [("final val acc", "final_val_accuracy", PERCENT),
                                                   ("diverged", "diverged", FLAG), ("stalled", "stalled", FLAG)]),
    "details": ("Details (reduced scale; fine-tuning: full-scale BN models on 2,000 gray images)",
                [("final val acc", "final_val_accuracy", PERCENT),
                 ("before fine-tuning", "start_val_accuracy", PERCENT),
                 ("conv bias grad, step 1", "conv_bias_gradient", SCIENTIFIC),
                 ("conv weight grad, step 1", "conv_weight_gradient", SCIENTIFIC)]),
    "init": ("Initialization scale (reduced scale)", [("final val acc", "final_val_accuracy", PERCENT),
                                                      ("diverged", "diverged", FLAG), ("stalled", "stalled", FLAG)]),
    "overfit": ("Overfitting (reduced scale, longer)", [("train acc (eval mode)", "final_train_eval_accuracy", PERCENT),
                                                        ("val acc", "final_val_accuracy", PERCENT),
                                                        ("gap at the end", "generalization_gap", PERCENT),
                                                        ("train loss (eval mode)", "final_train_eval_loss", NUMBER),
                                                        ("gap at matched train loss", "gap_at_matched_loss",
                                                         PERCENT)]),
    "batch": ("Batch size (small images)", [("final val acc", "final_val_accuracy", PERCENT),
                                            ("diverged", "diverged", FLAG)]),
}

# Tables that gather rows of several sections: (title, the rows as (section, start of the row's name, what the table
# adds to that name), columns).
# The BN models that ran the extra evaluations after training (cells.py: extras), validated with the running
# statistics (eval mode) and with each test batch's own (training mode: the tutorial mistake), in batches of 64, 8
# and 1 mixed images and of 64 images of one class.
VIEWS = {
    "batch_stats": ("Evaluation with batch statistics (main BN: full scale; momentum rows: reduced scale)",
                    (("main", "BN", ", main comparison"), ("details", "BN momentum", "")),
                    [("running stats", "accuracy_running_mixed_64", PERCENT),
                     ("batch stats, 64", "accuracy_batch_mixed_64", PERCENT),
                     ("batch stats, 8", "accuracy_batch_mixed_8", PERCENT),
                     ("batch stats, 1", "accuracy_batch_mixed_1", PERCENT),
                     ("cats only: running", "accuracy_running_cats_only_64", PERCENT),
                     ("cats only: batch stats", "accuracy_batch_cats_only_64", PERCENT),
                     ("dogs only: running", "accuracy_running_dogs_only_64", PERCENT),
                     ("dogs only: batch stats", "accuracy_batch_dogs_only_64", PERCENT)]),
}


def view_rows(view, sections):
    """The rows of a VIEWS table, named as it names them, in the order of its (section, name start, suffix)."""
    return {row + suffix: entry for section, start, suffix in VIEWS[view][1]
            for row, entry in sections.get(section, {}).items() if row.startswith(start)}


def cell_text(summary, kind):
    """'88.1% ± 0.4' (mean ± 95% half-width), from the rounded numbers of results.json. A number that only some
    of the finished seeds have (the others diverged, or never reached a threshold) says how many: '(2 of 3)';
    'never' where no finished seed has it; '(n=k)' where only k seeds have finished."""
    if summary is None:
        return "–"
    finished = summary.get("finished", summary["n"])
    if summary["n"] == 0 or summary["mean"] is None:
        return "never" if finished and kind != FLAG else "–"
    if kind == FLAG:
        return f"{sum(1 for v in summary['values'] if v)}/{summary['n']}"
    scale, unit = (100, "%") if kind == PERCENT else (1, "")
    number = (lambda value: f"{value:.2g}") if kind == SCIENTIFIC else format_number
    text = f"{number(summary['mean'] * scale)}{unit}"
    if summary["ci"] is not None and summary["n"] > 1:
        text += f" ± {number(summary['ci'] * scale)}"
    if summary["n"] < finished:
        return text + f" ({summary['n']} of {finished})"
    return text + ("" if summary["n"] >= 3 else f" (n={summary['n']})")


def format_number(value):
    """Three significant digits, at most two decimals; under 0.01, two significant digits (0.0012, 3.4e-06):
    what a reader can compare."""
    if value == 0:
        return "0"
    if abs(value) < 0.01:
        return f"{value:.2g}"
    digits = max(0, min(2, 2 - math.floor(math.log10(abs(value)))))
    return f"{value:.{digits}f}"


def largest_stable_rates(rows):
    """One line: per model, the largest peak lr at which every finished seed learned (neither diverged nor stalled)."""
    stable, complete = {}, {}
    for row, entry in rows.items():
        model = row.split(" @ ")[0]
        stable.setdefault(model, None)
        complete[model] = complete.get(model, True) and entry["done"] == len(entry["seeds"])
        diverged, stalled = entry["metrics"].get("diverged"), entry["metrics"].get("stalled")
        finished = diverged and diverged["n"]
        learned = finished and not any(diverged["values"]) and stalled and stalled["n"] == diverged["n"] \
            and not any(stalled["values"])
        if learned and (stable[model] is None or entry["settings"]["lr"] > stable[model]):
            stable[model] = entry["settings"]["lr"]
    parts = [f"{model}: {f'{lr:g}' if lr is not None else 'none' if complete[model] else 'none yet'}"
             for model, lr in stable.items()]
    return "Largest peak lr at which every finished seed learned: " + "; ".join(parts) + "."


def section_table(section, rows):
    """The markdown lines of one section's table, or of a VIEWS table (and, for the lr sweep, the line of the largest
    stable rates)."""
    columns = VIEWS[section][2] if section in VIEWS else TABLES[section][1]
    lines = ["| row | seeds | " + " | ".join(header for header, _, _ in columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    for row, entry in rows.items():
        cells = [cell_text(entry["metrics"].get(metric), kind) for _, metric, kind in columns]
        lines.append(f"| {row} | {entry['done']}/{len(entry['seeds'])} | " + " | ".join(cells) + " |")
    if section == "lr":
        lines += ["", largest_stable_rates(rows)]
    return lines


def markdown(results, figures=None):
    lines = [f"# BN study: tables ({'quick mode' if results['quick'] else 'full study'})", "",
             (f"Generated by `{results['command']}` from the runs cached so far: {results['done']} of "
              f"{results['total']} runs. Each cell: mean ± the half-width of the 95% interval over the seeds "
              f"(Student t). (n=k): only k seeds have finished so far; (k of m): only k of the m finished seeds have "
              f"the number (the others diverged, or never reached the threshold); 'never': none did; '–': no "
              f"finished run yet; 'k/n' in a diverged or stalled column: k of the n finished seeds did. Minutes "
              f"count only the runs made on the device and cores most of the section's runs had. Two rows differ "
              f"when the 95% interval of their difference, taken seed by seed, leaves out zero (the last table)."),
             ""]
    for section, rows in results["sections"].items():
        lines += [f"## {TABLES[section][0]}", "", *section_table(section, rows), ""]
    for view, (title, _, _) in VIEWS.items():
        lines += [f"## {title}", "", *section_table(view, view_rows(view, results["sections"])), ""]
    if results.get("comparisons"):
        lines += ["## Paired differences (a - b, seed by seed)", "", "| a | b | metric | a - b | differs |",
                  "|---|---|---|---|---|"]
        for comparison in results["comparisons"]:
            kind = PERCENT if "accuracy" in comparison["metric"] or "gap" in comparison["metric"] else NUMBER
            differs = {True: "yes", False: "no", None: "–"}[comparison["differs"]]
            shown = cell_text(comparison["difference"], kind) if comparison["difference"]["n"] else "–"
            lines.append(f"| {' / '.join(comparison['a'])} | {' / '.join(comparison['b'])} | {comparison['metric']} "
                         f"| {shown} | {differs} |")
        lines.append("")
    if figures:
        lines += ["## Figures", ""] + [f"![{name}]({link})" for name, link in figures.items()] + [""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------------
# the written report (docs/bn-study.md, .vi.md): its tables are blocks regenerated from results.json, and every
# number the prose puts in bold must be one of results.json's, rendered as the tables render it
# ---------------------------------------------------------------------------------------------------------------------
TABLE_BLOCK = re.compile(r"(<!-- table: (\w+) -->\n)(.*?)(<!-- /table -->)", re.DOTALL)
BOLD = re.compile(r"\*\*([^*]+)\*\*")


DECIMAL = re.compile(r"(?<=\d)[.,](?=\d)")


def refresh_tables(text, results, decimal_comma=False):
    """`text` with the content of every `<!-- table: SECTION -->` ... `<!-- /table -->` block replaced by that
    section's table from `results`; decimal_comma: with 88,1% for 88.1% (the Vietnamese report)."""
    def table(match):
        section = match.group(2)
        if section in VIEWS:
            rows = view_rows(section, results["sections"])
        elif section in results["sections"]:
            rows = results["sections"][section]
        else:
            raise ValueError(f"the report has a table block for section {section!r}, which results.json lacks")
        body = "\n".join(section_table(section, rows))
        if decimal_comma:
            body = DECIMAL.sub(",", body)
        return match.group(1) + body + "\n" + match.group(4)
    return TABLE_BLOCK.sub(table, text)


def measured_texts(results):
    """Every way a number of results.json may be written in the report: each metric's summary as a table cell
    shows it (in every format), each seed's value alone (as a percentage and as a number), and the budget's
    numbers."""
    texts = set()
    for rows in results["sections"].values():
        for entry in rows.values():
            for summary in entry["metrics"].values():
                for kind in (PERCENT, NUMBER, SCIENTIFIC, MINUTES, FLAG):
                    texts.add(cell_text(summary, kind))
                    texts.add(cell_text(summary, kind).split(" (n=")[0])
                    if summary["n"] and summary["mean"] is not None:
                        texts.add(cell_text({**summary, "ci": None}, kind).split(" (n=")[0])  # the mean alone
                for value in summary["values"]:
                    if value is not None:
                        texts.update({f"{format_number(value * 100)}%", format_number(value)})
    for comparison in results.get("comparisons", []):
        for kind in (PERCENT, NUMBER, SCIENTIFIC):
            texts.add(cell_text(comparison["difference"], kind).split(" (")[0])
    for value in results.get("budget", {}).values():
        if isinstance(value, (int, float)):
            texts.add(format_number(value))
    texts.discard("–")
    return texts


def unmatched_bold_numbers(text, results, decimal_comma=False):
    """The bold spans of `text` that hold a digit but are not a rendering of a number of results.json (outside the
    table blocks, which refresh_tables checks). decimal_comma: the text writes 88,1% for 88.1% (Vietnamese)."""
    prose = TABLE_BLOCK.sub("", text)
    known = measured_texts(results)
    swap = str.maketrans(",.", ".,") if decimal_comma else None
    return [span for span in BOLD.findall(prose) if any(ch.isdigit() for ch in span)
            and (span.strip().translate(swap) if swap else span.strip()) not in known]


def budget(finished):
    """What the finished runs cost: their number, and core-hours (each run's wall time times the cores it could
    use; runs from before that was recorded used every core of the machine)."""
    core_seconds = sum(run["seconds"] * run["machine"].get("usable_cpus", run["machine"]["cpus"]) for run in finished)
    return {"runs": len(finished), "core_hours": core_seconds / 3600,
            "wall_hours_one_queue": sum(run["seconds"] for run in finished) / 3600}


def write_report(entries, store, out, scale, quick=False, command=""):
    """out/results.json, out/figures/*.png and out/bn-study-tables.md from the cached runs; returns the markdown's
    path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sections = collect(entries, store)
    keys = {cell.key() for _, _, cell in entries}
    finished = [store.load(cell) for cell in {cell for _, _, cell in entries} if store.has(cell)]
    results = rounded({"quick": quick, "command": command, "total": len(keys), "done": len(finished),
                       "budget": budget(finished), "sections": sections,
                       "comparisons": paired_comparisons(sections)})
    (out / "results.json").write_text(json.dumps(results, indent=1))
    figures = draw_figures(results, out / "figures")
    path = out / "bn-study-tables.md"
    path.write_text(markdown(results, {name: f"figures/{Path(file).name}" for name, file in figures.items()}),
                    encoding="utf-8")
    return path
