"""The report: results.json (per row of every section, each metric's seeds, mean and 95% interval) and a markdown
file of tables rendered from results.json alone, so that every number in the tables is one of the file's.

It renders whatever the cache holds: a row whose runs are not all finished says how many seeds it has, a row with
none shows dashes. The prose of the final docs/bn-study.md is written by a person from these tables once
the study is complete; this module makes the tables, the figures' data and the checks.

The rule for a difference: two rows differ when their 95% intervals (Student t over the seeds) do not overlap.
"""
import json
import math
import re
from pathlib import Path

from tinygrad_bn import nn

from .cells import confidence_interval
from .nets import study_net
from .plots import draw_figures

THRESHOLDS = (0.80, 0.85, 0.88)
STALLED_BELOW = 0.6  # a run that ends under this validation accuracy did not learn (chance is 0.5)


# ---------------------------------------------------------------------------------------------------------------------
# one run -> its numbers
# ---------------------------------------------------------------------------------------------------------------------
def run_metrics(result):
    """The numbers of one finished run that the tables use ({} for a run that diverged: it has none)."""
    history = result["history"]
    metrics = {"diverged": 1.0 if result["diverged_at_step"] else 0.0}
    if result["diverged_at_step"] or not history:
        return metrics
    last = history[-1]
    metrics.update(final_val_accuracy=last["val_accuracy"], best_val_accuracy=max(r["val_accuracy"] for r in history),
                   final_train_eval_accuracy=last["train_eval_accuracy"], final_train_eval_loss=last["train_eval_loss"],
                   final_val_loss=last["val_loss"], stalled=1.0 if last["val_accuracy"] < STALLED_BELOW else 0.0,
                   generalization_gap=last["train_eval_accuracy"] - last["val_accuracy"],
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
        metrics["loss_range_mean"] = mean(probe["smoothness"]["loss_range"] for probe in probes)
        metrics["gradient_change_mean"] = mean(probe["smoothness"]["max_gradient_change"] for probe in probes)
        metrics["effective_beta_mean"] = mean(probe["smoothness"]["effective_beta"] for probe in probes)
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


def mean(values):
    values = [value for value in values if value is not None and math.isfinite(value)]
    return sum(values) / len(values) if values else math.nan


def summarize(values):
    """{values, n, mean, ci} over the seeds that have the metric (nan where none has)."""
    finite = [value for value in values if value is not None and math.isfinite(value)]
    if not finite:
        return {"values": values, "n": 0, "mean": math.nan, "ci": math.nan}
    center, half = confidence_interval(finite)
    return {"values": values, "n": len(finite), "mean": center, "ci": half}


# ---------------------------------------------------------------------------------------------------------------------
# the whole study -> results.json
# ---------------------------------------------------------------------------------------------------------------------
def collect(entries, store):
    """{section: {row: {seeds, done, keys, settings, metrics: {name: summary}, curves}}} over the cached runs."""
    sections = {}
    for section, row, cell in entries:
        entry = sections.setdefault(section, {}).setdefault(row, {"seeds": [], "done": 0, "keys": [], "results": []})
        entry["seeds"].append(cell.seed)
        entry["keys"].append(cell.key())
        entry["settings"] = {"lr": cell.lr, "batch_size": cell.batch_size, "norm": cell.norm,
                             "init_scale": cell.init_scale, "epochs": cell.epochs}
        result = store.load(cell)
        entry["results"].append(result)
        entry["done"] += result is not None
    for section, rows in sections.items():
        matched = matched_training_loss(rows) if section in ("main", "overfit") else None
        for entry in rows.values():
            results = entry.pop("results")
            runs = [run_metrics(result) if result else None for result in results]
            if matched is not None:
                for run, result in zip(runs, results):
                    if run is not None and result is not None:
                        run["gap_at_matched_loss"] = gap_at_training_loss(result["history"], matched)
                entry["matched_training_loss"] = matched
            names = sorted({name for run in runs if run for name in run})
            entry["metrics"] = {name: summarize([run.get(name, math.nan) if run else None for run in runs])
                                for name in names}
            entry["curves"] = curves([result for result in results if result])
    return sections


def matched_training_loss(rows):
    """The training loss (eval mode, on the fixed training sample) that every finished run of the section
    reached: the largest of their lowest losses. Comparing the runs where each first reached it compares the
    generalization of models that fit the training data equally well, not of models trained equally long."""
    lowest = [min(row["train_eval_loss"] for row in result["history"])
              for entry in rows.values() for result in entry["results"]
              if result and result["history"] and not result["diverged_at_step"]]
    return max(lowest) if lowest else None


def gap_at_training_loss(history, target):
    """Train minus validation accuracy where the training loss first fell to `target`, interpolated linearly
    between the two evaluations around that point (nan if it never did)."""
    previous = None
    for row in history:
        if row["train_eval_loss"] <= target:
            if previous is None or previous["train_eval_loss"] == row["train_eval_loss"]:
                return row["train_eval_accuracy"] - row["val_accuracy"]
            t = (previous["train_eval_loss"] - target) / (previous["train_eval_loss"] - row["train_eval_loss"])
            train, val = (previous[name] + t * (row[name] - previous[name])
                          for name in ("train_eval_accuracy", "val_accuracy"))
            return train - val
        previous = row
    return math.nan


def curves(results):
    """Per row, the means over its finished runs of: validation accuracy at each evaluation (by epoch), the
    covariate shift per layer (averaged over the probes), the smoothness measures at each probe (by step), and
    the noise of batch statistics per batch size (first and last BN layer). For the figures."""
    finished = [result for result in results if result["history"] and not result["diverged_at_step"]]
    out = {}
    if finished and len({len(result["history"]) for result in finished}) == 1:
        out["epochs"] = [row["epoch"] for row in finished[0]["history"]]
        out["val_accuracy"] = [mean(result["history"][k]["val_accuracy"] for result in finished)
                               for k in range(len(out["epochs"]))]
        out["train_eval_loss"] = [mean(result["history"][k]["train_eval_loss"] for result in finished)
                                  for k in range(len(out["epochs"]))]
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
                                              ("ICS l2", "ics_l2_mean", NUMBER),
                                              ("ICS l2 / ‖G‖", "ics_relative_mean", NUMBER),
                                              ("ICS cos", "ics_cosine_mean", NUMBER),
                                              ("effective beta", "effective_beta_mean", NUMBER)]),
    "noisy": ("Noisy BN (full scale)", [("final val acc", "final_val_accuracy", PERCENT),
                                         ("epochs to 85%", "epochs_to_85", NUMBER),
                                         ("ICS l2", "ics_l2_mean", NUMBER),
                                         ("ICS l2 / ‖G‖", "ics_relative_mean", NUMBER),
                                         ("ICS cos", "ics_cosine_mean", NUMBER),
                                         ("effective beta", "effective_beta_mean", NUMBER)]),
    "lr": ("Learning-rate sweep (reduced scale)", [("final val acc", "final_val_accuracy", PERCENT),
                                                   ("diverged", "diverged", FLAG), ("stalled", "stalled", FLAG)]),
    "details": ("Details (reduced scale; fine-tuning: full-scale BN models on 2,000 gray images)",
                [("final val acc", "final_val_accuracy", PERCENT),
                 ("before fine-tuning", "start_val_accuracy", PERCENT),
                 ("conv bias grad, step 1", "conv_bias_gradient", SCIENTIFIC),
                 ("conv weight grad, step 1", "conv_weight_gradient", SCIENTIFIC),
                 ("eval: running stats", "accuracy_running_mixed_64", PERCENT),
                 ("eval: batch stats, 64", "accuracy_batch_mixed_64", PERCENT)]),
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


