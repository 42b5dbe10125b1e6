"""What does BatchNorm really do? Train the cats-vs-dogs CNN with and without it, and measure.

    python -m models.bn_study              # the full study -> docs/bn-study.md and docs/bn-study/*.png
    python -m models.bn_study --quick      # a tiny version for CI (seconds), written to a temporary folder

Popular explanations say that BN (1) stabilizes training and allows higher learning rates, (2) speeds up
convergence and makes the initialization matter less, (3) reduces overfitting; and tutorials normalize test data
with the test batch's own statistics. Each claim gets an experiment; every run of a comparison uses the same data,
the same seeds and the same number of steps, and differs only in what is compared:

    main comparison     BN vs no BN at one learning rate, several seeds    -> convergence, train-vs-val gap
    learning-rate sweep BN vs no BN at each learning rate (first seed)     -> does it diverge?
    initialization      conv/linear weights scaled 0.1x, √6x (He), 10x    -> does the init still matter?
    gradient health     per-layer gradient norms over the first steps     -> vanishing / exploding gradients?
    batch statistics    the trained BN models evaluated with the test batch's own statistics vs the running ones

The recipe is the one of models/training.py (SGD with Nesterov momentum and weight decay, one-cycle learning rate)
written out here as a plain loop, so that each step can be watched. The data are loaded once: one seeded, class
balanced subset with one fixed validation split for every run; a run's seed decides its initial weights and its
batches (order, crops, flips). The results go to bn-study/results.json and the report is written from them by
models/bn_study_report.py.

Cost: the full study trains 18 models; on a 2-core CPU with nothing else running a 12-epoch run takes 30 s (no BN)
to 40 s (BN), about 11 minutes in all. Other jobs on the same cores can make it two or three times slower.
"""
import argparse
import json
import math
import os
import platform
import shlex
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path

import numpy as np

import tinygrad_bn as tg
import tinygrad_bn.nn as nn
import tinygrad_bn.nn.functional as F
import tinygrad_bn.optim as optim
from .bn_study_plots import draw_plots
from .bn_study_report import markdown
from .catsdogs_net import CatsDogsNet, scale_initial_weights
from .reports import evaluate_model
from .training import MOMENTUM, WEIGHT_DECAY
from .images import cache_size, channel_stats, image_loader, load_dataset, resolve_data_dir, train_val_split

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class StudySettings:
    """Everything that defines the study. FULL takes about 11 minutes on an idle 2-core CPU (see Cost above)."""
    image_size: int = 32  # network input in pixels (random crops of 36 px cached images)
    limit: int = 4000  # class-balanced subset of the images
    val_fraction: float = 0.2  # 800 of the 4000 held out, the same 800 in every run
    widths: tuple = (8, 8, "M", 16, 16, "M", 32, 32, "M", 64)  # 7 conv layers: deep enough for gradients to vanish
    epochs: int = 12
    batch_size: int = 64
    main_lr: float = 0.05  # peak of the one-cycle schedule in the main comparison
    sweep_lrs: tuple = (0.01, 0.05, 0.2, 0.5)
    seeds: tuple = (0, 1, 2)
    # multipliers of the default (PyTorch) init of every conv/linear weight; sqrt(6) turns it into He init, the
    # scale that keeps the variance of ReLU activations constant from layer to layer
    init_scales: tuple = (0.1, math.sqrt(6), 10.0)
    gradient_steps: int = 50  # record per-layer gradient norms over this many first steps
    eval_batch_sizes: tuple = (1, 8, 64)
    thresholds: tuple = (0.7, 0.75, 0.8)  # "epochs to reach" these validation accuracies
    learned_accuracy: float = 0.6  # a run that ends below this has not learned (chance is 0.5)
    data_seed: int = 0  # the subset and the validation split


FULL = StudySettings()
QUICK = replace(FULL, limit=800, val_fraction=0.25, widths=(8, "M", 16, "M", 32), epochs=3, sweep_lrs=(0.05, 0.5),
                seeds=(0, 1), gradient_steps=5, thresholds=(0.6,))


# ---------------------------------------------------------------------------------------------------------------------
# data: loaded once, shared by every run
# ---------------------------------------------------------------------------------------------------------------------
@dataclass
class StudyData:
    images: np.ndarray  # (N, S, S, 3) uint8, S = cache_size(image_size)
    labels: np.ndarray  # (N,) int64
    classes: list
    train_idx: np.ndarray
    val_idx: np.ndarray
    mean: np.ndarray  # per-channel statistics of the training images: the input normalization
    std: np.ndarray
    image_size: int
    root: str

    def loader(self, indices, batch_size, train=False, seed=0):
        """Training: shuffled, random crops and flips drawn from `seed`. Otherwise: centre crops, in the given order."""
        return image_loader(self.images, self.labels, batch_size, indices=indices, image_size=self.image_size,
                            mean=self.mean, std=self.std, shuffle=train, augment=train, drop_last=train, seed=seed)


