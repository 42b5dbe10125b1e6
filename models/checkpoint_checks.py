"""Every entry of a checkpoint checked before anything is built from it: the one gate of evaluate, predict, export
and train --resume.

A checkpoint is a file: it may come from another version of this program, from a disk that flipped a bit, or from
someone who edited it. So each entry is checked for its type, its range and, before anything is allocated from it,
its size; the first problem ends the command with one line naming the entry ('config.val_fraction must be in
[0, 1), got 5'). Then `numbers_problem` checks that the numbers can be used at all (finite weights, a positive
std, non-negative running variances): this is the check every command applies.

Versions. `FORMAT_VERSION` is (major, minor). A later minor version only adds entries: those this version does not
know are ignored with a warning naming them. A later major version changed the meaning of existing entries: it is
refused. A checkpoint without a version is from before versions were written (1.0): the config entries added since
take the value that means what that run did (see `training.saved_config`).
"""
import math
import numbers
import os

import numpy as np

from .images.printable import printable

FORMAT_VERSION = (1, 1)

# Upper bounds on the sizes read from a checkpoint (and from the flags): far above any useful model on this
# program's images, and far below what would exhaust the memory before anything can fail.
MAX_IMAGE_SIZE = 1024
MAX_WIDTH = 4096
MAX_LAYERS = 64
MAX_BLOCKS = 16
MAX_CLASSES = 1000
MAX_COUNT = 10 ** 9  # images, batches, epochs: bounds that only stop nonsense

TOP_LEVEL_KEYS = {"format", "format_version", "architecture", "model", "training_model", "optimizer", "scheduler",
                  "image_size", "mean", "std", "classes", "config", "num_images", "progress"}
ARCHITECTURE_KEYS = {"CatsDogsNet": {"name", "bn", "widths", "num_classes"},
                     "CatsDogsResNet": {"name", "bn", "widths", "blocks", "num_classes"}}
HISTORY_NUMBERS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds", "images_per_s")
# each row of progress.history holds the first four of HISTORY_NUMBERS (and its epoch) since the first checkpoints


class EntryProblem(ValueError):
    """What is wrong with one entry of a checkpoint: str() is 'entry NAME PROBLEM'."""

    def __init__(self, entry, problem):
        super().__init__(f"entry {entry} {problem}")
        self.entry = entry


# ---- the kinds of values ----------------------------------------------------------------------------------------

