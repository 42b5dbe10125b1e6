"""One training run of a Cell, with its measurements, and the cache of finished runs.

    data = load_study_data(cell, "../shared/data/dogs-vs-cats/train")
    result = train_cell(cell, data, device="cpu")          # a JSON-able dict
    store = RunStore("docs/bn-study/runs"); store.save(cell, result)

The loop is the default recipe's step (models/training.py: the same optimizer, schedule, momentum cycle, progressive
resizing and loader), written out so that each step can be watched: validation a few times per epoch, the
covariate-shift and smoothness probes of measures.py at chosen steps, and a stop at the first non-finite loss
("diverged"). The time recorded for a run counts the training steps only (not the evaluations or the probes), so
that time-to-accuracy compares like with like.
"""
import json
import math
import os
import platform
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path

import numpy as np

import tinygrad_bn as tg
import tinygrad_bn.nn.functional as F
from tinygrad_bn import nn, optim

from ..images import (
    cache_size,
    channel_stats,
    image_loader,
    load_dataset,
    resolve_data_dir,
    train_val_split,
)
from ..images.cache import _process_alive as process_alive
from ..reports import evaluate_model
from ..training import MOMENTUM, MOMENTUM_DIP, train_size
from .cells import STUDY_VERSION, TRAIN_SUBSET
from .measures import (
    batch_statistics_noise,
    forward_with_batch_statistics,
    internal_covariate_shift,
    mean_bn_scale,
    normalization_output_moments,
    per_image_channel_moments,
    smoothness_along_gradient,
)
from .nets import NOISY_NORMS, study_net

SMOOTHNESS_STEPS = (0.5, 1.0, 2.0, 4.0, 8.0)  # step sizes along the gradient, in units of the cell's peak lr
EVAL_BATCH_SIZES = (1, 8, 64)  # evaluation with batch statistics
NOISE_BATCH_SIZES = (2, 4, 8, 16, 32, 64, 128)
NOISE_IMAGES = 512  # validation images whose BN-input moments give the noise of batch statistics


# ---------------------------------------------------------------------------------------------------------------------
# data: loaded once per (subset, image size, split), shared by every run that uses it
# ---------------------------------------------------------------------------------------------------------------------
@dataclass
class StudyData:
    images: np.ndarray  # (N, S, S, 3) uint8, in memory
    labels: np.ndarray  # (N,) int64
    classes: list
    train_idx: np.ndarray
    val_idx: np.ndarray
    train_eval_idx: np.ndarray  # a fixed sample of the training images, evaluated like validation
    mean: np.ndarray  # per-channel statistics of the training images: the input normalization
    std: np.ndarray
    root: str


_loaded = {}


def load_study_data(cell, data_dir=None):
    """The images a cell trains and validates on (cached in memory across the cells that share them)."""
    root = str(Path(resolve_data_dir(data_dir)).resolve())
    key = (root, cell.limit, cell.image_size, cell.val_fraction, cell.data_seed, cell.grayscale)
    if key not in _loaded:
        _loaded.clear()  # one data set in memory at a time: the full one is 300 MB
        dataset = load_dataset(root, size=cache_size(cell.image_size), limit=cell.limit, seed=cell.data_seed)
        # every run reads every image each epoch: a copy in memory beats paging the memory-mapped cache
        images = np.ascontiguousarray(dataset.images)
        train_idx, val_idx = train_val_split(dataset.labels, cell.val_fraction, cell.data_seed)
        rng = np.random.default_rng(cell.data_seed)
        train_eval_idx = np.sort(rng.choice(train_idx, min(TRAIN_SUBSET, len(train_idx)), replace=False))
        # the input normalization of the color images, also for their gray version: the normalization belongs to
        # the (pretrained) model, so that the gray images are the shifted input distribution fine-tuning faces
        mean, std = channel_stats(images, train_idx)
        if cell.grayscale:
            images = grayscale(images)
        _loaded[key] = StudyData(images, dataset.labels, dataset.classes, train_idx, val_idx, train_eval_idx, mean,
                                 std, root)
    return _loaded[key]


def grayscale(images):
    """uint8 (N, H, W, 3) color images as gray ones: the luma Y = 0.299 R + 0.587 G + 0.114 B in all three channels
    (ITU-R BT.601, what Pillow's convert("L") computes)."""
    luma = images @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    gray = np.clip(np.rint(luma), 0, 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=-1)