def load_study_data(settings, data_dir=None):
    root = Path(resolve_data_dir(data_dir)).resolve()
    dataset = load_dataset(root, size=cache_size(settings.image_size), limit=settings.limit, seed=settings.data_seed)
    # Every run reads every image once per epoch: a copy in memory beats paging the memory-mapped cache.
    images = np.ascontiguousarray(dataset.images)
    train_idx, val_idx = train_val_split(dataset.labels, settings.val_fraction, settings.data_seed)
    mean, std = channel_stats(images, train_idx)
    return StudyData(images, dataset.labels, dataset.classes, train_idx, val_idx, mean, std, settings.image_size,
                     str(root))


# ---------------------------------------------------------------------------------------------------------------------
# one training run
# ---------------------------------------------------------------------------------------------------------------------
@dataclass
class RunResult:
    bn: bool
    lr: float
    seed: int
    init_scale: float
    history: list = field(default_factory=list)  # per epoch: train_loss, train_accuracy, val_loss, val_accuracy
    layers: list = field(default_factory=list)  # names of the weight layers, input to output
    # over the first settings.gradient_steps steps: the loss, and per layer ||dL/dW|| and ||W|| (before the update)
    first_losses: list = field(default_factory=list)
    gradient_norms: list = field(default_factory=list)
    weight_norms: list = field(default_factory=list)
    diverged_at_step: int = None  # the step whose loss was NaN or infinite: training stopped there
    seconds: float = 0.0
    train_eval_accuracy: float = None  # the final model on its training images, measured like validation

    def final_val_accuracy(self):
        return None if self.diverged_at_step or not self.history else self.history[-1]["val_accuracy"]

    def describe(self):
        outcome = (f"diverged at step {self.diverged_at_step}" if self.diverged_at_step
                   else f"val accuracy {self.final_val_accuracy():.3f}")
        model = "BN   " if self.bn else "no BN"
        return (f"{model} peak lr {self.lr:g}, seed {self.seed}, init x{self.init_scale:.3g}: {outcome} "
                f"({self.seconds:.0f} s)")

    def summary(self):
        """A JSON-able dict of everything but the model."""
        return asdict(self)


def weight_layers(model):
    """[(name, weight)] of every conv and linear layer, input to output: conv1, conv2, ..., fc."""
    layers = []
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            layers.append((f"conv{len(layers) + 1}", module.weight))
        elif isinstance(module, nn.Linear):
            layers.append(("fc", module.weight))
    return layers


def norm(array):
    """The L2 norm, in float64: the squares of a float32 gradient of 1e20 (an exploding run) overflow float32."""
    return float(np.linalg.norm(np.asarray(array, dtype=np.float64)))


def train_run(data, settings, bn, lr, seed, init_scale=1.0):
    """Train one CatsDogsNet; return (RunResult, model). Stops early, marked diverged, if the loss is not finite."""
    start = time.perf_counter()
    tg.manual_seed(seed)
    model = CatsDogsNet(bn=bn, widths=settings.widths, num_classes=len(data.classes))
    scale_initial_weights(model, init_scale)
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=MOMENTUM, nesterov=True, weight_decay=WEIGHT_DECAY)
    train_loader = data.loader(data.train_idx, settings.batch_size, train=True, seed=seed)
    val_loader = data.loader(data.val_idx, 2 * settings.batch_size)
    scheduler = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=settings.epochs * len(train_loader))
    layers = weight_layers(model)
    weights = [weight for _, weight in layers]
    run = RunResult(bn, lr, seed, init_scale, layers=[name for name, _ in layers])

    step = 0
    for epoch in range(settings.epochs):
        model.train()
        loss_sum = correct = seen = 0
        # A diverging run overflows on purpose: NumPy's warnings would only repeat what the NaN loss reports.
        with np.errstate(over="ignore", invalid="ignore"):
            for images, labels in train_loader:
                step += 1
                optimizer.zero_grad()
                logits = model(images)
                loss = F.cross_entropy(logits, labels)
                loss_value = loss.item()
                if not math.isfinite(loss_value):
                    run.diverged_at_step = step
                    break
                loss.backward()
                if step <= settings.gradient_steps:
                    run.first_losses.append(loss_value)
                    run.gradient_norms.append([norm(weight.grad.numpy()) for weight in weights])
                    run.weight_norms.append([norm(weight.numpy()) for weight in weights])
                optimizer.step()
                scheduler.step()
                loss_sum += loss_value * len(labels.array)
                correct += int((logits.argmax(dim=1).array == labels.array).sum())
                seen += len(labels.array)
        if run.diverged_at_step:
            break
        val = evaluate_model(model, val_loader, data.classes, progress_bar=False)
        run.history.append({"epoch": epoch + 1, "train_loss": loss_sum / seen, "train_accuracy": correct / seen,
                            "val_loss": val["loss"], "val_accuracy": val["accuracy"]})

    if not run.diverged_at_step:
        run.train_eval_accuracy = train_set_accuracy(model, data, settings)
    run.seconds = time.perf_counter() - start
    return run, model