def is_integer(value):
    """An int (NumPy's too), not a bool: True is an int to Python, never a count here."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def entry_of(tree, name, entry):
    """tree[name], or an EntryProblem naming `entry` when it is missing."""
    if not isinstance(tree, dict) or name not in tree:
        raise EntryProblem(entry, "is missing")
    return tree[name]


def check_kind(value, entry, kind, choices=None, optional=False):
    """`value` is of `kind` ("int", "number", "bool", "str", "list", "dict"; None allowed when `optional`)."""
    if value is None and optional:
        return value
    tests = {"int": is_integer, "number": is_number, "bool": lambda v: isinstance(v, (bool, np.bool_)),
             "str": lambda v: isinstance(v, str), "list": lambda v: isinstance(v, (list, tuple)),
             "dict": lambda v: isinstance(v, dict), "array": lambda v: isinstance(v, np.ndarray)}
    if not tests[kind](value):
        names = {"int": "a whole number", "number": "a number", "bool": "true or false", "str": "a string",
                 "list": "a list", "dict": "a dict", "array": "an array"}
        raise EntryProblem(entry, f"must be {names[kind]}{' or None' if optional else ''}, got {short(value)}")
    if choices is not None and value not in choices:
        raise EntryProblem(entry, f"must be one of {', '.join(map(str, choices))}, got {short(value)}")
    return value


def check_range(value, entry, low=-math.inf, high=math.inf, kind="number", optional=False):
    """A finite number (a whole one for kind "int") with low <= value <= high."""
    check_kind(value, entry, kind, optional=optional)
    if value is None:
        return value
    # `not low <= x <= high` is also true for NaN, which every comparison rejects
    if not (math.isfinite(value) and low <= value <= high):
        raise EntryProblem(entry, f"must be between {low} and {high}, got {short(value)}")
    return value


def short(value, length=60):
    """repr(value), cut to fit in a one-line message (a checkpoint entry may hold a million numbers)."""
    text = repr(value)
    return text if len(text) <= length else text[:length] + "..."


# ---- the checks --------------------------------------------------------------------------------------------------

def check_entries(checkpoint, setting_problems, config_class, progress_class):
    """Check every entry of a loaded checkpoint (a dict carrying the catsdogs format tag); remove the entries this
    version does not know. Returns the names of the entries removed (for a warning); raises EntryProblem.

    `setting_problems`, `config_class` and `progress_class` are training.py's, passed in (training.py imports this
    module's callers).
    """
    unknown = [(None, name) for name in checkpoint if name not in TOP_LEVEL_KEYS]  # (parent entry, name)
    version = check_version(checkpoint)
    versioned = "format_version" in checkpoint
    architecture = check_architecture(checkpoint)
    classes = check_kind(entry_of(checkpoint, "classes", "classes"), "classes", "list")
    if not 2 <= len(classes) <= MAX_CLASSES or not all(isinstance(name, str) and name for name in classes) \
            or len(set(classes)) != len(classes):
        raise EntryProblem("classes", f"must list 2 to {MAX_CLASSES} distinct names, got {short(classes)}")
    if architecture["num_classes"] != len(classes):
        raise EntryProblem("architecture.num_classes", f"is {architecture['num_classes']}, but classes lists "
                                                       f"{len(classes)} names {short(classes)}")
    pools = pooling_count(architecture)
    check_range(entry_of(checkpoint, "image_size", "image_size"), "image_size", 2 ** pools, MAX_IMAGE_SIZE, "int")
    for name in ("mean", "std"):
        value = check_kind(entry_of(checkpoint, name, name), name, "array")
        if value.shape != (3,) or value.dtype.kind != "f":
            raise EntryProblem(name, f"must be 3 floating-point numbers (one per channel), got {value.dtype} "
                                     f"{value.shape}")
    check_range(entry_of(checkpoint, "num_images", "num_images"), "num_images", 0, MAX_COUNT, "int")
    for name in ("model", "training_model"):
        if name in checkpoint or name == "model":
            check_weights(entry_of(checkpoint, name, name), name)
    check_weights_fit(architecture, checkpoint["model"])
    check_kind(entry_of(checkpoint, "optimizer", "optimizer"), "optimizer", "dict")
    check_kind(entry_of(checkpoint, "scheduler", "scheduler"), "scheduler", "dict", optional=True)
    unknown += [("config", name) for name in check_config(checkpoint, versioned, setting_problems, config_class)]
    unknown += [("progress", name) for name in check_progress(checkpoint, versioned, progress_class)]
    for parent, name in unknown:
        (checkpoint[parent] if parent else checkpoint).pop(name)
    return version, [printable(name if parent is None else f"{parent}.{name}") for parent, name in unknown]


def check_version(checkpoint):
    """(major, minor) of the checkpoint's format: (1, 0) without one; a later major version is refused."""
    if "format_version" not in checkpoint:
        return (1, 0)
    version = checkpoint["format_version"]
    if not (isinstance(version, (list, tuple)) and len(version) == 2 and all(is_integer(part) and part >= 0
                                                                    for part in version)):
        raise EntryProblem("format_version", f"must be [major, minor], got {short(version)}")
    if version[0] > FORMAT_VERSION[0]:
        raise EntryProblem("format_version", f"is {version[0]}.{version[1]}: the checkpoint was written by a later "
                                             f"version of this program, whose format {version[0]} this version "
                                             f"(format {FORMAT_VERSION[0]}.{FORMAT_VERSION[1]}) cannot read; "
                                             f"upgrade tinygrad_bn")
    return tuple(version)


