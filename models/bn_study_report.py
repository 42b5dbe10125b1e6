"""The text of bn-study.md, written from the results of models/bn_study.py (the plots: bn_study_plots.py).

Every number in the report is formatted from the results dict (also saved as bn-study/results.json), and the
sentence that judges each claim is chosen by comparing those numbers: a rerun whose outcome differs writes a
different conclusion, never a stale one. Accuracies are printed in percent; "mean (min–max)" is over the seeds.
"""
import math
from pathlib import Path

import numpy as np

CHANCE = 0.5


# ---------------------------------------------------------------------------------------------------------------------
# reading the results
# ---------------------------------------------------------------------------------------------------------------------
class Results:
    """The results dict, with the look-ups every section needs."""

    def __init__(self, results):
        self.raw = results
        self.settings = results["settings"]
        self.runs = results["runs"]
        self.seeds = self.settings["seeds"]
        self.first_seed = self.seeds[0]
        self.main_lr = self.settings["main_lr"]
        self.n_val = results["data"]["val"]
        self.he_scale = next((scale for scale in self.settings["init_scales"] if is_he_scale(scale)), None)

    def run(self, bn, lr=None, seed=None, init_scale=1.0):
        lr = self.main_lr if lr is None else lr
        seed = self.first_seed if seed is None else seed
        for run in self.runs:
            if (run["bn"], run["lr"], run["seed"], run["init_scale"]) == (bn, lr, seed, init_scale):
                return run
        return None

    def main_runs(self, bn):
        return [self.run(bn, seed=seed) for seed in self.seeds]

    def learned(self, run):
        """Finished, and ended clearly above chance."""
        return final_accuracy(run) is not None and final_accuracy(run) >= self.settings["learned_accuracy"]

    def status(self, run):
        if run["diverged_at_step"]:
            return f"diverged (loss NaN/inf at step {run['diverged_at_step']})"
        return "learned" if self.learned(run) else f"did not learn (< {percent(self.settings['learned_accuracy'])})"

    def standard_error(self):
        """The largest standard error of an accuracy measured on the validation set: sqrt(p (1 - p) / n) at p = 0.5."""
        return math.sqrt(0.25 / self.n_val)


def final_accuracy(run):
    if run is None or run["diverged_at_step"] or not run["history"]:
        return None
    return run["history"][-1]["val_accuracy"]


def val_curve(run):
    return [row["val_accuracy"] for row in run["history"]]


def epochs_to_reach(run, threshold):
    """The first epoch whose validation accuracy is >= threshold, or None."""
    for row in run["history"]:
        if row["val_accuracy"] >= threshold:
            return row["epoch"]
    return None


def is_he_scale(scale):
    """sqrt(6), also as read back from results.json (rounded to 5 digits)."""
    return abs(scale - math.sqrt(6)) < 1e-3


def scale_name(scale):
    if is_he_scale(scale):
        return "√6 ≈ 2.45x (He init)"
    return f"{scale:g}x" + (" (default)" if scale == 1 else "")


# ---------------------------------------------------------------------------------------------------------------------
# formatting
# ---------------------------------------------------------------------------------------------------------------------
def percent(value, digits=1):
    return "—" if value is None else f"{100 * value:.{digits}f}%"


def spread(values):
    """'mean% (min–max)' of the values that exist; '—' if none."""
    values = [value for value in values if value is not None]
    if not values:
        return "—"
    if len(values) == 1:
        return percent(values[0])
    return f"{percent(np.mean(values))} ({100 * min(values):.1f}–{100 * max(values):.1f})"


def mean_or_none(values):
    values = [value for value in values if value is not None]
    return float(np.mean(values)) if values else None


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def listing(items):
    items = [str(item) for item in items]
    if not items:
        return "none"
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def class_counts(classes, counts):
    return listing(f"{count} {name}s" for name, count in zip(classes, counts))


def noise(results):
    """Two standard errors of a validation accuracy: smaller differences are not evidence of anything."""
    return 2 * results.standard_error()


def difference(a, b, results):
    """a - b in points, marked when it is within noise."""
    delta = a - b
    return f"{100 * delta:+.1f} points" + (" (within noise)" if abs(delta) < noise(results) else "")


def case_order(rows_by_seed):
    """[(group, batch_size)] in the order of the rows (the same for every seed and both kinds of statistics)."""
    rows = next(iter(rows_by_seed.values()))
    return [(row["group"], row["batch_size"]) for row in rows if row["statistics"] == "running"]


