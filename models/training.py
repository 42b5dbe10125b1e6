"""Training a CatsDogsNet: the recipe, the loop, and a run that can stop and resume exactly.

    from models.training import TrainConfig, train
    history = train(TrainConfig(data="../shared/data/dogs-vs-cats/train", out="runs/bn", epochs=5))
    history[-1]["val_accuracy"]

One step is the four lines every PyTorch user knows:

    optimizer.zero_grad()
    loss = F.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step(); scheduler.step()

Everything else is bookkeeping so that a long run is pleasant and safe: a progress bar, a line and a CSV row per
epoch, a plot, and checkpoints (`last.npz` every epoch and on Ctrl-C, `best.npz` at the best validation accuracy).
A checkpoint holds the weights, the optimizer's momentum buffers, the scheduler's step count, the epoch and the
number of batches done in it, so `--resume` replays the very same batches the run would have seen (the loader draws
epoch e's order, crops and flips from seed + e) and ends bitwise where an uninterrupted run would have.

The default recipe trains on small images first (--progressive START, see `train_size`). Recipe tools (recipes.py),
each off by default: --arch resnet (catsdogs_net.py), --ema DECAY (the moving average of the weights is what is
validated and saved as `model`; the weights being trained are kept for --resume), --mixup ALPHA, --tta (validation
averages each image with its mirror image), --val-every N, and --recipe NAME, a preset of these.

Nothing is lost, nothing is silently wrong: the settings are checked before any image is loaded; the run folder is
locked, checked writable and cleaned of orphan temporary files first (runfolder.py); a checkpoint whose weights or
BatchNorm buffers went non-finite is never written over a good one; `--resume` repairs the folder from last.npz.
"""
import math
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, replace
from itertools import islice
from pathlib import Path

import numpy as np
from tqdm import tqdm

import tinygrad_bn as tg
import tinygrad_bn.nn.functional as F
import tinygrad_bn.optim as optim
from .catsdogs_net import (ARCHES, DEFAULT_WIDTHS, RESNET_WIDTHS, CatsDogsNet, new_model, output_side,
                           scale_initial_weights)
from .checkpoint import (CatsDogsError, checkpoint_contents, load_checkpoint, load_data, resolve_device,
                         restore_training_state)
from .checkpoint_checks import (MAX_BLOCKS, MAX_COUNT, MAX_IMAGE_SIZE, MAX_LAYERS, MAX_WIDTH, describe_entries,
                                non_finite_entries)
from .recipes import ModelEMA, mixup
from .reports import evaluate_model, plot_curves, write_metrics_csv
from .runfolder import RunFolder, check_free_space, repair_run_folder
from .images import channel_stats, image_loader, printable, train_val_split

# The default recipe: VGG-style net with BN, 60x60 crops of 68x68 images, SGD with Nesterov momentum and a
# one-cycle learning rate that warms up to LR over the first 30% of the steps and then anneals far below it.
# 4 epochs whose images grow from 40 to 60 px (progressive resizing, see train_size) reach 90.7% validation accuracy
# in 13.5 minutes on a 2-core CPU, where 5 epochs at 60 px took 23.8 minutes for 91.1% (see README).
EPOCHS = 4
PROGRESSIVE = 40  # the first epoch's image size
BATCH_SIZE = 64
LR = 0.1  # the peak of the one-cycle schedule
# The one-cycle schedule moves momentum against the lr: from MOMENTUM down by MOMENTUM_DIP while the lr warms up,
# and back while it anneals (Smith's 0.95 -> 0.85 -> 0.95). Under the constant schedule momentum stays at MOMENTUM.
MOMENTUM = 0.95
MOMENTUM_DIP = 0.1
WEIGHT_DECAY = 5e-4
IMAGE_SIZE = 60
VAL_FRACTION = 0.1
SEED = 0
OUT = "runs/catsdogs"