def training_indices(data, cell):
    """The images a cell trains on: all the training images, or (train_subset) a sample of them drawn with
    data_seed, the same for every seed."""
    if not cell.train_subset or cell.train_subset >= len(data.train_idx):
        return data.train_idx
    rng = np.random.default_rng([cell.data_seed, cell.train_subset])
    return np.sort(rng.choice(data.train_idx, cell.train_subset, replace=False))


def set_training_mode(model, cell):
    """model.train(), except that fine-tuning with frozen statistics keeps every BatchNorm in eval mode: it
    normalizes with the pretrained running statistics and leaves them as they are (its weight and bias still
    learn)."""
    model.train()
    if cell.finetune == "frozen":
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eval()
    return model


def eval_loader(data, cell, indices, device, batch_size=128):
    """Centre crops of `indices`, in their order."""
    return image_loader(data.images, data.labels, batch_size, indices=indices, image_size=cell.image_size,
                        mean=data.mean, std=data.std, device=device)


# ---------------------------------------------------------------------------------------------------------------------
# one run
# ---------------------------------------------------------------------------------------------------------------------
def new_model(cell, num_classes=2):
    return study_net(cell.norm, widths=cell.widths, norm_position=cell.norm_position, conv_bias=cell.conv_bias,
                     init=cell.init, init_scale=cell.init_scale, bn_momentum=cell.bn_momentum,
                     num_classes=num_classes)


def measurement_twin(model, cell, device):
    """A model of the same architecture to measure on (each probe loads the model's weights into it), with plain BN
    in place of noisy BN: a measurement compares gradients on one batch, which noise drawn anew at every pass would
    blur."""
    twin = new_model(replace(cell, norm="bn" if cell.norm in NOISY_NORMS else cell.norm),
                     num_classes=model.classifier[-1].out_features).to(device)
    return twin.train()


def probe_steps(cell, total_steps):
    """The steps (1-based) after which the probes measure: `cell.probes` of them, evenly spaced, first and last
    included."""
    if cell.probes <= 0:
        return set()
    return {round(step) for step in np.linspace(1, total_steps, cell.probes)}


def eval_steps(cell, steps_per_epoch):
    """The steps (1-based, within an epoch) after which to evaluate: evals_per_epoch of them, the last one last."""
    return {round(steps_per_epoch * k / cell.evals_per_epoch) for k in range(1, cell.evals_per_epoch + 1)}