# ---------------------------------------------------------------------------------------------------------------------
# evaluating a trained BN model with the test batch's own statistics
# ---------------------------------------------------------------------------------------------------------------------
def forward_with_batch_statistics(model, images):
    """The trained model, except that every BatchNorm normalizes with the mean and variance of `images` itself.

    That is the tutorial snippet `(x - x.mean(0)) / x.std(0)` applied to test data: BN's training-mode computation,
    here without touching the running statistics (none are passed, so none are updated).
    """
    x = images
    for layer in model.features:
        if isinstance(layer, nn.BatchNorm2d):
            x = F.batch_norm(x, None, None, layer.weight, layer.bias, training=True, eps=layer.eps)
        else:
            x = layer(x)
    return model.classifier(x)


def probabilities(model, data, indices, batch_size, batch_statistics):
    """(len(indices), classes) softmax outputs, the images going through the model in batches of `batch_size`, in
    the order of `indices` (so the order decides which images share a batch)."""
    model.eval()
    outputs = []
    with tg.no_grad():
        for images, _ in data.loader(indices, batch_size):
            logits = forward_with_batch_statistics(model, images) if batch_statistics else model(images)
            outputs.append(logits.softmax(dim=1).numpy())
    return np.concatenate(outputs)


def batch_statistics_study(model, data, settings):
    """Validation accuracy of one trained BN model, normalized with running vs batch statistics.

    "mixed" batches take the validation images in a seeded random order (cats and dogs together, as a test set
    usually comes); "cats only" / "dogs only" batches hold the images of one class.
    """
    order = np.random.default_rng(settings.data_seed).permutation(data.val_idx)
    groups = {"mixed": order}
    for k, name in enumerate(data.classes):
        groups[f"{name}s only"] = order[data.labels[order] == k]
    largest = max(settings.eval_batch_sizes)
    rows = []
    for batch_statistics in (False, True):
        for group, indices in groups.items():
            for batch_size in settings.eval_batch_sizes if group == "mixed" else (largest,):
                predicted = probabilities(model, data, indices, batch_size, batch_statistics).argmax(axis=1)
                rows.append({"statistics": "batch" if batch_statistics else "running", "group": group,
                             "batch_size": batch_size, "n": len(indices),
                             "accuracy": float((predicted == data.labels[indices]).mean())})
    return rows


def one_image_in_company(model, data, settings):
    """P(true class) of one validation image, alone and in batches of `largest` with different companions."""
    largest = max(settings.eval_batch_sizes)
    rng = np.random.default_rng(settings.data_seed)
    first = data.val_idx[0]
    label = data.labels[first]
    others = data.val_idx[1:]
    same = rng.permutation(others[data.labels[others] == label])[:largest - 1]
    other = rng.permutation(others[data.labels[others] != label])[:largest - 1]
    mixed = rng.permutation(others)[:largest - 1]

    def p_true(companions, batch_statistics):
        indices = np.concatenate([[first], companions]).astype(np.int64)
        return float(probabilities(model, data, indices, len(indices), batch_statistics)[0, label])

    none = np.array([], dtype=np.int64)
    return {"class": data.classes[label], "batch_size": largest,
            "running": {"alone": p_true(none, False), "mixed": p_true(mixed, False)},
            "batch": {"alone": p_true(none, True), "mixed": p_true(mixed, True), "same class": p_true(same, True),
                      "other class": p_true(other, True)}}


def train_set_accuracy(model, data, settings):
    """Accuracy of the final model on its own training images, measured like validation (centre crops, eval mode):
    the train side of the generalization gap."""
    return evaluate_model(model, data.loader(data.train_idx, 2 * settings.batch_size), data.classes,
                          progress_bar=False)["accuracy"]