@dataclass
class TrainConfig:
    """Every setting of a run. It is stored in the checkpoint; --resume takes it from there."""
    data: str = None  # image folder; None: $TINYGRAD_BN_DATA, else data/dogs-vs-cats
    out: str = OUT  # run folder: last.npz, best.npz, metrics.csv, curves.png
    epochs: int = EPOCHS
    batch_size: int = BATCH_SIZE
    lr: float = LR
    schedule: str = "onecycle"  # or "constant": lr stays at `lr` (handy in studies)
    momentum: float = MOMENTUM  # the peak of the momentum cycle under "onecycle"; 0: plain SGD
    nesterov: bool = True
    weight_decay: float = WEIGHT_DECAY
    label_smoothing: float = 0.0
    image_size: int = IMAGE_SIZE
    progressive: int = PROGRESSIVE  # the images grow from this size to image_size (train_size); 0 or None: off
    val_fraction: float = VAL_FRACTION
    limit: int = None  # train and validate on a seeded, class-balanced subset of this many images
    seed: int = SEED  # initial weights, subset, split, and every epoch's shuffle, crops and flips
    bn: bool = True
    arch: str = "vgg"  # "vgg": CatsDogsNet; "resnet": CatsDogsResNet (catsdogs_net.py)
    widths: tuple = None  # None: the architecture's default, DEFAULT_WIDTHS or RESNET_WIDTHS
    blocks: int = 1  # residual blocks per stage (resnet)
    ema: float = None  # decay of the moving average of the weights that is validated and saved; None: no average
    mixup: float = 0.0  # alpha of mixup's Beta(alpha, alpha); 0: no mixup
    tta: bool = False  # validate on each image and its mirror image (the average of the two predictions)
    val_every: int = 1  # validate after every val_every-th epoch, and always after the last
    recipe: str = None  # the --recipe preset the settings came from (a record; the settings themselves are above)
    init_scale: float = 1.0  # multiplies the initial conv/linear weights (studies of BN vs a bad init)
    device: str = None  # "cpu" or "cuda"; None: $TINYGRAD_BN_DEVICE, else cpu
    workers: int = 2  # threads assembling batches ahead of the training step
    resume: str = None  # checkpoint to continue from

    def __post_init__(self):
        if self.widths is None:
            self.widths = RESNET_WIDTHS if self.arch == "resnet" else DEFAULT_WIDTHS


def saved_config(checkpoint):
    """The TrainConfig of the run that wrote `checkpoint`. Settings added since it was written take the value that
    means what the run did then: progressive resizing off; the others' defaults."""
    return TrainConfig(**{"progressive": None, **checkpoint["config"]})


class NonFiniteLossError(FloatingPointError):
    """The loss, or the weights, became NaN or infinite: training stopped and the last good checkpoint was left
    untouched."""


def check_settings(config):
    """Refuse settings that cannot work, with a message that names them (before any image is loaded)."""
    problems = setting_problems(config)
    if problems:
        raise CatsDogsError("; ".join(problems))