# ---------------------------------------------------------------------------------------------------------------------
# sections: each returns (markdown, the one-line verdict for the conclusions)
# ---------------------------------------------------------------------------------------------------------------------
def header(results, raw):
    s, data, machine = results.settings, raw["data"], raw["machine"]
    widths = ",".join(str(width) for width in s["widths"])
    convs = sum(width != "M" for width in s["widths"])
    total_training = sum(run["seconds"] for run in results.runs) / 60
    quick = ("\n\n> **Quick mode** (a smoke test for CI): tiny subset and budget, so the numbers below say little "
             "about BatchNorm. The study itself is the full run.") if raw["quick"] else ""
    return f"""# What BatchNorm really does: experiments on cats vs dogs{quick}

Popular explanations claim that batch normalization (1) stabilizes training (no vanishing or exploding gradients)
and allows higher learning rates, (2) speeds up convergence and lessens the dependence on the initialization,
(3) reduces overfitting; and many tutorials normalize test data with the test batch's own statistics. This report
tests each claim by training the same CNN with and without BatchNorm on the cats-vs-dogs images. How BN works,
forward and backward, is in [batchnorm.md](batchnorm.md).

**This file is generated**: every number below comes from one run of

    {raw['command']}

on {raw['date']}, which took **{raw['wall_seconds'] / 60:.1f} minutes** of wall time ({len(results.runs)} training
runs, {total_training:.1f} minutes of them training) on a machine with {machine['cpus']} CPUs
({machine['platform']}, Python {machine['python']}, NumPy {machine['numpy']}; load average at the start
{machine['load_average']}). Every run is seeded; the raw numbers are in [bn-study/results.json](bn-study/results.json).

## Setup

- **Data**: {data['images']} images ({class_counts(data['classes'], data['per_class'])}), a seeded class-balanced
  subset of `{Path(data['root']).name}/`, split once (seed {s['data_seed']}) into {data['train']} training and
  {data['val']} validation images ({class_counts(data['classes'], data['val_per_class'])}); every run uses this
  same split.
- **Images**: {s['image_size']}x{s['image_size']} pixels (random crops and flips of the cached images in training,
  the centre crop for validation), normalized per channel with the training set's mean and std.
- **Model**: `CatsDogsNet(widths=({widths}))` ([catsdogs_net.py](../models/catsdogs_net.py)): {convs} conv3x3 layers,
  each followed by BatchNorm2d (the BN model; its convs have no bias) or nothing (the no-BN model; its convs have a
  bias), then ReLU; max pooling at each M; global average pooling; a linear layer. Default (PyTorch) initialization.
- **Training**: {s['epochs']} epochs of {data['steps_per_epoch']} steps, batches of {s['batch_size']}, SGD with
  Nesterov momentum and weight decay as in [training.py](../models/training.py), one-cycle learning-rate
  schedule (warm-up to the peak learning rate, then annealing). The main comparison uses peak lr {results.main_lr}.
- **Seeds**: a run's seed sets its initial weights and its batches (order, crops, flips). The main comparison uses
  seeds {listing(results.seeds)}; the sweeps use seed {results.first_seed} only.
- **Noise**: with {data['val']} validation images the standard error of an accuracy is at most
  {percent(results.standard_error())}, so differences below about {100 * noise(results):.1f} points are noise.
  "Learned" means a final validation accuracy of at least {percent(s['learned_accuracy'])} (chance is 50%)."""


