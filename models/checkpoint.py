"""Checkpoints and data for the cats-vs-dogs program, with errors a user can act on.

A checkpoint is one .npz file written by `tg.save` (atomically: a crash mid-write keeps the previous file):

    format        CHECKPOINT_FORMAT, so other .npz files are refused with a clear message
    format_version  [major, minor] (FORMAT_VERSION; none before 1.1): see checkpoint_checks.py, which checks every
                  entry below when a checkpoint is loaded
    architecture  what builds the model again: {"name": "CatsDogsNet", "bn": True, "widths": [...], "num_classes": 2}
                  (or "CatsDogsResNet", with "blocks"): catsdogs_net.build_model reads it
    model         the state_dict (PyTorch's key names) of the model to use: the one validated during training, so
                  with --ema the exponential moving average of the weights
    training_model  with --ema only: the state_dict of the weights being trained, for --resume
    optimizer     SGD's state_dict (momentum buffers, lr and momentum of the current step)
    scheduler     OneCycleLR's state_dict (its step count), or None
    image_size, mean, std, classes    everything evaluate and predict need to prepare an image and name the answer
    config        every training setting (TrainConfig), data = the absolute path of the training images
    num_images    how many images that folder held, to notice when it changed
    progress      epoch, batches done in it, the running sums of that epoch, best accuracy, history
"""
import sys
import warnings
from pathlib import Path

import numpy as np

import tinygrad_bn as tg
from .catsdogs_net import build_model
from .checkpoint_checks import (FORMAT_VERSION, EntryProblem, check_entries, check_optimizer, check_scheduler,
                                numbers_problem, structure_problem)
from .checkpoint_checks import describe_entries, non_finite_entries  # noqa: F401 (they were defined here)
from tinygrad_bn.backend import check_device, cupy_module
from .images import SkippedImagesWarning, cache_size, load_dataset, resolve_data_dir
from .images.folders import LayoutWarning
from .images.images import file_kind
from .images.printable import printable

CHECKPOINT_FORMAT = "tinygrad_bn catsdogs checkpoint v1"


class CatsDogsError(Exception):
    """A problem the user can fix (a missing folder, a bad checkpoint): the program prints it in one line."""


def load_data(data, image_size, limit=None, seed=0):
    """(LabelledImages, absolute path) of the images under `data` (None: $TINYGRAD_BN_DATA or data/dogs-vs-cats)."""
    root = Path(resolve_data_dir(data)).resolve()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SkippedImagesWarning)
        try:
            dataset = load_dataset(root, size=cache_size(image_size), limit=limit, seed=seed)
        except (OSError, ValueError) as error:  # missing folder, no images, one class only, nothing decodable
            raise CatsDogsError(str(error)) from None
    for warning in caught:
        if issubclass(warning.category, (SkippedImagesWarning, LayoutWarning)):  # one line, no source location
            print(f"warning: {warning.message}", file=sys.stderr)
        else:
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
    return dataset, str(root)


def resolve_device(device):
    """The device name, "cpu" or "cuda" (None: $TINYGRAD_BN_DEVICE, else cpu), checking that CuPy sees a GPU."""
    try:
        device = check_device(device)
        if device == "cuda":
            cupy_module()
    except (ValueError, RuntimeError) as error:  # a bad $TINYGRAD_BN_DEVICE, no CuPy, no GPU: the message says why
        raise CatsDogsError(str(error)) from None
    return device


def checkpoint_contents(model, optimizer, scheduler, config, progress, classes, mean, std, num_images, ema_model=None):
    """The dict `tg.save` writes (see the module docstring); `config` and `progress` are plain dicts. With an
    `ema_model` (the moving average of `model`'s weights) that is the model to use, and `model` the one to resume."""
    contents = {
        "format": CHECKPOINT_FORMAT,
        "format_version": list(FORMAT_VERSION),
        "architecture": model.architecture(),
        "model": (model if ema_model is None else ema_model).state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "image_size": config["image_size"],
        "mean": np.asarray(mean, dtype=np.float32),
        "std": np.asarray(std, dtype=np.float32),
        "classes": list(classes),
        "config": config,
        "num_images": num_images,
        "progress": progress,
    }
    if ema_model is not None:
        contents["training_model"] = model.state_dict()
    return contents


def find_checkpoint(path):
    """`path` itself, or for a run folder its best.npz (else last.npz)."""
    path = Path(path)
    if path.is_dir():
        for name in ("best.npz", "last.npz"):
            if (path / name).is_file():
                return path / name
        raise CatsDogsError(f"no best.npz or last.npz in {printable(path)}")
    if not path.exists():
        raise CatsDogsError(f"checkpoint not found: {printable(path)}")
    if not path.is_file():  # reading a named pipe would wait for a writer for ever
        raise CatsDogsError(f"not a tinygrad_bn checkpoint: {printable(path)} (not a regular file but "
                            f"{file_kind(path.stat().st_mode)})")
    return path