def check_architecture(checkpoint):
    architecture = check_kind(entry_of(checkpoint, "architecture", "architecture"), "architecture", "dict")
    name = check_kind(entry_of(architecture, "name", "architecture.name"), "architecture.name", "str",
                      choices=sorted(ARCHITECTURE_KEYS))
    resnet = name == "CatsDogsResNet"
    check_kind(entry_of(architecture, "bn", "architecture.bn"), "architecture.bn", "bool")
    if resnet and not architecture["bn"]:
        raise EntryProblem("architecture.bn", "must be true for a CatsDogsResNet (its blocks need BatchNorm)")
    widths = check_kind(entry_of(architecture, "widths", "architecture.widths"), "architecture.widths", "list")
    if not 1 <= len(widths) <= MAX_LAYERS:
        raise EntryProblem("architecture.widths", f"must hold 1 to {MAX_LAYERS} layers, got {len(widths)}")
    for i, width in enumerate(widths):
        if not (width == "M" and not resnet) and not (is_integer(width) and 1 <= width <= MAX_WIDTH):
            allowed = f"numbers of channels from 1 to {MAX_WIDTH}" + ("" if resnet else " or M")
            raise EntryProblem(f"architecture.widths[{i}]", f"must be one of the {allowed}, got {short(width)}")
    if not any(is_integer(width) for width in widths):
        raise EntryProblem("architecture.widths", f"holds no convolution: {short(widths)}")
    if resnet:
        check_range(entry_of(architecture, "blocks", "architecture.blocks"), "architecture.blocks", 1, MAX_BLOCKS,
                    "int")
    check_range(entry_of(architecture, "num_classes", "architecture.num_classes"), "architecture.num_classes", 2,
                MAX_CLASSES, "int")
    unknown = set(architecture) - ARCHITECTURE_KEYS[name]
    if unknown:  # an architecture is what the weights mean: an unknown part of it cannot be ignored
        raise EntryProblem(f"architecture.{sorted(unknown)[0]}", "is unknown to this version of the program")
    return architecture


def pooling_count(architecture):
    """How many times the model halves its maps: the image size must be at least 2 ** that."""
    if architecture["name"] == "CatsDogsResNet":
        return len(architecture["widths"]) - 1
    return sum(width == "M" for width in architecture["widths"])


def check_weights(weights, entry):
    """A state_dict: names to arrays of numbers (whether they fit the model is load_state_dict's to say)."""
    check_kind(weights, entry, "dict")
    for name, value in weights.items():
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu":
            raise EntryProblem(f"{entry}.{name}", f"must be an array of numbers, got {short(value)}")


def minimum_weight_count(architecture):
    """A lower bound on the number of weights of the model `architecture` describes: its 3x3 convolutions alone.
    Computed from the numbers, before anything is allocated."""
    channels, count = 3, 0
    for width in architecture["widths"]:
        if width != "M":
            count += 9 * channels * width
            channels = width
    return count


def check_weights_fit(architecture, weights):
    """Refuse an architecture larger than the weights the file holds, before the model is built: widths of
    100000 would allocate tens of gigabytes to learn only then that nothing fits."""
    needed, held = minimum_weight_count(architecture), sum(int(value.size) for value in weights.values())
    if needed > held:
        raise EntryProblem("architecture.widths", f"{short(architecture['widths'])} do not match this model: they "
                                                  f"need at least {needed:,} weights and the entry model holds "
                                                  f"{held:,}")


# The kinds of TrainConfig's fields, as a checkpoint stores them ("list": the widths, a tuple saved as a list).
CONFIG_KINDS = {"data": "str", "out": "str", "epochs": "int", "batch_size": "int", "lr": "number", "schedule": "str",
                "momentum": "number", "nesterov": "bool", "weight_decay": "number", "label_smoothing": "number",
                "image_size": "int", "progressive": "int?", "val_fraction": "number", "limit": "int?", "seed": "int",
                "bn": "bool", "arch": "str", "widths": "list", "blocks": "int", "ema": "number?", "mixup": "number",
                "tta": "bool", "val_every": "int", "recipe": "str?", "init_scale": "number", "device": "str?",
                "workers": "int", "resume": "str?"}
# The settings every checkpoint holds, also those written before format versions; such a checkpoint may lack the
# others (added since), which then take the value that means what its run did (training.saved_config). A versioned
# checkpoint holds every setting.
FIRST_SETTINGS = {"data", "epochs", "batch_size", "lr", "momentum", "weight_decay", "image_size", "val_fraction",
                  "limit", "seed", "bn", "widths"}