def learning_rate_section(results, he_scale):
    lrs = results.settings["sweep_lrs"]
    runs = {bn: [results.run(bn, lr) for lr in lrs] for bn in (True, False)}
    rows = [[f"{lr:g}", percent(final_accuracy(bn_run)), results.status(bn_run), percent(final_accuracy(plain_run)),
             results.status(plain_run)] for lr, bn_run, plain_run in zip(lrs, runs[True], runs[False])]
    learned = {bn: [lr for lr, run in zip(lrs, runs[bn]) if results.learned(run)] for bn in (True, False)}
    diverged = {bn: [lr for lr, run in zip(lrs, runs[bn]) if run["diverged_at_step"]] for bn in (True, False)}
    top_bn, top_plain = max(learned[True], default=None), max(learned[False], default=None)

    if top_bn is None:
        verdict = "**Not supported**: BN learned at none of the learning rates tried."
    elif top_plain is None:
        verdict = f"**Supported, with a caveat**: BN learned at lr {listing(learned[True])}, no BN at none of them."
        if not diverged[False]:
            verdict += " But no BN did not diverge either: it stalled near chance at every rate"
            he_run = results.run(False, init_scale=he_scale) if he_scale else None
            verdict += (", and with He initialization it does learn (section 4): its obstacle at the default "
                        "initialization is a vanishing signal, not instability." if he_run and results.learned(he_run)
                        else ".")
    elif top_bn > top_plain:
        verdict = f"**Supported**: BN learned up to lr {top_bn:g}, no BN only up to {top_plain:g}."
    elif top_bn == top_plain:
        verdict = (f"**Not shown**: both learned up to lr {top_bn:g}"
                   + (", the largest rate tried." if top_bn == max(lrs) else "."))
    else:
        verdict = f"**Contradicted**: no BN learned up to lr {top_plain:g}, BN only up to {top_bn:g}."
    for bn, name in ((True, "BN"), (False, "No BN")):
        if diverged[bn]:
            verdict += f" {name} diverged at lr {listing(f'{lr:g}' for lr in diverged[bn])}."
    best = {bn: max(zip(lrs, runs[bn]), key=lambda pair: final_accuracy(pair[1]) or 0) for bn in (True, False)}
    best_line = (f"Best final validation accuracy: BN {percent(final_accuracy(best[True][1]))} at lr "
                 f"{best[True][0]:g}; no BN {percent(final_accuracy(best[False][1]))} at lr {best[False][0]:g}.")

    text = f"""## 1. Learning-rate sweep: does BN allow higher learning rates?

Seed {results.first_seed}, default initialization, {results.settings['epochs']} epochs at each peak learning rate. A run
*diverges* when its loss becomes NaN or infinite (it is stopped there).

{table(["peak lr", "BN: final val acc", "BN", "no BN: final val acc", "no BN"], rows)}

![learning-rate sweep](bn-study/lr_sweep.png)

{verdict} {best_line}"""
    return text, "Higher learning rates: " + verdict + " " + best_line


def convergence_section(results, he_scale):
    s = results.settings
    epochs = s["epochs"]
    main = {bn: results.main_runs(bn) for bn in (True, False)}
    he = {bn: results.run(bn, init_scale=he_scale) for bn in (True, False)} if he_scale else {}

    def at_epoch(run, e):
        return run["history"][e - 1]["val_accuracy"] if len(run["history"]) >= e else None

    header_row = ["epoch", f"BN ({len(results.seeds)} seeds)", f"no BN ({len(results.seeds)} seeds)"]
    if he:
        header_row += [f"BN, He init (seed {results.first_seed})", f"no BN, He init (seed {results.first_seed})"]
    rows = []
    for e in range(1, epochs + 1):
        row = [e, spread([at_epoch(run, e) for run in main[True]]), spread([at_epoch(run, e) for run in main[False]])]
        if he:
            row += [percent(at_epoch(he[True], e)), percent(at_epoch(he[False], e))]
        rows.append(row)

    def reached(runs, threshold):
        return ", ".join("—" if epochs_to_reach(run, threshold) is None else str(epochs_to_reach(run, threshold))
                         for run in runs)

    threshold_header = ["val accuracy ≥", "BN: epoch, per seed", "no BN: epoch, per seed"]
    if he:
        threshold_header += ["BN, He init", "no BN, He init"]
    threshold_rows = []
    for threshold in s["thresholds"]:
        row = [percent(threshold, 0), reached(main[True], threshold), reached(main[False], threshold)]
        if he:
            row += [reached([he[True]], threshold), reached([he[False]], threshold)]
        threshold_rows.append(row)

    lowest, highest = s["thresholds"][0], s["thresholds"][-1]
    first = {bn: [epochs_to_reach(run, lowest) for run in main[bn]] for bn in (True, False)}
    hits = {bn: [e for e in first[bn] if e is not None] for bn in (True, False)}
    n = len(results.seeds)
    if not hits[True]:
        verdict = f"**Not shown**: BN never reached {percent(lowest, 0)} within {epochs} epochs."
    elif not hits[False]:
        verdict = (f"**Supported at the default initialization**: BN reached {percent(lowest, 0)} in "
                   f"{len(hits[True])} of {n} seeds (after {np.mean(hits[True]):.1f} epochs on average in those); "
                   f"no BN in none within {epochs} epochs.")
    elif len(hits[True]) == len(hits[False]) == n:
        gap = np.mean(hits[False]) - np.mean(hits[True])
        judged = ("**Supported**" if gap >= 1 else "**Contradicted**" if gap <= -1
                  else "**Not shown** (within an epoch)")
        verdict = (f"{judged}: {percent(lowest, 0)} after {np.mean(hits[True]):.1f} epochs on average with BN, "
                   f"{np.mean(hits[False]):.1f} without.")
    else:
        verdict = (f"**Mixed**: {percent(lowest, 0)} was reached by {len(hits[True])} of {n} BN runs and "
                   f"{len(hits[False])} of {n} no-BN runs.")
    top = {bn: sum(epochs_to_reach(run, highest) is not None for run in main[bn]) for bn in (True, False)}
    if highest != lowest:
        if not top[True] and not top[False]:
            verdict += (f" No run reached {percent(highest, 0)}: this budget ({s['image_size']} px images, "
                        f"{results.raw['data']['train']} training images, {epochs} epochs) is too small for it, so the "
                        f"lower thresholds stand in.")
        else:
            verdict += (f" {percent(highest, 0)} was reached by {top[True]} of {n} BN runs and {top[False]} of {n} "
                        f"no-BN runs.")
    if he and he[False]["history"]:
        he_epoch = epochs_to_reach(he[False], lowest)
        verdict += (f" With He initialization (seed {results.first_seed}) no BN "
                    + (f"reached {percent(lowest, 0)} after {he_epoch} epochs" if he_epoch
                       else f"did not reach {percent(lowest, 0)}")
                    + f" and ended at {percent(final_accuracy(he[False]))} (BN with He init: "
                      f"{percent(final_accuracy(he[True]))})")
        default_epoch = first[False][0]
        if he_epoch is not None and (default_epoch is None or he_epoch < default_epoch):
            verdict += (": much of no BN's slowness at the default initialization comes from the initialization, "
                        "which BN compensates.")
        else:
            verdict += "."

    text = f"""## 2. Convergence: does BN speed up training?

Validation accuracy after each epoch at peak lr {results.main_lr}, default initialization; mean (min–max) over seeds
{listing(results.seeds)}. The He-init columns (seed {results.first_seed}) come from section 4.

{table(header_row, rows)}

Epochs until the validation accuracy first reaches a threshold ("—": not within {epochs} epochs):

{table(threshold_header, threshold_rows)}

![convergence](bn-study/convergence.png)

{verdict}"""
    return text, "Faster convergence: " + verdict