def cell_text(summary, kind):
    """'88.1% ± 0.4' (mean ± 95% half-width), from the rounded numbers of results.json."""
    if summary is None or summary["n"] == 0 or summary["mean"] is None:
        return "–"
    if kind == FLAG:
        return f"{sum(1 for v in summary['values'] if v)}/{summary['n']}"
    scale, unit = (100, "%") if kind == PERCENT else (1, "")
    number = (lambda value: f"{value:.2g}") if kind == SCIENTIFIC else format_number
    text = f"{number(summary['mean'] * scale)}{unit}"
    if summary["ci"] is not None and summary["n"] > 1:
        text += f" ± {number(summary['ci'] * scale)}"
    return text + ("" if summary["n"] >= 3 else f" (n={summary['n']})")


def format_number(value):
    """Three significant digits, at most two decimals: what a reader can compare."""
    if value == 0:
        return "0"
    digits = max(0, min(2, 2 - math.floor(math.log10(abs(value)))))
    return f"{value:.{digits}f}"


def largest_stable_rates(rows):
    """One line: per model, the largest peak lr at which every finished seed learned (neither diverged nor stalled)."""
    stable = {}
    for row, entry in rows.items():
        model = row.split(" @ ")[0]
        stable.setdefault(model, None)
        diverged, stalled = entry["metrics"].get("diverged"), entry["metrics"].get("stalled")
        finished = diverged and diverged["n"]
        learned = finished and not any(diverged["values"]) and stalled and stalled["n"] == diverged["n"] \
            and not any(stalled["values"])
        if learned and (stable[model] is None or entry["settings"]["lr"] > stable[model]):
            stable[model] = entry["settings"]["lr"]
    parts = [f"{model}: {'none yet' if lr is None else f'{lr:g}'}" for model, lr in stable.items()]
    return "Largest peak lr at which every finished seed learned: " + "; ".join(parts) + "."


def section_table(section, rows):
    """The markdown lines of one section's table (and, for the lr sweep, the line of the largest stable rates)."""
    columns = TABLES[section][1]
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
             f"(Student t); two rows differ when their intervals do not overlap; (n=k): only k seeds have the number "
              f"so far. '–': no finished run has it yet (not run, or a threshold never reached); 'k/n' in a "
              f"diverged or stalled column: k of the n finished seeds did."), ""]
    for section, rows in results["sections"].items():
        lines += [f"## {TABLES[section][0]}", "", *section_table(section, rows), ""]
    if figures:
        lines += ["## Figures", ""] + [f"![{name}]({link})" for name, link in figures.items()] + [""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------------
# the written report (docs/bn-study.md, .vi.md): its tables are blocks regenerated from results.json, and every
# number the prose puts in bold must be one of results.json's, rendered as the tables render it
# ---------------------------------------------------------------------------------------------------------------------
TABLE_BLOCK = re.compile(r"(<!-- table: (\w+) -->\n)(.*?)(<!-- /table -->)", re.DOTALL)
BOLD = re.compile(r"\*\*([^*]+)\*\*")


def refresh_tables(text, results):
    """`text` with the content of every `<!-- table: SECTION -->` ... `<!-- /table -->` block replaced by that
    section's table from `results`."""
    def table(match):
        section = match.group(2)
        if section not in results["sections"]:
            raise ValueError(f"the report has a table block for section {section!r}, which results.json lacks")
        return match.group(1) + "\n".join(section_table(section, results["sections"][section])) + "\n" + match.group(4)
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
                       "budget": budget(finished), "sections": sections})
    (out / "results.json").write_text(json.dumps(results, indent=1))
    figures = draw_figures(results, out / "figures")
    path = out / "bn-study-tables.md"
    path.write_text(markdown(results, {name: f"figures/{Path(file).name}" for name, file in figures.items()}),
                    encoding="utf-8")
    return path