def setting_problems(config):
    """One line per setting of `config` that would crash the run or silently do something else than asked."""
    if config.arch not in ARCHES:
        return [f"arch must be one of {', '.join(ARCHES)}, got {config.arch}"]
    resnet = config.arch == "resnet"
    pools = len(config.widths) - 1 if resnet else sum(width == "M" for width in config.widths)
    minimums = (("epochs", 1), ("batch_size", 1), ("image_size", 2 ** pools), ("workers", 0), ("seed", 0),
                ("limit", 2), ("blocks", 1), ("val_every", 1))
    problems = [f"{name} must be at least {minimum}, got {getattr(config, name)}" for name, minimum in minimums
                if getattr(config, name) is not None and getattr(config, name) < minimum]
    # sizes that would exhaust the memory (a 40000 px image, 100000 channels) before anything could fail
    maximums = (("image_size", MAX_IMAGE_SIZE), ("blocks", MAX_BLOCKS), ("epochs", MAX_COUNT),
                ("batch_size", MAX_COUNT))
    problems += [f"{name} must be at most {maximum}, got {getattr(config, name)}" for name, maximum in maximums
                 if getattr(config, name) > maximum]
    if len(config.widths) > MAX_LAYERS or any(width != "M" and width > MAX_WIDTH for width in config.widths
                                              if isinstance(width, int)):
        problems.append(f"widths must be at most {MAX_LAYERS} layers of at most {MAX_WIDTH} channels, got "
                        f"{','.join(map(str, config.widths))}")
    # `not a <= x < b` is also true for NaN, which every comparison rejects
    intervals = (("val_fraction", 0, 1), ("momentum", 0, 1), ("label_smoothing", 0, 1),
                 ("weight_decay", 0, math.inf), ("mixup", 0, math.inf))
    problems += [f"{name} must be in [{low}, {high}), got {getattr(config, name)}" for name, low, high in intervals
                 if not low <= getattr(config, name) < high]
    if not 0 < config.lr < math.inf:
        problems.append(f"lr must be a positive finite number, got {config.lr}")
    if not 0 < config.init_scale <= 1000:  # far beyond that the float32 weights overflow to inf
        problems.append(f"init_scale must be in (0, 1000], got {config.init_scale}")
    if config.progressive and config.progressive < 2 ** pools:
        problems.append(f"progressive must be a start size of at least {2 ** pools} (0: off), "
                        f"got {config.progressive}")
    if config.ema is not None and not 0 < config.ema < 1:
        problems.append(f"ema must be a decay between 0 and 1 (exclusive), got {config.ema}")
    if resnet:
        if not config.widths or not all(isinstance(width, int) and width >= 1 for width in config.widths):
            problems.append(f"widths must be positive numbers of channels with arch resnet (one per stage, no M), "
                            f"got {','.join(map(str, config.widths))}")
        if not config.bn:
            problems.append("arch resnet needs BatchNorm: its blocks start as identities through BN's zero gamma")
    elif not all(width == "M" or (isinstance(width, int) and width >= 1) for width in config.widths):
        problems.append(f"widths must be positive numbers of channels or M, got {','.join(map(str, config.widths))}")
    elif config.blocks != 1:
        problems.append(f"blocks applies to arch resnet only, got {config.blocks} with arch vgg")
    if config.bn and not problems:
        problems += batch_norm_problems(config)
    return problems


def batch_norm_problems(config):
    """Training-mode BatchNorm needs two or more values per channel; the last pooled maps may hold one pixel."""
    smallest = train_size(config, 0)  # the first epoch's images
    side = output_side(config.arch, config.widths, smallest)
    if config.batch_size * side * side < 2:
        size = f"progressive {smallest}" if resizes(config) else f"image_size {smallest}"
        return [f"batch_size {config.batch_size} with {size} leaves BatchNorm one value per channel after the last "
                f"pooling ({side}x{side} maps): use a larger batch or image"]
    return []


def resizes(config):
    """Whether the run uses progressive resizing (see train_size)."""
    return bool(config.progressive) and config.progressive < config.image_size and config.epochs > 1


def train_size(config, epoch):
    """The size of the training images in `epoch` (0-based): with --progressive START below image_size, progressive
    resizing: a straight line from START px at the first epoch to image_size at the last, to the nearest pixel;
    otherwise (START 0, or image_size or more: e.g. the default 40 with --image-size 32) image_size.

    Each random crop is shrunk to that size (CroppedImages' resize_to): the same view of the image, at a lower
    resolution. A step at 40 px takes about 53% of the time of one at 60 px on the 2-core CPU (not (40 / 60)^2 =
    44%: each step has costs that do not shrink with the image), and the early epochs, which learn coarse shapes,
    lose little by it; the last epochs, where the learning rate anneals, see full-size images. The global average
    pooling lets one network take every size; validation always uses image_size.
    """
    if not resizes(config):
        return config.image_size
    start, end = config.progressive, config.image_size
    return round(start + (end - start) * epoch / (config.epochs - 1))