def generalization_section(results, he_scale):
    groups = [("BN, default init", results.main_runs(True)), ("no BN, default init", results.main_runs(False))]
    if he_scale:
        groups += [("BN, He init", [results.run(True, init_scale=he_scale)]),
                   ("no BN, He init", [results.run(False, init_scale=he_scale)])]
    rows, stats = [], {}
    for name, runs in groups:
        finished = [run for run in runs if final_accuracy(run) is not None]
        train = [run["train_eval_accuracy"] for run in finished]
        val = [final_accuracy(run) for run in finished]
        gaps = [a - b for a, b in zip(train, val)]
        seeds = listing(run["seed"] for run in finished)
        gap = "—" if not gaps else f"{100 * np.mean(gaps):+.1f} ({100 * min(gaps):+.1f} to {100 * max(gaps):+.1f})"
        rows.append([name, seeds or "—", spread(train), spread(val), gap])
        stats[name] = {"train": mean_or_none(train), "val": mean_or_none(val), "gap": mean_or_none(gaps),
                       "learned": bool(finished) and all(results.learned(run) for run in runs)}

    # A gap only measures overfitting between models that both fit the data: compare a pair where both learned.
    pair = None
    for init in ("default init", "He init"):
        a, b = stats.get(f"BN, {init}"), stats.get(f"no BN, {init}")
        if a and b and a["learned"] and b["learned"]:
            pair = (init, a, b)
            break
    if pair is None:
        verdict = "**Cannot be judged**: there is no pair of BN and no-BN runs that both learned."
    else:
        init, a, b = pair
        delta = a["gap"] - b["gap"]
        if delta <= -noise(results):
            verdict = f"**Supported** ({init}): BN's train-minus-validation gap is {100 * -delta:.1f} points smaller"
        elif delta >= noise(results):
            verdict = f"**Contradicted** ({init}): BN's gap is {100 * delta:.1f} points larger"
        else:
            verdict = (f"**Not shown** ({init}): the gaps are about the same ({100 * a['gap']:+.1f} vs "
                       f"{100 * b['gap']:+.1f} points)")
        verdict += (f"; BN minus no BN: validation accuracy {difference(a['val'], b['val'], results)}, training "
                    f"accuracy {difference(a['train'], b['train'], results)}.")
    plain = stats["no BN, default init"]
    if not plain["learned"] and plain["gap"] is not None:
        verdict += (f" At the default initialization no BN's gap ({100 * plain['gap']:+.1f} points) says nothing about "
                    f"generalization: it did not fit the training images either (training accuracy "
                    f"{percent(plain['train'])}).")

    text = f"""## 3. Generalization: does BN reduce overfitting?

Accuracy of each final model on its own training images, measured exactly like the validation accuracy (centre
crops, eval mode), against the validation accuracy; the gap is train minus validation, in points. Both models
train with the same weight decay and data augmentation.

{table(["model", "seeds", "train accuracy", "val accuracy", "gap (points)"], rows)}

{verdict}"""
    return text, "Less overfitting: " + verdict