def train_cell(cell, data, device="cpu", log=print, label="", pretrained=None):
    """Train one model as `cell` says and measure it; return (the JSON-able result, the model).

    pretrained: the state_dict to start from (fine-tuning cells), instead of the seeded initialization."""
    started = time.perf_counter()
    tg.manual_seed(cell.seed)
    classes = len(data.classes)
    model = new_model(cell, classes)
    if cell.finetune:
        if pretrained is None:
            raise ValueError(f"a fine-tuning cell ({cell.finetune}) needs the pretrained weights")
        model.load_state_dict(pretrained)
    model.to(device)
    optimizer = optim.SGD(model.parameters(), lr=cell.lr, momentum=MOMENTUM, nesterov=True,
                          weight_decay=cell.weight_decay)
    loader = image_loader(data.images, data.labels, cell.batch_size, indices=training_indices(data, cell),
                          image_size=cell.image_size, mean=data.mean, std=data.std, shuffle=True, augment=cell.augment,
                          drop_last=True, seed=cell.seed, device=device)
    steps_per_epoch = len(loader)
    total_steps = cell.epochs * steps_per_epoch
    scheduler = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cell.lr, total_steps=total_steps,
                                              max_momentum=MOMENTUM, base_momentum=MOMENTUM - MOMENTUM_DIP)
    val_loader = eval_loader(data, cell, data.val_idx, device)
    train_eval_loader = eval_loader(data, cell, data.train_eval_idx, device)
    probes_at, evals_at = probe_steps(cell, total_steps), eval_steps(cell, steps_per_epoch)
    names = [name for name, _ in model.named_parameters()]
    initial_biases = conv_bias_norms(model)
    # the probes and the recalibrated evaluations use a copy (built once, here: building draws initial weights from
    # the seeded generator)
    twin = measurement_twin(model, cell, device) if probes_at or cell.recalibrate else None
    recalibration_loader = (image_loader(data.images, data.labels, cell.batch_size, indices=training_indices(data, cell),
                                         image_size=cell.image_size, mean=data.mean, std=data.std, shuffle=True,
                                         augment=cell.augment, drop_last=True, seed=cell.seed + 1, device=device)
                            if cell.recalibrate else None)

    history, probes, first_gradients = [], [], None
    diverged_at = None
    train_seconds = 0.0
    step = 0
    loss_sum = correct = seen = 0
    if cell.finetune:  # where fine-tuning starts: the pretrained model on the new images
        row = evaluate_point(model, val_loader, train_eval_loader, data.classes)
        history.append({**row, "epoch": 0, "step": 0, "images_seen": 0, "train_seconds": 0.0})
    for epoch in range(cell.epochs):
        set_training_mode(model, cell)
        loader.batch_sampler.set_epoch(epoch)
        loader.dataset.resize_to = train_size(cell, epoch)
        if recalibration_loader is not None:
            recalibration_loader.dataset.resize_to = loader.dataset.resize_to
        epoch_start = time.perf_counter()
        batches = iter(loader)
        # a diverging run overflows on purpose: NumPy's warnings would only repeat what the NaN loss reports
        with np.errstate(over="ignore", invalid="ignore"):
            for images, labels in batches:
                tick = time.perf_counter()
                step += 1
                optimizer.zero_grad()
                logits = model(images)
                loss = F.cross_entropy(logits, labels)
                loss_value = loss.item()
                if not math.isfinite(loss_value):
                    diverged_at = step
                    break
                loss.backward()
                if step == 1:
                    first_gradients = gradient_norms(model, names)
                probing = step in probes_at
                weights_before = [param.array.copy() for param in model.parameters()] if probing else None
                optimizer.step()
                scheduler.step()
                loss_sum += loss_value * len(labels.array)
                correct += int((logits.argmax(dim=1).array == labels.array).sum())
                seen += len(labels.array)
                train_seconds += time.perf_counter() - tick
                if probing:
                    probes.append(probe(model, twin, cell, weights_before, images, labels, step, loss_value))
                in_epoch = step - epoch * steps_per_epoch
                if in_epoch in evals_at:
                    # the training sample too, except where only the end's is needed (cell.train_eval "last")
                    last = step == total_steps
                    train_sample = train_eval_loader if cell.train_eval == "every" or last else None
                    if not finite_state(model):  # a running variance can overflow while the loss stays finite
                        diverged_at = step
                        break
                    row = evaluate_point(model, val_loader, train_sample, data.classes)
                    if cell.recalibrate:
                        recalibrate_statistics(twin, model, recalibration_loader, len(history))
                        row["recalibrated"] = evaluate_point(twin, val_loader, train_sample, data.classes)
                    row.update(epoch=epoch + in_epoch / steps_per_epoch, step=step, images_seen=step * cell.batch_size,
                               train_seconds=train_seconds, train_loss=loss_sum / seen, train_accuracy=correct / seen,
                               lr=optimizer.param_groups[0]["lr"], image_size=loader.dataset.resize_to)
                    history.append(row)
                    if in_epoch != steps_per_epoch:  # within the epoch: a shorter line (the epoch's comes below)
                        log(f"{label} epoch {row['epoch']:.2f}: val acc {row['val_accuracy']:.4f}, "
                            f"{train_seconds / 60:.1f} min of training steps so far")
                    loss_sum = correct = seen = 0
                    set_training_mode(model, cell)
        batches.close()
        if diverged_at:
            log(f"{label} diverged at step {diverged_at} (loss {loss_value})")
            break
        last = history[-1]
        epoch_seconds = time.perf_counter() - epoch_start
        rate = steps_per_epoch * cell.batch_size / max(epoch_seconds, 1e-9)
        left = (cell.epochs - epoch - 1) * epoch_seconds / 60
        log(f"{label} epoch {epoch + 1}/{cell.epochs} at {loader.dataset.resize_to} px: train loss "
            f"{last['train_loss']:.4f} | val acc {last['val_accuracy']:.4f} loss {last['val_loss']:.4f} | "
            f"{rate:.0f} img/s with evaluations and probes | this run ends in about {left:.0f} min")

    result = {"cell": asdict(cell), "key": cell.key(), "study_version": STUDY_VERSION, "history": history,
              "diverged_at_step": diverged_at, "steps_per_epoch": steps_per_epoch,
              "first_step_gradient_norms": first_gradients, "probes": probes,
              "conv_bias_norms": {"initial": initial_biases, "final": conv_bias_norms(model)}}
    if cell.extras and not diverged_at and cell.norm in ("bn", *NOISY_NORMS):
        result["extras"] = batch_norm_extras(model, data, cell, device)
    if not diverged_at and cell.norm in ("bn", *NOISY_NORMS):
        result["bn_gamma_mean"] = mean_bn_scale(model.state_dict())
    result.update(train_seconds=train_seconds, seconds=time.perf_counter() - started, device=device,
                  machine=machine_description(), finished=datetime.now().astimezone().isoformat(timespec="seconds"),
                  data={"root": data.root, "images": len(data.labels), "train": len(data.train_idx),
                        "val": len(data.val_idx), "train_eval": len(data.train_eval_idx),
                        "trained_on": len(training_indices(data, cell))})
    return result, model