# ---------------------------------------------------------------------------------------------------------------------
# the study
# ---------------------------------------------------------------------------------------------------------------------
def planned_runs(settings):
    """(bn, lr, seed, init_scale) of every training run, in the order they run. A run that two experiments share
    (the main comparison's first seed is also a point of the learning-rate sweep) is trained once."""
    first_seed = settings.seeds[0]
    main = [(bn, settings.main_lr, seed, 1.0) for seed in settings.seeds for bn in (True, False)]
    sweep = [(bn, lr, first_seed, 1.0) for lr in settings.sweep_lrs for bn in (True, False)]
    init = [(bn, settings.main_lr, first_seed, scale) for scale in settings.init_scales for bn in (True, False)]
    return list(dict.fromkeys(main + sweep + init))


def run_study(settings, data, log=print):
    """Train every planned run, evaluate, and return the results as a JSON-able dict."""
    plan = planned_runs(settings)
    runs, bn_models = [], {}
    start = time.perf_counter()
    for number, (bn, lr, seed, init_scale) in enumerate(plan, 1):
        run, model = train_run(data, settings, bn, lr, seed, init_scale)
        runs.append(run)
        log(f"[{number}/{len(plan)}, {(time.perf_counter() - start) / 60:.1f} min] {run.describe()}")
        # the BN models of the main comparison are evaluated again below, with batch statistics
        if bn and lr == settings.main_lr and init_scale == 1.0 and not run.diverged_at_step:
            bn_models[seed] = model

    log("evaluating the BN models of the main comparison with batch statistics vs running statistics")
    batch_statistics = {seed: batch_statistics_study(model, data, settings) for seed, model in bn_models.items()}
    first_seed = settings.seeds[0]
    example = one_image_in_company(bn_models[first_seed], data, settings) if first_seed in bn_models else None
    return {"runs": [run.summary() for run in runs],
            "batch_statistics": {str(seed): rows for seed, rows in batch_statistics.items()},
            "example": example,
            "data": {"root": data.root, "classes": data.classes, "images": len(data.labels),
                     "per_class": np.bincount(data.labels).tolist(), "train": len(data.train_idx),
                     "val": len(data.val_idx), "val_per_class": np.bincount(data.labels[data.val_idx]).tolist(),
                     "steps_per_epoch": len(data.train_idx) // settings.batch_size}}


# ---------------------------------------------------------------------------------------------------------------------
# the report and the command line
# ---------------------------------------------------------------------------------------------------------------------
def write_report(results, out):
    """out/bn-study.md, and in out/bn-study/ its plots and results.json; returns the path of the markdown."""
    out = Path(out)
    folder = out / "bn-study"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(rounded(results)))
    draw_plots(results, folder)
    path = out / "bn-study.md"
    path.write_text(markdown(results), encoding="utf-8")
    return path


def rounded(value):
    """`value` with every float rounded to 5 significant digits: results.json stays small enough to commit."""
    if isinstance(value, float):
        return float(f"{value:.5g}")
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(item) for item in value]
    return value


def output_folder(out, quick):
    """Where the report goes; None: a new temporary folder, made once there is something to write. Quick runs never
    write into the repository's docs/ (they would replace the study's report)."""
    if out is None:
        return None if quick else REPO / "docs"
    out = Path(out).resolve()
    if quick and out == (REPO / "docs").resolve():
        raise SystemExit("bn_study: --quick does not write into docs/ (it would replace the full study's report); "
                         "pass another --out, or none for a temporary folder")
    return out


def machine_description():
    load = " / ".join(f"{value:.1f}" for value in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "numpy": np.__version__, "load_average": load}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else [str(arg) for arg in argv]
    parser = argparse.ArgumentParser(prog="python -m models.bn_study", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tiny version for CI (seconds)")
    parser.add_argument("--data", help="image folder (default: $TINYGRAD_BN_DATA, else data/dogs-vs-cats)")
    parser.add_argument("--out", help="folder for bn-study.md and bn-study/ (default: docs, or a temporary folder "
                                      "with --quick)")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    out = output_folder(args.out, args.quick)
    started = datetime.now().astimezone()
    machine = machine_description()
    start = time.perf_counter()
    try:
        data = load_study_data(settings, args.data)
    except (OSError, ValueError) as error:  # no such folder, no images, one class only: the message says which
        print(f"bn_study: error: {error}", file=sys.stderr)
        return 2
    out = out or Path(tempfile.mkdtemp(prefix="bn-study-quick-"))
    print(f"BN study ({'quick' if args.quick else 'full'}), writing to {out}", flush=True)
    results = run_study(settings, data, log=lambda line: print(line, flush=True))
    results.update(settings=asdict(settings), quick=args.quick, machine=machine,
                   command=shlex.join(["python", "-m", "models.bn_study", *argv]),
                   date=started.strftime("%Y-%m-%d %H:%M %Z"), wall_seconds=time.perf_counter() - start)
    report = write_report(results, out)
    print(f"wrote {report} ({results['wall_seconds'] / 60:.1f} minutes)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