def init_section(results):
    scales = sorted([1.0, *results.settings["init_scales"]])
    runs = {bn: [results.run(bn, init_scale=scale) for scale in scales] for bn in (True, False)}
    rows = [[scale_name(scale), percent(final_accuracy(bn_run)), results.status(bn_run),
             percent(final_accuracy(plain_run)), results.status(plain_run)]
            for scale, bn_run, plain_run in zip(scales, runs[True], runs[False])]
    learned = {bn: [scale for scale, run in zip(scales, runs[bn]) if results.learned(run)] for bn in (True, False)}

    def names(scale_list):
        return listing(scale_name(scale) for scale in scale_list)

    if len(learned[True]) == len(scales) and len(learned[False]) < len(scales):
        finals = [final_accuracy(run) for run in runs[True]]
        verdict = (f"**Supported**: BN learned at every scale (final accuracy {percent(min(finals))} to "
                   f"{percent(max(finals))}); no BN at {names(learned[False])}.")
    elif len(learned[True]) == len(learned[False]) == len(scales):
        ranges = {bn: np.ptp([final_accuracy(run) for run in runs[bn]]) for bn in (True, False)}
        verdict = ((f"**Supported**" if ranges[True] < ranges[False] - noise(results) else "**Not shown**")
                   + f": both learned at every scale; final accuracy varies by {100 * ranges[True]:.1f} points across "
                   f"scales with BN, {100 * ranges[False]:.1f} without.")
    elif len(learned[True]) > len(learned[False]):
        verdict = f"**Partly supported**: BN learned at {names(learned[True])}, no BN at {names(learned[False])}."
    else:
        verdict = (f"**Not supported**: BN learned at {names(learned[True])}, no BN at {names(learned[False])}.")
    default_bn = final_accuracy(results.run(True))
    for scale, run in zip(scales, runs[True]):
        accuracy = final_accuracy(run)
        if scale != 1 and accuracy is not None and default_bn is not None \
                and accuracy < default_bn - noise(results):
            verdict += (f" Still, BN at {scale_name(scale)} ends {100 * (default_bn - accuracy):.1f} points below BN "
                        f"at the default scale: BN makes each layer's output independent of the scale of its "
                        f"weights, but not the training dynamics (section 5).")

    text = f"""## 4. Initialization: does BN make the initial weights matter less?

Every conv and linear weight of the freshly initialized model multiplied by a factor (biases and BN parameters
untouched), seed {results.first_seed}, peak lr {results.main_lr}. PyTorch's default initialization draws conv weights
from U(−1/√fan_in, 1/√fan_in), whose variance is 1/6 of what keeps ReLU activations at a constant scale from
layer to layer (He initialization, a factor √6 on the weights). Without BN each layer then shrinks the signal by
about √6 ≈ 2.45; with BN the next normalization undoes any such factor.

{table(["init scale", "BN: final val acc", "BN", "no BN: final val acc", "no BN"], rows)}

![initialization](bn-study/init.png)

{verdict}"""
    return text, "Less dependence on the initialization: " + verdict


def sci(value):
    return "—" if value is None else f"{value:.2g}"


def relative_gradients(run):
    """Per layer: the median over the recorded steps of ||dL/dW|| / ||W|| (how far one SGD step moves a layer,
    relative to its size, per unit of learning rate)."""
    norms, weights = np.array(run["gradient_norms"]), np.array(run["weight_norms"])
    return list(np.median(norms / weights, axis=0)) if len(norms) else []