RECALIBRATION_BATCHES = 30


def recalibrate_statistics(twin, model, loader, epoch, batches=RECALIBRATION_BATCHES):
    """Load `model` into `twin` (plain BN) and measure its BN layers' running statistics anew, without noise: the
    cumulative average (momentum None) over `batches` training batches (the same crops and sizes training sees)
    in training mode, without gradients. Then twin is in eval mode, ready to evaluate.

    Why a noisy-BN net needs it: in training, each BN layer after the first collects its running statistics from
    inputs that carry the noise of the layers before it; in eval the noise is off, so those statistics no longer
    fit the inputs (the "variance shift" of dropout before BN), and the accuracy in eval mode understates what the
    trained weights can do. Santurkar et al.'s test is about the weights that noisy training finds."""
    twin.load_state_dict(model.state_dict())
    norms = [module for module in twin.modules() if isinstance(module, nn.BatchNorm2d)]
    for module in norms:
        module.reset_running_stats()
        module.momentum = None
    twin.train()
    loader.batch_sampler.set_epoch(epoch)
    batches_of = iter(loader)
    with tg.no_grad():
        for _, (images, _labels) in zip(range(batches), batches_of):
            twin(images)
    batches_of.close()
    for module, source in zip(norms, (m for m in model.modules() if isinstance(m, nn.BatchNorm2d))):
        module.momentum = source.momentum
    return twin.eval()


def finite_state(model):
    """Whether every floating-point parameter and buffer of the model is finite."""
    arrays = [tensor.numpy() for tensor in (*model.parameters(), *model.buffers())]
    return all(bool(np.isfinite(array).all()) for array in arrays if np.issubdtype(array.dtype, np.floating))


def evaluate_point(model, val_loader, train_eval_loader, classes):
    """Validation loss and accuracy, and the same on the fixed training sample (eval mode, centre crops; None
    without train_eval_loader)."""
    val = evaluate_model(model, val_loader, classes, progress_bar=False)
    train = (evaluate_model(model, train_eval_loader, classes, progress_bar=False) if train_eval_loader
             else {"loss": None, "accuracy": None})
    return {"val_loss": val["loss"], "val_accuracy": val["accuracy"], "train_eval_loss": train["loss"],
            "train_eval_accuracy": train["accuracy"]}


def gradient_norms(model, names):
    """{parameter name: ||dL/dp||_2} of the gradients in the model now (float64 on the host)."""
    return {name: float(np.linalg.norm(param.grad.numpy().astype(np.float64)))
            for name, param in zip(names, model.parameters()) if param.grad is not None}


def conv_bias_norms(model):
    """||b||_2 of each convolution's bias (an empty list where they have none)."""
    return [float(np.linalg.norm(module.bias.numpy())) for module in model.modules()
            if isinstance(module, nn.Conv2d) and module.bias is not None]


def probe(model, twin, cell, weights_before, images, labels, step, loss_value):
    """The covariate-shift and smoothness measurements at `step` (after its update), on that step's batch, made on
    `twin` (measurement_twin) so that the model's own buffers and noise stay untouched."""
    twin.load_state_dict(model.state_dict())
    weights_after = [param.array.copy() for param in model.parameters()]
    ics = internal_covariate_shift(twin, weights_before, weights_after, images, labels)
    for param, value in zip(twin.parameters(), weights_before):  # smoothness at the weights the step started from
        param.array[...] = value
    smooth = smoothness_along_gradient(twin, images, labels, [cell.lr * k for k in SMOOTHNESS_STEPS])
    measured = {"step": step, "loss": loss_value, "ics": ics, "smoothness": smooth}
    if cell.norm in NOISY_NORMS:  # the premise of the test: with the noise, the layers' inputs shift far more
        measured["moments"] = normalization_output_moments(model, images)
    return measured


