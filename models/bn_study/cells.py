"""Cells: one training run's settings, its cache key, and the sections of the study as lists of cells.

A Cell is a frozen dataclass: everything that decides what one run computes. Two sections that need the same run
(the main comparison's BN model at seed 0 is also a point of the learning-rate sweep at full scale) list equal
cells, and the run is trained once: the cache key is a hash of the settings and STUDY_VERSION, nothing else.
"""
import hashlib
import json
import math
from dataclasses import asdict, dataclass, replace

from ..catsdogs_net import DEFAULT_WIDTHS
from ..training import (
    BATCH_SIZE,
    EPOCHS,
    IMAGE_SIZE,
    LR,
    PROGRESSIVE,
    VAL_FRACTION,
    WEIGHT_DECAY,
)

# Bump when a change of the code changes what a run computes (the loop, the data, a measurement): every cached run
# of an older version is then trained again. Changes of the report or the plots do not need it.
STUDY_VERSION = 1

SEEDS = (0, 1, 2)
# the settings added to Cell after the first runs were cached, with the default that means "as before"
ADDED_LATER = {"finetune": None, "grayscale": False, "train_subset": None, "train_eval": "every",
               "recalibrate": False}
REDUCED_LIMIT = 6000  # images (class-balanced) of the "reduced" scale: 5,400 to train on, 600 to validate