def gradient_section(results):
    steps = results.settings["gradient_steps"]
    runs = {bn: results.run(bn) for bn in (True, False)}
    layers = runs[True]["layers"]
    convs = [k for k, layer in enumerate(layers) if layer.startswith("conv")]
    relative = {bn: relative_gradients(runs[bn]) or [None] * len(layers) for bn in (True, False)}
    first_step = {bn: runs[bn]["gradient_norms"][0] if runs[bn]["gradient_norms"] else [None] * len(layers)
                  for bn in (True, False)}
    rows = [[layer, sci(first_step[True][k]), sci(first_step[False][k]), sci(relative[True][k]),
             sci(relative[False][k])] for k, layer in enumerate(layers)]

    scales = sorted([1.0, *results.settings["init_scales"]])
    scale_rows, largest_norm, conv_relative = [], {}, {}
    for scale in scales:
        for bn, name in ((True, "BN"), (False, "no BN")):
            run = results.run(bn, init_scale=scale)
            if not run["gradient_norms"]:  # diverged at the very first step
                scale_rows.append([scale_name(scale), name, "NaN/inf"] + ["—"] * 4)
                continue
            norms, weights = run["gradient_norms"][0], run["weight_norms"][0]
            ratios = [g / w for g, w in zip(norms, weights)]
            largest_norm[(bn, scale)] = max(norms)
            conv_relative[(bn, scale)] = float(np.median([ratios[k] for k in convs]))
            scale_rows.append([scale_name(scale), name, sci(run["first_losses"][0]), sci(norms[0]), sci(norms[-1]),
                               sci(conv_relative[(bn, scale)]), sci(ratios[-1])])

    verdicts = []
    # vanishing: the relative gradient shrinks from the last conv layer down to the first, and the first layer's
    # is far smaller than the same layer's in the BN model
    if None not in relative[True] + relative[False] and len(convs) > 1:
        first, last = convs[0], convs[-1]
        shrink = {bn: relative[bn][last] / relative[bn][first] for bn in (True, False)}
        deficit = relative[True][first] / relative[False][first]
        evidence = (f"the relative gradient of {layers[last]} divided by that of {layers[first]} is "
                    f"{shrink[False]:.2g} without BN and {shrink[True]:.2g} with BN, and {layers[first]}'s relative "
                    f"gradient is {deficit:.2g}x smaller without BN than with it")
        if shrink[False] > 3 * max(shrink[True], 1.0) or deficit > 10:
            verdicts.append(f"**Vanishing gradients: supported** at the default initialization: {evidence}; the "
                            f"early layers barely move.")
        else:
            verdicts.append(f"**Vanishing gradients: not seen** at the default initialization: {evidence}.")
    top = max(scales)
    if top > 1 and (False, top) in largest_norm and (True, top) in largest_norm:
        plain_run = results.run(False, init_scale=top)
        outcome = (f"that run diverged at step {plain_run['diverged_at_step']}" if plain_run["diverged_at_step"]
                   else f"that run ended at {percent(final_accuracy(plain_run))}")
        grown = largest_norm[(False, top)] / largest_norm[(True, top)]
        judged = "supported" if grown > 10 else "not seen"
        verdicts.append(f"**Exploding gradients at {scale_name(top)}: {judged}**: the largest first-step gradient norm "
                        f"is {sci(largest_norm[(False, top)])} without BN and {sci(largest_norm[(True, top)])} with "
                        f"BN ({grown:.2g}x); {outcome}.")
    bn_scales = [scale for scale in scales if (True, scale) in conv_relative]
    if len(bn_scales) >= 2:
        values = listing(f"{sci(conv_relative[(True, scale)])} at {scale_name(scale)}" for scale in bn_scales)
        low, high = bn_scales[0], bn_scales[-1]
        verdicts.append(f"BN does not make the scale of the weights irrelevant to training. A conv layer followed "
                        f"by BN gives the same output when its weights alone are multiplied by c, so its gradient is "
                        f"divided by c while the weights grow by c: relative to its size each step moves it 1/c² as "
                        f"much. Here every layer is scaled at once (the last, linear one too, which no BN follows), "
                        f"and at step 1 the median ‖g‖/‖W‖ of the BN model's conv layers is {values}: "
                        f"{conv_relative[(True, low)] / conv_relative[(True, high)]:.2g}x smaller at "
                        f"{scale_name(high)} than at {scale_name(low)}.")
    verdict = " ".join(verdicts)

    layer_header = ["layer", "BN: ‖g‖ at step 1", "no BN: ‖g‖ at step 1", f"BN: median ‖g‖/‖W‖, steps 1–{steps}",
                    f"no BN: median ‖g‖/‖W‖, steps 1–{steps}"]
    scale_header = ["init scale", "model", "loss", f"‖g‖ {layers[0]}", f"‖g‖ {layers[-1]}",
                    "‖g‖/‖W‖ convs (median)", f"‖g‖/‖W‖ {layers[-1]}"]
    text = f"""## 5. Gradient health: vanishing and exploding gradients

Gradient norms ‖dL/dW‖ of each layer's weights over the first {steps} steps (seed {results.first_seed}, peak lr
{results.main_lr}, default initialization). Raw norms are hard to compare across layers of different sizes, so the
table also gives ‖dL/dW‖ / ‖W‖: one SGD step changes a layer by lr times this, relative to its size.

{table(layer_header, rows)}

![gradient norms](bn-study/gradients.png)

At the first step, for each initialization scale (section 4): the loss, the gradient norms of the first and the last
layer, and the relative gradient ‖g‖/‖W‖ of the conv layers (median) and of the last layer:

{table(scale_header, scale_rows)}

{verdict}"""
    return text, "Gradient health: " + verdict