def check_config(checkpoint, versioned, setting_problems, config_class):
    """The training settings: each of its kind, then every range training itself checks; returns the unknown
    names (ignored)."""
    config = check_kind(entry_of(checkpoint, "config", "config"), "config", "dict")
    unknown = [name for name in config if name not in CONFIG_KINDS]
    for name, kind in CONFIG_KINDS.items():
        entry = f"config.{name}"
        if name not in config:
            if versioned or name in FIRST_SETTINGS:
                raise EntryProblem(entry, "is missing")
            continue
        check_kind(config[name], entry, kind.rstrip("?"), optional=kind.endswith("?"))
        if kind.rstrip("?") in ("int", "number") and config[name] is not None \
                and not math.isfinite(config[name]):
            raise EntryProblem(entry, f"must be finite, got {config[name]}")
    check_kind(config.get("schedule"), "config.schedule", "str", choices=["constant", "onecycle"], optional=True)
    check_kind(config.get("device"), "config.device", "str", choices=["cpu", "cuda"], optional=True)
    if not os.path.isabs(config["data"]):  # the run stores the absolute path of its images
        raise EntryProblem("config.data", f"must be the absolute path of a folder, got {short(config['data'])}")
    widths = config["widths"]
    if not all(width == "M" or is_integer(width) for width in widths) or len(widths) > MAX_LAYERS:
        raise EntryProblem("config.widths", f"must be numbers of channels and M, got {short(widths)}")
    settings = {name: value for name, value in config.items() if name in CONFIG_KINDS}
    settings = {"progressive": None, **settings, "widths": tuple(widths)}
    problems = setting_problems(config_class(**settings))
    if problems:  # 'val_fraction must be in [0, 1), got 5' -> entry config.val_fraction ...
        name, _, rest = problems[0].partition(" ")
        raise EntryProblem(f"config.{name}" if name in CONFIG_KINDS else "config", rest if name in CONFIG_KINDS
                           else problems[0])
    architecture = checkpoint["architecture"]
    saved_model = {"arch": "resnet" if architecture["name"] == "CatsDogsResNet" else "vgg",
                   "widths": list(architecture["widths"]), "bn": architecture["bn"],
                   "blocks": architecture.get("blocks", 1)}
    saved_config = {**config, "widths": list(widths)}
    for name, value in saved_model.items():  # --resume builds the model from the config: it must be this one
        if saved_config.get(name, value) != value:
            raise EntryProblem(f"config.{name}", f"is {short(config[name])}, but the model (entry architecture) "
                                                 f"has {short(value)}")
    if config["image_size"] != checkpoint["image_size"]:
        raise EntryProblem("config.image_size", f"is {config['image_size']}, but the entry image_size is "
                                                f"{checkpoint['image_size']}")
    return unknown


PROGRESS_RANGES = {"epoch": ("int", 0, MAX_COUNT), "step": ("int", 0, MAX_COUNT), "loss_sum": ("number", 0, math.inf),
                   "correct": ("number", 0, MAX_COUNT), "seen": ("int", 0, MAX_COUNT),
                   "train_seconds": ("number", 0, math.inf), "best_accuracy": ("number", -1, math.inf)}


def check_progress(checkpoint, versioned, progress_class):
    """Where the run stopped: counts in range, consistent with each other and with the settings; returns the
    unknown names (ignored). A checkpoint from before format versions may lack the running sums (they then start
    from Progress's defaults, as they did); a versioned one holds them all."""
    progress = check_kind(entry_of(checkpoint, "progress", "progress"), "progress", "dict")
    known = set(PROGRESS_RANGES) | {"history"}
    for name, (kind, low, high) in PROGRESS_RANGES.items():
        if name in progress or versioned or name in ("epoch", "step"):
            check_range(entry_of(progress, name, f"progress.{name}"), f"progress.{name}", low, high, kind)
    progress = {**vars(progress_class()), **progress}  # the defaults of what an old checkpoint lacks
    epochs = checkpoint["config"].get("epochs")
    if progress["epoch"] > epochs:
        raise EntryProblem("progress.epoch", f"is {progress['epoch']}, more than the run's {epochs} epochs")
    if progress["step"] > 0 and progress["seen"] == 0:
        raise EntryProblem("progress.seen", f"is 0 after {progress['step']} batches")
    if progress["correct"] > progress["seen"]:
        raise EntryProblem("progress.correct", f"is {progress['correct']}, more than the {progress['seen']} images "
                                               f"seen")
    history = check_kind(entry_of(checkpoint["progress"], "history", "progress.history"), "progress.history", "list")
    if len(history) > MAX_COUNT:
        raise EntryProblem("progress.history", "is too long")
    for i, row in enumerate(history):
        entry = f"progress.history[{i}]"
        check_kind(row, entry, "dict")
        check_range(entry_of(row, "epoch", f"{entry}.epoch"), f"{entry}.epoch", 1, MAX_COUNT, "int")
        for name in HISTORY_NUMBERS[:4]:  # those every row has had (the plot draws them); the others may be missing
            entry_of(row, name, f"{entry}.{name}")
        check_range(row.get("image_size"), f"{entry}.image_size", 1, MAX_IMAGE_SIZE, "int", optional=True)
        for name in HISTORY_NUMBERS:
            value = row.get(name)
            if value is not None and not is_number(value):
                raise EntryProblem(f"{entry}.{name}", f"must be a number or None, got {short(value)}")
    assert known == set(progress_class.__dataclass_fields__), "PROGRESS_RANGES must list every field of Progress"
    return [name for name in checkpoint["progress"] if name not in known]