def batch_norm_extras(model, data, cell, device):
    """After training a BN model: validation accuracy with the running statistics (eval mode) against the
    statistics of the test batch itself, in batches of mixed classes and of one class; and the noise of batch
    statistics per batch size (measures.batch_statistics_noise)."""
    order = np.random.default_rng(cell.data_seed).permutation(data.val_idx)
    groups = {"mixed": order}
    for k, name in enumerate(data.classes):
        groups[f"{name}s only"] = order[data.labels[order] == k]
    rows = []
    model.eval()
    with tg.no_grad():
        for statistics in ("running", "batch"):
            for group, indices in groups.items():
                # eval mode: the batch size changes no prediction, so the running statistics need one
                varied = group == "mixed" and statistics == "batch"
                for batch_size in EVAL_BATCH_SIZES if varied else (max(EVAL_BATCH_SIZES),):
                    predicted = []
                    for images, _ in eval_loader(data, cell, indices, device, batch_size):
                        logits = forward_with_batch_statistics(model, images) if statistics == "batch" else model(images)
                        predicted.append(logits.argmax(dim=1).numpy())
                    accuracy = float((np.concatenate(predicted) == data.labels[indices]).mean())
                    rows.append({"statistics": statistics, "group": group, "batch_size": batch_size,
                                 "n": len(indices), "accuracy": accuracy})
        sample = order[:NOISE_IMAGES]
        moments = []
        for images, _ in eval_loader(data, cell, sample, device):
            moments.append(per_image_channel_moments(model, images))
    merged = [(np.concatenate([part[layer][0] for part in moments]), np.concatenate([part[layer][1] for part in moments]))
              for layer in range(len(moments[0]))] if moments and moments[0] else []
    return {"batch_statistics": rows,
            "batch_statistics_noise": batch_statistics_noise(merged, NOISE_BATCH_SIZES, seed=cell.data_seed)}


def usable_cpus():
    """The cores this process may use (a worker of --workers is pinned to one), and so its threads."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def machine_description():
    load = " / ".join(f"{value:.1f}" for value in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"
    return {"cpus": os.cpu_count(), "usable_cpus": usable_cpus(), "platform": platform.platform(),
            "python": platform.python_version(), "numpy": np.__version__, "load_average": load}


# ---------------------------------------------------------------------------------------------------------------------
# the cache of finished runs
# ---------------------------------------------------------------------------------------------------------------------
class RunStore:
    """A folder of finished runs: KEY.json (the result) and KEY.npz (the final weights), KEY = Cell.key().

    Each file is written to a temporary name in the same folder and renamed, so a file under its final name is
    always whole: a study stopped at any moment loses at most the run in progress."""

    def __init__(self, folder):
        self.folder = Path(folder)

    def path(self, cell):
        return self.folder / f"{cell.key()}.json"

    def has(self, cell):
        return self.path(cell).exists()

    def weights(self, cell):
        """The final state_dict of a finished run (None if it diverged or is not cached)."""
        path = self.folder / f"{cell.key()}.npz"
        return tg.load(path) if path.exists() else None

    def load(self, cell):
        path = self.path(cell)
        return json.loads(path.read_text()) if path.exists() else None

    def claim(self, cell):
        """Reserve `cell` for this process (True), unless a live process has it (False): several workers share one
        cache, and a claim file, created only if it does not exist yet (O_EXCL), makes each run train once. A claim
        left by a process that is gone (killed mid-run) is taken over."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f".{cell.key()}.claim"
        for _ in range(2):
            try:
                handle = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                if claimant_alive(path):
                    return False
                path.unlink(missing_ok=True)  # stale: its process died
                continue
            with os.fdopen(handle, "w") as file:
                file.write(f"{platform.node()} {os.getpid()}\n")
            return True
        return False

    def claimed(self, cell):
        """Whether a live process has claimed `cell`."""
        path = self.folder / f".{cell.key()}.claim"
        return path.exists() and claimant_alive(path)

    def release(self, cell):
        (self.folder / f".{cell.key()}.claim").unlink(missing_ok=True)

    def save(self, cell, result, model=None):
        self.folder.mkdir(parents=True, exist_ok=True)
        if model is not None and not result.get("diverged_at_step"):
            tg.save(model.state_dict(), self.folder / f"{cell.key()}.npz")  # tg.save writes atomically
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=f".{cell.key()}.", suffix=".tmp")
        with os.fdopen(handle, "w") as file:
            json.dump(result, file)
        os.replace(temporary, self.path(cell))


def claimant_alive(path):
    """Whether the process named in a claim file (host and pid) still runs; a claim from another host counts as
    alive (we cannot tell), an empty one as alive for its first seconds."""
    try:
        host, pid = path.read_text().split()
        pid = int(pid)
    except ValueError:  # empty: its process may be between creating and writing it
        try:
            return time.time() - path.stat().st_mtime < 10
        except OSError:
            return False
    except OSError:
        return False
    return host != platform.node() or process_alive(pid)