def batch_statistics_section(results):
    rows_by_seed = results.raw["batch_statistics"]
    if not rows_by_seed:
        return ("## 6. Evaluation with batch statistics vs running statistics\n\nNo BN model of the main comparison "
                "finished training.", "Test batches normalized with their own statistics: no trained BN model.")
    seeds = listing(rows_by_seed)
    cases = case_order(rows_by_seed)

    def accuracies(statistics, group, batch_size):
        return [row["accuracy"] for rows in rows_by_seed.values() for row in rows
                if (row["statistics"], row["group"], row["batch_size"]) == (statistics, group, batch_size)]

    def mean(statistics, group, batch_size):
        return float(np.mean(accuracies(statistics, group, batch_size)))

    counts = {row["group"]: row["n"] for row in next(iter(rows_by_seed.values()))}
    rows = [[f"{statistics} statistics" + (" (model.eval())" if statistics == "running" else " (the batch's own)"),
             f"{group} ({counts[group]} images)", size, spread(accuracies(statistics, group, size))]
            for statistics in ("running", "batch") for group, size in cases]
    sizes = results.settings["eval_batch_sizes"]
    largest, smallest = max(sizes), min(sizes)
    running = mean("running", "mixed", largest)
    one_class_groups = [group for group, _ in cases if group != "mixed"]
    running_by_size = [spread(accuracies("running", "mixed", size)) for size in sizes]
    same = len(set(running_by_size)) == 1
    lines = [f"- **Running statistics: " + ("the batch does not matter.** " if same else "nearly independent of the "
             "batch.** ") + f"Mixed batches of {listing(sizes)} give "
             + (f"{running_by_size[0]} each" if same else listing(running_by_size))
             + "; each image's output depends only on that image, because eval-mode BN is a fixed per-channel "
               "affine map" + ("." if same else " (float32 rounding, which depends on the batch's layout, can tip "
                                                "an image that sits on the decision boundary).")]
    large_mixed = mean("batch", "mixed", largest)
    line = (f"- **Batch statistics, mixed batches of {largest}: {percent(large_mixed)}**, "
            f"{difference(large_mixed, running, results)} against running statistics.")
    if abs(large_mixed - running) < noise(results):
        line += (f" A large mixed batch has statistics close to those of the training data, which is why the "
                 f"mistake often goes unnoticed.")
    lines.append(line)
    for size in sorted(sizes, reverse=True)[1:]:
        lines.append(f"- **Mixed batches of {size}: {percent(mean('batch', 'mixed', size))}**, "
                     f"{difference(mean('batch', 'mixed', size), running, results)}: the fewer the images, the "
                     f"noisier their mean and variance" + (
                         "; with a single image they are taken over that image's own pixels, channel by channel, "
                         "so every image is shifted and scaled to the same mean and variance in every layer, which "
                         "erases its overall brightness, colour and contrast." if size == 1 else "."))
    for group in one_class_groups:
        alone, together = mean("running", group, largest), mean("batch", group, largest)
        line = (f"- **{group.capitalize()}, batches of {largest}: {percent(together)}** on those images, against "
                f"{percent(alone)} for the same images with running statistics "
                f"({difference(together, alone, results)}).")
        if together < alone - noise(results):
            line += (" The batch mean is now the mean of one class, so after centring the typical image of that "
                     "class sits where the average animal sat in training, near the decision boundary.")
        lines.append(line)
    example = results.raw.get("example")
    example_text = ""
    if example:
        b, r = example["batch"], example["running"]
        example_text = (f"\n\nOne validation image (a {example['class']}), its predicted probability of being a "
                        f"{example['class']}: with running statistics {r['alone']:.3f} alone and {r['mixed']:.3f} in a "
                        f"batch of {example['batch_size']}; with batch statistics {b['alone']:.3f} alone, "
                        f"{b['mixed']:.3f} with {example['batch_size'] - 1} random companions, {b['same class']:.3f} "
                        f"with {example['batch_size'] - 1} other {example['class']}s and {b['other class']:.3f} with "
                        f"{example['batch_size'] - 1} animals of the other class.")
    # the largest loss against running statistics on the same images
    drop, (group, size) = max((mean("running", group, size) - mean("batch", group, size), (group, size))
                              for group, size in cases)
    worst = (f"{group}, batches of {size}: {percent(mean('batch', group, size))} with batch statistics against "
             f"{percent(mean('running', group, size))} with running statistics on the same images")
    if drop > noise(results):
        verdict = (f"**Normalizing test batches with their own statistics is wrong**: the predictions depend on the "
                   f"batch, and accuracy falls by up to {100 * drop:.1f} points ({worst}).")
    else:
        verdict = (f"**Batch statistics did no visible harm in this run** (worst case: {worst}), yet the predictions "
                   f"still depend on the batch.")

    text = f"""## 6. Evaluation with batch statistics vs running statistics

The trained BN models of the main comparison (seeds {seeds}), evaluated on the validation set two ways: with the
running statistics (`model.eval()`, what BN does) and with each test batch's own mean and variance (the tutorial
snippet `(x - x.mean(0)) / x.std(0)` applied inside every BN layer, i.e. BN's training-mode computation). "Mixed"
batches take the validation images in a seeded random order; one-class batches hold only cats or only dogs.
Mean (min–max) over the seeds.

{table(["normalized with", "batches", "batch size", "accuracy"], rows)}

![batch statistics](bn-study/batch_statistics.png)

{chr(10).join(lines)}{example_text}

{verdict} Why running statistics are the right thing, and what they are, is in
[batchnorm.md, section 6](batchnorm.md#6-running-statistics-what-eval-mode-uses)."""
    return text, "Test batches normalized with their own statistics: " + verdict