# ---- can the numbers be used? -----------------------------------------------------------------------------------

def numbers_problem(checkpoint):
    """Why the checkpoint's numbers cannot give meaningful outputs, or None: NaN or infinite weights, momentum
    buffers or normalisation statistics, a std that is not positive (the input is divided by it), a negative
    BatchNorm running variance (its square root is taken). Every command applies this one check."""
    weights = {key: checkpoint[key] for key in ("model", "training_model", "optimizer") if key in checkpoint}
    bad = non_finite_entries(weights)
    if bad:
        return f"it holds non-finite weights ({describe_entries(bad)})"
    for name in ("mean", "std"):
        if not np.isfinite(checkpoint[name]).all():
            return f"its entry {name} is not finite: {checkpoint[name].tolist()}"
    # statistics of pixels scaled to [0, 1]: the mean lies in [0, 1] and the std in (0, 0.5]; each input channel is
    # divided by the std
    if not ((checkpoint["mean"] >= 0) & (checkpoint["mean"] <= 1)).all():
        return f"its entry mean must lie in [0, 1] (pixels scaled to 0..1): {checkpoint['mean'].tolist()}"
    if not ((checkpoint["std"] > 0) & (checkpoint["std"] <= 1)).all():
        return f"its entry std must be positive, at most 1: {checkpoint['std'].tolist()}"
    for key in ("model", "training_model"):
        for name, value in checkpoint.get(key, {}).items():
            if name.endswith("running_var") and (value < 0).any():
                return f"its entry {key}.{name} holds negative variances (min {value.min():.4g})"
    return None


def non_finite_entries(tree, prefix=""):
    """The names ('model/features.1.running_var', ...) of the arrays and numbers in a nested dict/list holding NaN
    or inf: the loss can stay finite while a BatchNorm running variance overflows."""
    if isinstance(tree, dict):
        items = tree.items()
    elif isinstance(tree, (list, tuple)):
        items = enumerate(tree)
    elif isinstance(tree, np.ndarray):
        return [prefix] if tree.dtype.kind == "f" and not np.isfinite(tree).all() else []
    else:  # a learning rate or a momentum in an optimizer's state
        return [prefix] if isinstance(tree, float) and not math.isfinite(tree) else []
    return [name for key, value in items for name in non_finite_entries(value, f"{prefix}/{key}" if prefix else
                                                                         str(key))]