def train(config, on_step=None, log=print, progress_bar=True):
    """Train (or, with config.resume, continue training) and return the history: one dict per finished epoch.

    on_step(StepInfo) is called after every optimizer step; raising KeyboardInterrupt from it stops the run as
    Ctrl-C does (last.npz saved, then re-raised). A NaN/inf loss or non-finite weights raise NonFiniteLossError;
    a bad data folder or checkpoint, a run folder that can't be written or that another training holds, raise
    CatsDogsError. `log` receives the per-epoch lines; progress bars go to stderr.
    """
    check_settings(config)
    with RunFolder(config.out, log):  # locked for the whole run; checked writable before any data is loaded
        return Trainer(config, on_step, log, progress_bar).run()


class Trainer:
    """One run: data, model, optimizer and schedule built from a TrainConfig (and restored from a checkpoint)."""

    def __init__(self, config, on_step=None, log=print, progress_bar=True):
        checkpoint = load_checkpoint(config.resume) if config.resume else None
        if checkpoint is not None:
            # the run's own recipe; only where the data is, where to write, the device and the threads may change
            saved = saved_config(checkpoint)
            if not config.data and not Path(saved.data).is_dir():
                raise CatsDogsError(f"the images of the run {checkpoint['path']} were in {printable(saved.data)} "
                                    f"(its entry config.data), which is not a folder now: give their folder with "
                                    f"--data DIR")
            config = replace(saved, data=config.data or saved.data, out=config.out, device=config.device,
                             workers=config.workers, resume=config.resume)
        check_settings(config)
        self.device = resolve_device(config.device)
        self.on_step, self.log, self.progress_bar = on_step, log, progress_bar
        self.out = Path(config.out)
        tg.manual_seed(config.seed)
        self.config = config = self.load_data(config, checkpoint)
        self.build_model_and_optimizer(config)
        check_free_space(self.out, self.checkpoint_bytes())
        self.progress = Progress(history=[])
        self.saved = "no checkpoint was written yet"  # what last.npz holds, for the messages when a run fails
        if checkpoint is not None:
            self.check_resumable(checkpoint)
            restore_training_state(checkpoint, self.model, self.optimizer, self.scheduler,
                                   self.ema.model if self.ema else None)
            if self.ema:  # how many steps it has averaged: only the first one copies
                done = checkpoint["progress"]
                self.ema.updates = done["epoch"] * len(self.train_loader) + done["step"]
            history_repaired = repair_run_folder(self.out, checkpoint, log)
            self.progress = Progress(**checkpoint["progress"])
            if Path(checkpoint["path"]).resolve() == (self.out / "last.npz").resolve():
                self.saved = self.describe_progress()
            if history_repaired:
                self.save(self.out / "last.npz")
            if checkpoint["num_images"] != self.num_images:
                log(f"warning: the data folder held {checkpoint['num_images']} images when the run started and "
                    f"holds {self.num_images} now: the split and the batches differ from the original run's")
            if self.progress.epoch < config.epochs:
                log(f"resuming {checkpoint['path']}: epoch {self.progress.epoch + 1}/{config.epochs}, "
                    f"{self.progress.step} of {len(self.train_loader)} batches done")
        self.ctrl_c = CtrlC()

    def check_resumable(self, checkpoint):
        """Refuse to continue a run on other classes, or at a batch its epochs do not have (load_checkpoint
        checked each entry on its own, and refused non-finite weights)."""
        step = checkpoint["progress"]["step"]
        if step > len(self.train_loader):
            raise CatsDogsError(f"unusable checkpoint {checkpoint['path']}: entry progress.step is {step}, but an "
                                f"epoch of this run has {len(self.train_loader)} batches")
        if list(checkpoint["classes"]) != list(self.classes):
            raise CatsDogsError(f"{self.config.data} has the classes {self.classes}, but {checkpoint['path']} was "
                                f"trained on {checkpoint['classes']}: resume with its own data folder "
                                f"({checkpoint['config']['data']}), or start a new run")

    def checkpoint_bytes(self):
        """About the size of one checkpoint: the weights and buffers, as many momentum buffers (and the average)."""
        copies = 3 if self.ema else 2
        return copies * sum(array.nbytes for array in self.model.state_dict().values()) + 2 ** 16

    def position(self):
        """Where the run is, in the words of the messages: 'the end of epoch 2' or 'epoch 3, batch 5'."""
        epoch, step = self.progress.epoch, self.progress.step
        return f"the end of epoch {epoch}" if step == 0 and epoch > 0 else f"epoch {epoch + 1}, batch {step}"

    def describe_progress(self):
        """What a last.npz written now holds."""
        return f"{self.out / 'last.npz'} holds the state at {self.position()}"

    def load_data(self, config, checkpoint):
        """The images, the split, the normalisation statistics and the two loaders; returns the config with the
        data folder as an absolute path (what the checkpoint stores)."""
        data, root = load_data(config.data, config.image_size, config.limit, config.seed)
        self.classes, self.num_images = data.classes, len(data.labels)
        train_idx, val_idx = train_val_split(data.labels, config.val_fraction, config.seed)
        counts = ", ".join(f"{count} {name}" for name, count in zip(data.classes, np.bincount(data.labels)))
        self.log(f"{printable(root)}: {len(data.labels)} images ({counts}); training on {len(train_idx)}, "
                 f"validating on {len(val_idx)}")
        if len(train_idx) < config.batch_size:  # before the statistics, which would divide by 0 images
            raise CatsDogsError(f"{len(train_idx)} training images make no full batch of {config.batch_size}")
        if checkpoint is None:
            self.mean, self.std = channel_stats(data.images, train_idx)
        else:
            self.mean, self.std = checkpoint["mean"], checkpoint["std"]

        common = dict(image_size=config.image_size, mean=self.mean, std=self.std, device=self.device,
                      workers=config.workers)
        self.train_loader = image_loader(data.images, data.labels, config.batch_size, indices=train_idx, shuffle=True,
                                         augment=True, drop_last=True, seed=config.seed, **common)
        self.val_loader = image_loader(data.images, data.labels, 2 * config.batch_size, indices=val_idx, **common)
        return replace(config, data=root)

    def build_model_and_optimizer(self, config):
        self.model = new_model(config.arch, bn=config.bn, widths=config.widths, blocks=config.blocks,
                               num_classes=len(self.classes))
        scale_initial_weights(self.model, config.init_scale)
        self.model.to(self.device)
        self.ema = ModelEMA(self.model, config.ema) if config.ema else None
        # Nesterov looks one momentum step ahead: without momentum (0: plain SGD) there is nothing to look at
        self.optimizer = optim.SGD(self.model.parameters(), lr=config.lr, momentum=config.momentum,
                                   nesterov=config.nesterov and config.momentum > 0, weight_decay=config.weight_decay)
        self.scheduler = None
        if config.schedule == "onecycle":  # stepped after every batch
            total_steps = config.epochs * len(self.train_loader)
            self.scheduler = optim.lr_scheduler.OneCycleLR(
                self.optimizer, max_lr=config.lr, total_steps=total_steps, cycle_momentum=config.momentum > 0,
                max_momentum=config.momentum, base_momentum=max(config.momentum - MOMENTUM_DIP, 0.0))
        elif config.schedule != "constant":
            raise ValueError(f"schedule must be 'onecycle' or 'constant', got {config.schedule!r}")

    def run(self):
        self.out.mkdir(parents=True, exist_ok=True)
        last = self.out / "last.npz"
        if self.progress.epoch >= self.config.epochs:
            self.log(f"the run already finished its {self.config.epochs} epochs: nothing to do")
        with self.ctrl_c:
            try:
                while self.progress.epoch < self.config.epochs:
                    self.train_one_epoch()
                    self.finish_epoch()
            except KeyboardInterrupt as stop:
                terminated = isinstance(stop, Terminated)
                how = f"stopped by {self.ctrl_c.SIGNALS[stop.signum]}" if terminated else "interrupted"
                if self.ctrl_c.in_step:  # a second Ctrl-C inside a step: the weights may be half updated
                    self.log(f"{how} in the middle of a step: {last} was left as it was")
                else:
                    self.save(last)
                    self.log(f"{how}: saved {last} at epoch {self.progress.epoch + 1}, batch "
                             f"{self.progress.step}; continue with --resume {self.out}")
                raise
        return self.progress.history

    def train_one_epoch(self):
        """The steps of epoch `progress.epoch` not done yet (all of them, unless resuming in the middle)."""
        progress, batch_size = self.progress, self.config.batch_size
        self.model.train()
        self.train_loader.batch_sampler.set_epoch(progress.epoch)
        size = self.train_loader.dataset.resize_to = train_size(self.config, progress.epoch)
        description = f"epoch {progress.epoch + 1}/{self.config.epochs}"
        if resizes(self.config):
            description += f" at {size} px"
        bar = tqdm(total=len(self.train_loader) * batch_size, initial=progress.step * batch_size, unit="img",
                   desc=description, disable=not self.progress_bar, file=sys.stderr)
        batches = iter(self.train_loader)
        try:
            start = time.perf_counter()
            # an epoch's batches are fixed by its seed, so skipping the ones done before a stop resumes exactly
            for images, labels in islice(batches, progress.step, None):
                try:
                    self.step(images, labels)
                finally:  # also when Ctrl-C stops the run at the end of this step: the step took this time
                    progress.train_seconds += time.perf_counter() - start
                    start = time.perf_counter()
                bar.update(len(labels.array))
                bar.set_postfix(loss=f"{progress.loss_sum / progress.seen:.4f}",
                                acc=f"{progress.correct / progress.seen:.3f}", refresh=False)
        finally:
            bar.close()
            batches.close()  # stops the loader's worker threads now, also when a step raised

    def step(self, images, labels):
        """One optimizer step on one batch, then the bookkeeping and the on_step callback."""
        progress, optimizer = self.progress, self.optimizer
        self.ctrl_c.in_step = True
        lr = optimizer.param_groups[0]["lr"]
        smoothing = self.config.label_smoothing
        optimizer.zero_grad()
        if self.config.mixup:
            # drawn from the position in the run, so a resumed run mixes the same pairs
            rng = np.random.default_rng([self.config.seed, progress.epoch, progress.step])
            images, partner_labels, lam = mixup(images, labels, self.config.mixup, rng)
            logits = self.model(images)
            loss = (lam * F.cross_entropy(logits, labels, label_smoothing=smoothing)
                    + (1 - lam) * F.cross_entropy(logits, partner_labels, label_smoothing=smoothing))
        else:
            logits = self.model(images)
            loss = F.cross_entropy(logits, labels, label_smoothing=smoothing)
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            raise NonFiniteLossError(f"the loss became {loss_value} at epoch {progress.epoch + 1}, batch "
                                     f"{progress.step + 1} (lr {lr:.4g}): stopped without saving; {self.saved}. "
                                     f"Try a lower --lr.")
        loss.backward()
        optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        if self.ema:
            self.ema.update(self.model)

        n = len(labels.array)
        predicted = logits.argmax(dim=1).array
        correct = int((predicted == labels.array).sum())
        if self.config.mixup:  # right by the share of each label in the blend
            correct = lam * correct + (1 - lam) * int((predicted == partner_labels.array).sum())
        progress.step += 1
        progress.loss_sum += loss_value * n
        progress.correct += correct
        progress.seen += n
        self.ctrl_c.end_step()
        if self.on_step is not None:
            global_step = progress.epoch * len(self.train_loader) + progress.step
            self.on_step(StepInfo(progress.epoch, progress.step, global_step, loss_value, correct / n, lr,
                                  self.model))

    def finish_epoch(self):
        """Validate; record the epoch; write last.npz (and best.npz at a new best), the CSV and the plot.

        last.npz is written first: it is the commit point from which --resume repairs the other files. From the
        recording of the epoch to the last write, Ctrl-C waits, as inside a step: an interruption between
        recording the epoch and moving on to the next would save it twice into the history.
        """
        progress, start = self.progress, time.perf_counter()
        val = None
        epochs_done = progress.epoch + 1
        if len(self.val_loader.batch_sampler.indices) and (epochs_done % self.config.val_every == 0
                                             or epochs_done == self.config.epochs):
            val = evaluate_model(self.ema.model if self.ema else self.model, self.val_loader, self.classes,
                                 progress_bar=self.progress_bar, tta=self.config.tta)
        self.ctrl_c.in_step = True
        row = {
            "epoch": progress.epoch + 1,
            "train_loss": progress.loss_sum / progress.seen,
            "train_accuracy": progress.correct / progress.seen,
            "val_loss": val["loss"] if val else None,
            "val_accuracy": val["accuracy"] if val else None,
            "lr": self.optimizer.param_groups[0]["lr"],
            "image_size": train_size(self.config, progress.epoch),
            "seconds": progress.train_seconds + time.perf_counter() - start,
            # None when no step was timed: a run stopped after its last step, before the time was added, and resumed
            "images_per_s": progress.seen / progress.train_seconds if progress.train_seconds > 0 else None,
        }
        progress.history.append(row)
        is_best = val is not None and val["accuracy"] > progress.best_accuracy
        if is_best:
            progress.best_accuracy = val["accuracy"]
        progress.start_next_epoch()
        self.save(self.out / "last.npz")
        if is_best:
            self.save(self.out / "best.npz")
        self.write_reports()
        self.ctrl_c.end_step()

        line = (f"epoch {row['epoch']}/{self.config.epochs}: train loss {row['train_loss']:.4f} "
                f"acc {row['train_accuracy']:.4f}" + (f" at {row['image_size']} px" if resizes(self.config) else ""))
        if val:
            line += f" | val loss {row['val_loss']:.4f} acc {row['val_accuracy']:.4f}" + (" (best)" if is_best else "")
        speed = f", {row['images_per_s']:.0f} images/s" if row["images_per_s"] is not None else ""
        self.log(line + f" | {row['seconds']:.1f} s{speed}")

    def write_reports(self):
        """metrics.csv and curves.png from the history (so they always agree with last.npz's)."""
        try:
            write_metrics_csv(self.out / "metrics.csv", self.progress.history)
            plot_curves(self.out / "curves.png", self.progress.history)
        except OSError as error:
            raise CatsDogsError(f"could not write metrics.csv or curves.png in {self.out}: "
                                f"{error.strerror or error}; {self.saved}") from None

    def save(self, path):
        """Write a checkpoint of the run as it is now, unless its weights went non-finite: a good file is never
        overwritten by a bad one (the loss can stay finite while a BatchNorm running variance overflows)."""
        contents = checkpoint_contents(self.model, self.optimizer, self.scheduler, asdict(self.config),
                                       asdict(self.progress), self.classes, self.mean, self.std, self.num_images,
                                       ema_model=self.ema.model if self.ema else None)
        bad = non_finite_entries(weights_and_state(contents))
        if bad:
            raise NonFiniteLossError(f"the weights became non-finite by {self.position()} ({describe_entries(bad)}): "
                                     f"{path} was not written; {self.saved}. Try a lower --lr.")
        try:
            tg.save(contents, path)
        except OSError as error:
            raise CatsDogsError(f"could not save {path}: {error.strerror or error}; {self.saved}") from None
        if path == self.out / "last.npz":
            self.saved = self.describe_progress()