def load_checkpoint(path):
    """The checkpoint dict at `path` (a file or a run folder), or a CatsDogsError saying why it can't be used."""
    path = find_checkpoint(path)
    try:
        checkpoint = tg.load(path)
    except Exception as error:  # NumPy and zipfile raise many types on a truncated or foreign file
        raise CatsDogsError(f"not a tinygrad_bn checkpoint: {path} ({why_unreadable(path, error)})") from None
    problem = format_problem(checkpoint)
    if problem:
        raise CatsDogsError(f"not a tinygrad_bn checkpoint: {path} ({problem})")
    # training.py imports this module, and its settings are what the entry `config` is checked against
    from .training import Progress, TrainConfig, setting_problems
    try:
        _, ignored = check_entries(checkpoint, setting_problems, TrainConfig, Progress)
    except EntryProblem as error:
        raise CatsDogsError(f"unusable checkpoint {path}: {error}") from None
    if ignored:
        print(f"warning: {path} holds entries this version does not know, ignored: {', '.join(ignored)}",
              file=sys.stderr)
    problem = numbers_problem(checkpoint)
    if problem:
        raise CatsDogsError(f"unusable checkpoint {path}: {problem}: its outputs would be meaningless")
    checkpoint["path"] = str(path)
    return checkpoint


# The first bytes of the files people mistake for a checkpoint; NumPy's own message for them (advice to allow
# pickles, or a context-manager TypeError) says nothing useful.
FILE_SIGNATURES = {b"PK\x03\x04": None, b"\x93NUMPY": "it is a single .npy array, not an .npz archive",
                   b"\xff\xd8\xff": "it is a JPEG image", b"\x89PNG": "it is a PNG image", b"GIF8": "it is a GIF image",
                   b"\x80": "it is a Python pickle"}


def why_unreadable(path, error):
    """Why `tg.load` failed on `path`, in words: what the file is instead, or the zip/NumPy error."""
    with open(path, "rb") as file:
        head = file.read(8)
    if not head:
        return "the file is empty"
    for signature, kind in FILE_SIGNATURES.items():
        if head.startswith(signature):
            return kind or f"a damaged or truncated .npz archive: {type(error).__name__}: {error}"
    return f"not an .npz archive: it starts with the bytes {head.hex(' ')}"


def format_problem(checkpoint):
    """Why a loaded .npz is not a catsdogs checkpoint this version can read (its format tag), or None."""
    tag = checkpoint.get("format") if isinstance(checkpoint, dict) else None
    if tag == CHECKPOINT_FORMAT:
        return None
    if isinstance(tag, str) and tag.startswith(CHECKPOINT_FORMAT[:-1]):  # "... v2": the major version in the tag
        return (f"its format is {tag!r}, from a later version of this program; this version reads "
                f"{CHECKPOINT_FORMAT!r}: upgrade tinygrad_bn")
    return "an .npz without the catsdogs format tag, so not made by `python -m models.catsdogs train`"


def model_from_checkpoint(checkpoint, device="cpu"):
    """The trained model of a checkpoint (a CatsDogsNet or a CatsDogsResNet), on `device`, in eval mode."""
    try:
        model = build_model(checkpoint["architecture"])
    except (KeyError, TypeError, ValueError) as error:
        raise CatsDogsError(f"checkpoint {checkpoint['path']} does not match this model: {error}") from None
    load_weights(model, checkpoint)
    return model.to(device).eval()


def load_weights(model, checkpoint, key="model"):
    try:
        structure_problem(checkpoint[key], model.state_dict(), key)  # names, shapes and kinds, before copying
    except EntryProblem as error:
        raise CatsDogsError(f"checkpoint {checkpoint['path']} does not match this model: {error}") from None
    try:
        model.load_state_dict(checkpoint[key])
    except (KeyError, RuntimeError, ValueError) as error:  # missing/unexpected keys, or shapes that differ
        message = " ".join(str(error).split())  # load_state_dict lists the keys on several lines
        raise CatsDogsError(f"checkpoint {checkpoint['path']} does not match this model: {message}") from None


def restore_training_state(checkpoint, model, optimizer, scheduler, ema_model=None):
    """Weights, momentum buffers and schedule position from `checkpoint`, into freshly built training objects (and
    the moving average of the weights into `ema_model`, for a run with --ema)."""
    if checkpoint["architecture"] != model.architecture():
        raise CatsDogsError(f"checkpoint {checkpoint['path']} does not match this model: it holds "
                            f"{checkpoint['architecture']}, the run builds {model.architecture()}")
    if (ema_model is not None) != ("training_model" in checkpoint):
        raise CatsDogsError(f"checkpoint {checkpoint['path']} does not match this run: "
                            + ("the run keeps a moving average of the weights (--ema), the checkpoint does not"
                               if ema_model is not None else "it holds a moving average (--ema) the run lacks"))
    if ema_model is None:
        load_weights(model, checkpoint)
    else:
        load_weights(model, checkpoint, "training_model")
        load_weights(ema_model, checkpoint)
    try:  # the optimizer and the schedule take any dict: they are checked against the ones built for this run
        done = checkpoint["progress"]
        check_optimizer(checkpoint["optimizer"], optimizer, trained=done["epoch"] > 0 or done["step"] > 0)
        check_scheduler(checkpoint["scheduler"], scheduler)
    except EntryProblem as error:
        raise CatsDogsError(f"checkpoint {checkpoint['path']} does not match this run (built from its entry config): "
                            f"{error}") from None
    optimizer.load_state_dict(checkpoint["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(checkpoint["scheduler"])