def describe_entries(names, shown=3):
    """'a, b, c and 4 more' for a message of one line."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


# ---- optimizer, scheduler and weights against freshly built ones ----------------------------------------------------

def structure_problem(saved, fresh, entry):
    """Check that `saved` (from the checkpoint) has the structure of `fresh` (what this program builds now): the
    same keys, list lengths, kinds of values and array shapes, with finite numbers. Raises EntryProblem."""
    if isinstance(fresh, dict):
        check_kind(saved, entry, "dict")
        for key in fresh:
            if key not in saved:
                raise EntryProblem(f"{entry}.{key}", "is missing")
        for key in saved:
            if key not in fresh:
                raise EntryProblem(f"{entry}.{key}", "is not expected here")
            structure_problem(saved[key], fresh[key], f"{entry}.{key}")
    elif isinstance(fresh, (list, tuple)):
        check_kind(saved, entry, "list")
        if len(saved) != len(fresh):
            raise EntryProblem(entry, f"must hold {len(fresh)} items, got {len(saved)}")
        for i, (saved_item, fresh_item) in enumerate(zip(saved, fresh)):
            structure_problem(saved_item, fresh_item, f"{entry}[{i}]")
    elif isinstance(fresh, np.ndarray):
        check_kind(saved, entry, "array")
        if saved.shape != fresh.shape or (saved.dtype.kind == "f") != (fresh.dtype.kind == "f") \
                or saved.dtype.kind not in "fiu":
            raise EntryProblem(entry, f"must be a {fresh.dtype} array of shape {fresh.shape}, got {saved.dtype} "
                                      f"{saved.shape}")
    elif isinstance(fresh, (bool, np.bool_)):
        check_kind(saved, entry, "bool")
    elif is_integer(fresh):
        check_range(saved, entry, kind="int")
    elif is_number(fresh):
        check_range(saved, entry)
    elif fresh is None or isinstance(fresh, str):
        if type(saved) is not type(fresh):
            raise EntryProblem(entry, f"must be {short(fresh)}-like, got {short(saved)}")


def check_optimizer(saved, optimizer, trained, entry="optimizer"):
    """An SGD state_dict that fits `optimizer`, built for this model from the run's settings: the same groups of
    the same parameters, the same fixed hyperparameters (weight decay, the schedule's bounds...), the lr and the
    momentum within the schedule's bounds, and (once `trained`) a momentum buffer of each parameter's shape.
    A weight decay of 1e300 would otherwise turn the loss into NaN a step later."""
    fresh = optimizer.state_dict()
    check_kind(saved, entry, "dict")
    structure_problem({key: value for key, value in saved.items() if key != "state"},
                      {key: value for key, value in fresh.items() if key != "state"}, entry)
    for i, (group, fresh_group) in enumerate(zip(saved["param_groups"], fresh["param_groups"])):
        for name, value in fresh_group.items():
            where = f"{entry}.param_groups[{i}].{name}"
            if name in ("lr", "momentum"):  # moved by the schedule: between its bounds
                bounds = {"lr": ("min_lr", "max_lr"), "momentum": ("base_momentum", "max_momentum")}[name]
                low, high = (fresh_group.get(bound, value) for bound in bounds)
                check_range(group[name], where, min(low, high, value), max(low, high, value))
            elif group[name] != value:
                raise EntryProblem(where, f"is {short(group[name])}, but the run's settings give {short(value)}")
    shapes = [tuple(p.shape) for group in optimizer.param_groups for p in group["params"]]
    states = check_kind(entry_of(saved, "state", f"{entry}.state"), f"{entry}.state", "dict")
    if trained and fresh["param_groups"][0]["momentum"] > 0 and len(states) != len(shapes):
        # after a step every parameter has a momentum buffer: starting one from zero would change the run
        raise EntryProblem(f"{entry}.state", f"holds the momentum buffers of {len(states)} parameters, not of all "
                                             f"{len(shapes)}")
    for index, state in states.items():
        where = f"{entry}.state.{index}"
        if not (str(index).isdigit() and int(index) < len(shapes)):
            raise EntryProblem(where, f"names no parameter (there are {len(shapes)})")
        for name, value in check_kind(state, where, "dict").items():
            structure_problem(value, np.zeros(shapes[int(index)], np.float32), f"{where}.{name}")


def check_scheduler(saved, scheduler, entry="scheduler"):
    """A OneCycleLR state_dict of the fresh one's structure, at a step the schedule has."""
    if scheduler is None:
        if saved is not None:
            raise EntryProblem(entry, "must be None for a run with a constant learning rate")
        return
    fresh = scheduler.state_dict()
    structure_problem(saved, fresh, entry)
    if saved["total_steps"] < fresh["total_steps"]:  # the schedule would end before the run and raise there
        raise EntryProblem(f"{entry}.total_steps", f"is {saved['total_steps']}, fewer than the "
                                                   f"{fresh['total_steps']} steps of this run")
    if not 0 <= saved["last_epoch"] <= saved["total_steps"]:
        raise EntryProblem(f"{entry}.last_epoch", f"must be between 0 and total_steps {saved['total_steps']}, "
                                                  f"got {saved['last_epoch']}")