def weights_and_state(checkpoint):
    """The parts of a checkpoint that must stay finite: the weights (both, with --ema) and the momentum buffers."""
    return {key: checkpoint[key] for key in ("model", "training_model", "optimizer") if key in checkpoint}


@dataclass
class StepInfo:
    """What an `on_step` callback receives after each optimizer step. The gradients of this step are still in
    `model`'s parameters (zeroed only at the start of the next step): see `gradient_norms`."""
    epoch: int  # 0-based
    step: int  # batches done in this epoch, this one included
    global_step: int  # optimizer steps since the start of the run
    loss: float
    accuracy: float  # on this batch
    lr: float  # the lr this step used
    model: CatsDogsNet  # or a CatsDogsResNet (--arch resnet): the weights being trained, not the average


def gradient_norms(model):
    """{parameter name: L2 norm of its gradient}, e.g. from an on_step callback to watch the first steps."""
    return {name: math.sqrt(float((param.grad.array * param.grad.array).sum()))
            for name, param in model.named_parameters() if param.grad is not None}


class Terminated(KeyboardInterrupt):
    """SIGTERM (what `timeout`, `docker stop` and batch schedulers send) or SIGHUP (the terminal or the ssh
    session went away): stops the run as Ctrl-C does. `signum` is the signal's number."""

    def __init__(self, signum=signal.SIGTERM):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def raise_terminated(signum, frame):
    raise Terminated(signum)