@dataclass(frozen=True)
class Cell:
    """The settings of one training run. The defaults are the default recipe of models/training.py (`python -m
    models.catsdogs train`): all 22,500 images (20,250 train, 2,250 validation, the same split in every run), 4
    epochs from 40 to 60 px, batch 64, SGD with Nesterov momentum 0.95 (cycled 0.95 -> 0.85 -> 0.95) and weight decay
    5e-4, one-cycle learning rate peaking at 0.1, random crops and flips. The seed decides the initial weights, the
    batches, the crops and flips (and the noise of noisy BN); data_seed decides the subset and the split."""
    norm: str = "bn"  # bn, none, noisy_bn, shifted_bn, gn, ln (nets.py)
    seed: int = 0
    lr: float = LR  # the peak of the one-cycle schedule
    batch_size: int = BATCH_SIZE
    epochs: int = EPOCHS
    image_size: int = IMAGE_SIZE
    progressive: int = PROGRESSIVE  # the first epoch's image size (training.train_size); 0: off
    limit: int = None  # a class-balanced subset of this many images; None: all
    val_fraction: float = VAL_FRACTION
    weight_decay: float = WEIGHT_DECAY
    augment: bool = True  # random crops and flips; False: the centre crop of every training image, every epoch
    init: str = "default"  # or "he"
    init_scale: float = 1.0
    norm_position: str = "before_relu"  # or "after_relu"
    conv_bias: bool = None  # None: only where no normalization follows the convolution (nets.study_net)
    bn_momentum: float = 0.1
    widths: tuple = DEFAULT_WIDTHS
    evals_per_epoch: int = 1  # validation (and the training-subset evaluation) this many times per epoch
    probes: int = 0  # covariate-shift and smoothness measurements at this many evenly spaced steps
    extras: bool = False  # after training: evaluation with batch statistics and the noise of batch statistics
    data_seed: int = 0
    # fine-tuning (the details section): start from the main comparison's BN model of the same seed, and train on
    # grayscale images, a shifted input distribution; "frozen": BN in eval mode (its running statistics normalize
    # and stay as they were), "updated": BN in training mode (batch statistics, running ones updated)
    finetune: str = None
    grayscale: bool = False  # the images in gray (luma, in all three channels)
    train_subset: int = None  # train on this many of the training images (a seeded sample); None: all
    # the fixed training sample is evaluated at "every" evaluation (the curves of the training loss) or only at the
    # "last" (the batch-size section, 84 runs that need only the final numbers: 15% less time a run)
    train_eval: str = "every"
    # noisy BN: also evaluate with BN's running statistics measured anew without the noise (runner.py says why)
    recalibrate: bool = False

    def key(self):
        """The cache key: a hash of every setting and of STUDY_VERSION. Settings added after runs were cached
        (ADDED_LATER) count only when they are not at their default, so adding one leaves every older key as it
        was; a change of a setting's meaning or default needs a STUDY_VERSION bump."""
        settings = {name: value for name, value in asdict(self).items()
                    if name not in ADDED_LATER or value != ADDED_LATER[name]}
        text = json.dumps({"study_version": STUDY_VERSION, **settings}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def label(self):
        """A short description: the settings that differ from the defaults."""
        default = Cell()
        parts = [f"{name}={value}" for name, value in asdict(self).items()
                 if value != getattr(default, name) and name not in ("widths",)]
        return ", ".join(parts) or "default recipe"


@dataclass(frozen=True)
class Scale:
    """The sizes a study runs at: FULL (the real study) or QUICK (the test suite's, seconds)."""
    seeds: tuple = SEEDS
    full: dict = None  # Cell fields for the full-scale cells (None: the defaults)
    reduced: dict = None  # Cell fields for the reduced-scale cells
    small_images: dict = None  # Cell fields for the batch-size section
    batch_sizes: tuple = (2, 4, 8, 16, 32, 64, 128)
    lrs: tuple = (0.03, 0.1, 0.3, 1.0, 3.0)
    init_scales: tuple = (0.1, 0.3, 1.0, 3.0, 10.0)
    bn_momenta: tuple = (0.01, 0.1, 0.5, 0.9)
    probes: int = 8
    overfit_epochs: int = 8
    batch_epochs: int = 4  # the batch-size section's epochs (2 left BN at batch 64 at 71.5%, too near chance)
    finetune: dict = None  # Cell fields of the fine-tuning runs


FULL = Scale(full={}, reduced={"limit": REDUCED_LIMIT},
             # 32 px inputs (36 px cache, no progressive resizing) of the reduced subset: a batch of 2 takes
             # 2,700 steps an epoch, affordable only with small images
             small_images={"limit": REDUCED_LIMIT, "image_size": 32, "progressive": 0},
             # 2,000 gray training images (of the 20,250 the model was trained on in color), batch 16, 2 epochs:
             # the small-data, small-batch fine-tuning where frozen statistics are the usual advice
             finetune={"train_subset": 2000, "epochs": 2, "batch_size": 16, "lr": 0.01, "progressive": 0})
QUICK_CELL = {"limit": 240, "image_size": 16, "progressive": 0, "epochs": 2, "widths": (4, "M", 8, "M", 8),
              "val_fraction": 0.25, "batch_size": 16}
QUICK = Scale(seeds=(0, 1), full=QUICK_CELL, reduced=QUICK_CELL, small_images=QUICK_CELL, batch_sizes=(2, 16),
              lrs=(0.1, 3.0), init_scales=(0.1, 10.0), bn_momenta=(0.01, 0.1), probes=2, overfit_epochs=3,
              batch_epochs=2,
              finetune={**QUICK_CELL, "train_subset": 40, "epochs": 1, "batch_size": 8, "lr": 0.01})


def at(scale_fields, **settings):
    """A Cell with a scale's fields, then `settings` (which win where both set one)."""
    return Cell(**{**scale_fields, **settings})


def seeded(scale, cells):
    """Every cell once per seed of the scale."""
    return [replace(cell, seed=seed) for cell in cells for seed in scale.seeds]


# The sections, in the order the queue runs them (most important first). Each returns {row name: [cells]}: the
# seeds of one table row. `main` first: it is the core comparison and it also gives the time to 80/85/88%.
def main_section(scale):
    base = at(scale.full, evals_per_epoch=2, probes=scale.probes)
    # Without BN the default (PyTorch) initialization does not train this net: at reduced scale it stalls at chance
    # at lr 0.03 and 0.1 (the lr section has every rate from 0.03 to 3), so at full scale the comparison is with
    # the no-BN net that does train, at the recipe's lr (tuned for BN, not for it: the lr section says more)
    rows = {"BN": replace(base, extras=True), "no BN, He init": replace(base, norm="none", init="he")}
    return {name: seeded(scale, [cell]) for name, cell in rows.items()}


def pretrained_cell(cell, scale):
    """The run whose final weights a fine-tuning cell starts from: the main comparison's BN model, same seed."""
    return replace(main_section(scale)["BN"][0], seed=cell.seed)


def noisy_section(scale):
    """Noisy BN (Santurkar et al. 2018, section 2.1) at full scale, to compare with the main section's rows."""
    base = at(scale.full, evals_per_epoch=2, probes=scale.probes)
    return {"noisy BN": seeded(scale, [replace(base, norm="noisy_bn", recalibrate=True)]),
            "shifted BN": seeded(scale, [replace(base, norm="shifted_bn", recalibrate=True)])}


def lr_section(scale):
    """The largest stable learning rate with BN, without, and without but with He init (reduced scale)."""
    rows = {}
    for lr in scale.lrs:
        for name, fields in (("BN", {}), ("no BN", {"norm": "none"}), ("no BN, He init", {"norm": "none",
                                                                                        "init": "he"})):
            rows[f"{name} @ lr {lr:g}"] = seeded(scale, [at(scale.reduced, **fields, lr=lr)])
    return rows


def details_section(scale):
    """BN before or after ReLU; a conv bias before BN; BN's momentum (reduced scale); fine-tuning the main
    comparison's BN models on gray images with BN's statistics frozen or updated."""
    base = at(scale.reduced)
    rows = {"BN before ReLU": base, "BN after ReLU": replace(base, norm_position="after_relu"),
            "BN with conv bias": replace(base, conv_bias=True)}
    for momentum in scale.bn_momenta:
        rows[f"BN momentum {momentum:g}"] = replace(base, bn_momentum=momentum, extras=True)
    for mode in ("frozen", "updated"):
        rows[f"fine-tune in gray, BN {mode}"] = at(scale.finetune, finetune=mode, grayscale=True)
    return {name: seeded(scale, [cell]) for name, cell in rows.items()}


def init_section(scale):
    """He init times 0.1 ... 10, with and without BN (reduced scale)."""
    rows = {}
    for init_scale in scale.init_scales:
        for name, norm in (("BN", "bn"), ("no BN", "none")):
            rows[f"{name}, He x{init_scale:g}"] = seeded(scale, [at(scale.reduced, norm=norm, init="he",
                                                                      init_scale=init_scale)])
    return rows


def overfit_section(scale):
    """Train vs validation with and without weight decay and augmentation, longer training (reduced scale). The
    net without BN starts from He init: with the default one it does not learn, and so cannot overfit either."""
    rows = {}
    for name, fields in (("BN", {"norm": "bn"}), ("no BN, He", {"norm": "none", "init": "he"})):
        for weight_decay in (WEIGHT_DECAY, 0.0):
            for augment in (True, False):
                cell = at(scale.reduced, epochs=scale.overfit_epochs, **fields,
                            weight_decay=weight_decay, augment=augment)
                rows[f"{name}, wd {weight_decay:g}, {'aug' if augment else 'no aug'}"] = seeded(scale, [cell])
    return rows


def batch_section(scale):
    """Wu and He 2018: batch sizes 2 ... 128 with BN, GroupNorm, LayerNorm, none (with He init, the no-BN net
    that trains); lr scaled with the batch (lr = 0.1 * batch / 64, the linear scaling rule), the same number of
    epochs (small images)."""
    rows = {}
    for batch_size in scale.batch_sizes:
        for norm in ("bn", "gn", "ln", "none"):
            cell = at(scale.small_images, norm=norm, batch_size=batch_size, lr=LR * batch_size / BATCH_SIZE,
                        epochs=scale.batch_epochs, init="he" if norm == "none" else "default",
                        extras=norm == "bn", train_eval="last")
            rows[f"{norm} @ batch {batch_size}"] = seeded(scale, [cell])
    return rows


SECTIONS = {"main": main_section, "noisy": noisy_section, "lr": lr_section, "details": details_section,
            "init": init_section, "overfit": overfit_section, "batch": batch_section}


def plan(scale, only=None):
    """[(section, row, cell)] in queue order: sections in SECTIONS' order, then seed-major within a section (all
    rows at seed 0 first, so that a study cut short has every row at one seed before any at three)."""
    names = list(SECTIONS) if not only else [name for name in SECTIONS if name in only]
    entries = []
    for name in names:
        rows = SECTIONS[name](scale)
        per_seed = sorted(((cells.index(cell), row, cell) for row, cells in rows.items() for cell in cells),
                          key=lambda item: item[0])
        entries += [(name, row, cell) for _, row, cell in per_seed]
    return entries


def unique_cells(entries):
    """The distinct cells of a plan, in order (a cell two sections share is trained once)."""
    return list(dict.fromkeys(cell for _, _, cell in entries))


# ---------------------------------------------------------------------------------------------------------------------
# the cost model for --plan: seconds of one training step = overhead + per_pixel * batch * size^2
# ---------------------------------------------------------------------------------------------------------------------
# Measured on this 2-core CPU (2026-12-03, nice 19, idle machine, batches of random data): a BN step took 0.041 s at
# batch 2 and 32 px, 0.74 s at batch 128 and 32 px, 1.19 s at batch 64 and 60 px, 0.60 s at batch 64 and 40 px.
STEP_OVERHEAD_S = 0.030
STEP_PER_PIXEL_S = 5.4e-6  # per image and pixel (of S x S)
NORM_COST = {"bn": 1.0, "none": 1.1, "noisy_bn": 1.45, "shifted_bn": 1.1, "gn": 1.5, "ln": 1.3}  # relative to BN, same measurement
EVAL_COST = 1 / 3  # an evaluated image costs about a third of a trained one (forward only)
TRAIN_SUBSET = 2250  # training images evaluated like validation at each evaluation (the train side of the gap)


def estimated_seconds(cell, num_images=22500):
    """A rough duration of one run of `cell` on this CPU, from the cost model above."""
    images = min(cell.limit or num_images, num_images)
    train = images - round(cell.val_fraction * images)
    steps = min(train, cell.train_subset or train) // cell.batch_size
    sizes = [cell.image_size] * cell.epochs
    if cell.progressive and cell.progressive < cell.image_size and cell.epochs > 1:
        sizes = [round(cell.progressive + (cell.image_size - cell.progressive) * e / (cell.epochs - 1))
                 for e in range(cell.epochs)]
    step_seconds = [STEP_OVERHEAD_S + STEP_PER_PIXEL_S * cell.batch_size * size * size for size in sizes]
    seconds = steps * sum(step_seconds) * NORM_COST[cell.norm]
    evaluations = cell.epochs * cell.evals_per_epoch + (1 if cell.finetune else 0)  # fine-tuning: also before
    evaluated = (images - train + min(TRAIN_SUBSET, train)) * evaluations
    seconds += evaluated * STEP_PER_PIXEL_S * cell.image_size ** 2 * EVAL_COST
    layers = sum(width != "M" for width in cell.widths) + 1
    seconds += cell.probes * (layers + 5) * step_seconds[-1]  # ICS: a pass per layer; smoothness: 5 step sizes
    return seconds


def confidence_interval(values, level=0.95):
    """(mean, half-width) of the Student-t interval for the mean of `values` (half-width nan for one value)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, math.nan
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, t_quantile(n - 1, level) * sd / math.sqrt(n)


def t_quantile(dof, level=0.95):
    """The two-sided Student-t quantile, from a table (scipy is not a dependency)."""
    if level != 0.95:
        raise ValueError("only the 95% level is tabulated")
    table = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
             11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093,
             20: 2.086}
    return table.get(dof, 1.96 + 2.4 / dof)  # beyond 20 degrees of freedom, within 0.01 of the exact value