def limits_section(results):
    s, data = results.settings, results.raw["data"]
    best = max((final_accuracy(run) or 0 for run in results.runs), default=0)
    return f"""## What this study does not show

- One small setting: {s['image_size']}x{s['image_size']} images, {data['train']} training images, {s['epochs']} epochs,
  one narrow {sum(width != 'M' for width in s['widths'])}-layer architecture, SGD with a one-cycle schedule. The best
  final validation accuracy of any run is {percent(best)}: these are small, briefly trained models, and their absolute
  accuracies say nothing about what larger images, more data and longer training reach.
- The learning-rate sweep and the initialization study use one seed ({results.first_seed}); only the main comparison
  has {len(results.seeds)} seeds. Differences below about {100 * noise(results):.1f} points are within noise.
- "Learned" and "diverged" are coarse labels: a run that learns slowly and one that never learns differ only in how
  long one waits."""


def reproduce_section(results):
    raw = results.raw
    return f"""## Reproduce

    {raw['command']}

The runs are seeded (weights, subset, split, batches), so the same command on the same machine gives the same
numbers; another CPU or BLAS library can change the last digits, and with them a few predictions. `--quick` runs
a tiny version of every experiment in about a minute (the test suite runs it), writing to a temporary folder."""


# ---------------------------------------------------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------------------------------------------------
def markdown(results_dict):
    """The text of bn-study.md."""
    results = Results(results_dict)
    he_scale = results.he_scale
    sections = [learning_rate_section(results, he_scale), convergence_section(results, he_scale),
                generalization_section(results, he_scale), init_section(results), gradient_section(results),
                batch_statistics_section(results)]
    conclusions = "## Conclusions\n\n" + "\n".join(f"- {verdict}" for _, verdict in sections)
    return "\n\n".join([header(results, results_dict), *(section for section, _ in sections), conclusions,
                         limits_section(results), reproduce_section(results)]) + "\n"