class CtrlC:
    """Makes Ctrl-C, SIGTERM and SIGHUP save a consistent checkpoint.

    Inside a training step (between zero_grad and the scheduler step) the signal is deferred to the end of the
    step, so the weights, the momentum buffers and the step count always describe a whole number of steps. Anywhere
    else, or when it comes a second time, it raises at once: KeyboardInterrupt for Ctrl-C (SIGINT), Terminated (a
    KeyboardInterrupt) for SIGTERM and SIGHUP. Signal handlers can only be installed from the main thread;
    elsewhere Python's default behaviour stays.
    """
    SIGNALS = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP"}

    def __init__(self):
        self.in_step = False
        self.requested = None  # the exception of a signal deferred to the end of the step
        self.previous_handlers = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            # a signal ignored on purpose (SIGHUP under nohup) stays ignored
            self.previous_handlers = {signum: signal.signal(signum, self._handle) for signum in self.SIGNALS
                                      if signal.getsignal(signum) is not signal.SIG_IGN}
        return self

    def __exit__(self, *exception):
        for signum, handler in self.previous_handlers.items():
            signal.signal(signum, handler)
        self.previous_handlers = {}

    def _handle(self, signum, frame):
        exception = KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)
        if self.in_step and self.requested is None:
            self.requested = exception
            print(f"\n{self.SIGNALS[signum]}: stopping after this step to save a checkpoint (press Ctrl-C to "
                  f"quit at once)", file=sys.stderr)
        else:
            raise exception

    def end_step(self):
        self.in_step = False
        if self.requested is not None:
            raise self.requested


@dataclass
class Progress:
    """Where the run is: the part of a checkpoint that changes every step."""
    epoch: int = 0  # the epoch in progress (0-based)
    step: int = 0  # batches of it already done
    loss_sum: float = 0.0  # over the batches done in this epoch, for its average train loss
    correct: float = 0  # images right (with --mixup: each counted by the share of the label it matched)
    seen: int = 0
    train_seconds: float = 0.0
    best_accuracy: float = -1.0
    history: list = None  # one dict per finished epoch

    def start_next_epoch(self):
        self.epoch, self.step = self.epoch + 1, 0
        self.loss_sum, self.correct, self.seen, self.train_seconds = 0.0, 0, 0, 0.0
