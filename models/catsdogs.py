"""The cats-vs-dogs program: train a CatsDogsNet, evaluate a checkpoint, label new images.

    python -m models.catsdogs train --data ../shared/data/dogs-vs-cats/train --out runs/bn
    python -m models.catsdogs train --resume runs/bn      # after Ctrl-C or SIGTERM: continues last.npz exactly
    python -m models.catsdogs evaluate --checkpoint runs/bn/best.npz --data ../shared/data/dogs-vs-cats/train
    python -m models.catsdogs predict --checkpoint runs/bn/best.npz my_cat.jpg holiday_photos/ --grid photos.png
    python -m models.catsdogs train --recipe strong --out runs/strong   # 13 epochs, EMA, smoothing, flip averaging
    python -m models.catsdogs export --checkpoint runs/bn/best.npz --onnx catsdogs.onnx   # see export.py

(`catsdogs train ...` once installed with pip). The model is in catsdogs_net.py, the training loop in training.py,
what a checkpoint holds in checkpoint.py, the metrics, CSV and plot in reports.py, the run folder's lock and its
repair after an interruption in runfolder.py.

Evaluate and predict need nothing but the checkpoint: it carries the image size, the normalisation statistics and
the class names. Evaluate also draws its most confident mistakes and a reliability diagram (figures.py), into the
checkpoint's run folder unless --figures says where.

Problems a user can fix (a missing folder, a folder with one class, a broken or foreign checkpoint, a run folder that
can't be written or that another training holds, a failed save) end the program with one line on stderr and exit
status 2, as do bad flags (argparse's checks, before anything is loaded); a diverging loss, or
weights that went non-finite, end it with status 1 and leave the last good checkpoint as it was. Ctrl-C ends it
with status 130, SIGTERM with 143 and SIGHUP with 129, train having saved its exact position first. A reader that
closes our output early (`predict ... | head -1`) ends evaluate, predict and export quietly with status 0; train
goes on to the end without its output.
"""
import argparse
import json
import math
import os
import re
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .checkpoint import CatsDogsError, load_checkpoint, load_data, model_from_checkpoint, resolve_device
from .export import add_export_parser
from .figures import GRID_MAX_IMAGES, load_thumbnails, plot_prediction_grid, write_evaluation_figures
from .recipes import RECIPES
from .reports import format_report, metrics_from_outputs, model_outputs, predict_probabilities
from .runfolder import check_unlocked
from .catsdogs_net import ARCHES, DEFAULT_WIDTHS, RESNET_WIDTHS
from .training import (OUT, NonFiniteLossError, Terminated, TrainConfig, raise_terminated, saved_config,
                       setting_problems, train)
from .images import (balanced_subset, cache_size, image_loader, is_image_name, printable, read_image,
                     resolve_data_dir, train_val_split)
from .images.cache import CACHE_ENV_VAR

# The settings that define a run's recipe: taken from the checkpoint on --resume.
RECIPE_SETTINGS = ["epochs", "batch_size", "lr", "momentum", "weight_decay", "label_smoothing", "image_size",
                   "val_fraction", "limit", "seed", "bn", "arch", "widths", "blocks", "ema", "mixup", "tta", "recipe",
                   "progressive", "val_every"]
EVAL_BATCH_SIZE = 128
CACHE_DIR_HELP = (f"folder for the decoded-image cache (default: ${CACHE_ENV_VAR}, else $XDG_CACHE_HOME/tinygrad_bn or "
                  "~/.cache/tinygrad_bn)")


def main(argv=None):
    args = build_parser().parse_args(argv)
    if getattr(args, "cache_dir", None):  # default_cache_dir reads it wherever the images get loaded
        os.environ[CACHE_ENV_VAR] = args.cache_dir
    if args.command == "train":
        check_train_flags(args)
    with printable_output(), terminate_as_interrupt():
        try:
            if args.command == "train":  # a reader that went away must not stop a training: its output is dropped
                with output_dropped_when_closed():
                    args.run(args)
            else:
                args.run(args)
            sys.stdout.flush()  # a closed pipe shows here, not at exit, where Python could only complain
        except CatsDogsError as error:
            report_error(args.command, error)
            return 2
        except NonFiniteLossError as error:
            report_error(args.command, error)
            return 1
        except Terminated as stop:  # train has already said what it saved; the other commands say nothing else
            report_error(args.command, f"stopped by {signal.Signals(stop.signum).name}", prefix="")
            return 128 + stop.signum  # the shell's convention for "stopped by signal N": 143 for SIGTERM
        except KeyboardInterrupt:
            return 130  # the shell's convention for "stopped by Ctrl-C"; train has already said what it saved
        except BrokenPipeError:
            # the reader of our output went away (`predict ... | head -1`): nothing more to say, and no one to say
            # it to. As Python's documentation recommends, point the streams at /dev/null so that the buffered
            # output flushed at exit does not raise again, and end quietly.
            silence(sys.stdout, sys.stderr)
            return 0
    return 0


def report_error(command, error, prefix="error: "):
    """The one line of a failed command, on stderr (unless its reader went away too: `... 2>&1 | head -1`)."""
    try:
        print(f"catsdogs {command}: {prefix}{error}", file=sys.stderr)
    except BrokenPipeError:
        silence(sys.stdout, sys.stderr)


@contextmanager
def terminate_as_interrupt():
    """SIGTERM (sent by `timeout`, `docker stop`, batch schedulers) and SIGHUP (a closed terminal or ssh session)
    raise Terminated, a KeyboardInterrupt: train saves its exact position as on Ctrl-C, and a cache being built
    removes its temporary file. Without this the process would end at once, running no cleanup."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    # a signal ignored on purpose stays ignored: `nohup catsdogs train` must survive the closed terminal
    previous = {signum: signal.signal(signum, raise_terminated) for signum in (signal.SIGTERM, signal.SIGHUP)
                if signal.getsignal(signum) is not signal.SIG_IGN}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def printable_output():
    """Text that cannot be encoded (a file name that is not valid UTF-8 holds surrogates such as '\\udce9') is
    written escaped instead of stopping the command: the messages name such files with `printable`, this is the
    net under every other print."""
    streams = [stream for stream in (sys.stdout, sys.stderr) if hasattr(stream, "reconfigure")]
    previous = [stream.errors for stream in streams]
    for stream in streams:
        stream.reconfigure(errors="backslashreplace")
    try:
        yield
    finally:
        for stream, errors in zip(streams, previous):
            stream.reconfigure(errors=errors)


@contextmanager
def output_dropped_when_closed():
    """sys.stdout and sys.stderr replaced by streams that, once their reader has gone, drop the rest of the text
    instead of raising BrokenPipeError in the middle of a training step."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = DropWhenClosed(sys.stdout), DropWhenClosed(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


class DropWhenClosed:
    """A text stream that writes to `stream` until its reader goes away, then to /dev/null."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        try:
            return self.stream.write(text)
        except BrokenPipeError:
            silence(self.stream)
            return len(text)

    def flush(self):
        try:
            self.stream.flush()
        except BrokenPipeError:
            silence(self.stream)

    def __getattr__(self, name):  # isatty, fileno, encoding...: the stream's own
        return getattr(self.stream, name)


def silence(*streams):
    """Point each stream's file descriptor at /dev/null (the text still buffered then goes nowhere, quietly)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in streams:
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError, AttributeError):  # no file descriptor (a test's captured stream)
            pass
    os.close(devnull)


# ---------------------------------------------------------------------------------------------------------------------
# train
# ---------------------------------------------------------------------------------------------------------------------
def train_command(args):
    resume = args.resume
    if resume == "":  # --resume without a path: the last checkpoint of --out
        resume = str(Path(args.out or OUT) / "last.npz")
    elif resume and Path(resume).is_dir():  # a run folder: continue from where it stopped, last.npz, not best.npz
        resume = str(Path(resume) / "last.npz")
        if not Path(resume).is_file():
            raise CatsDogsError(f"no last.npz in {printable(args.resume)} to resume from")
    out = args.out or (str(Path(resume).parent) if resume else OUT)
    check_unlocked(out)  # before the next message, which would send the user to --resume a run still going
    if not resume and (Path(out) / "last.npz").exists():
        raise CatsDogsError(f"{out} already holds a run (last.npz): continue it with --resume, or pick another --out")

    given = given_settings(args)
    if resume:
        saved = vars(saved_config(load_checkpoint(resume)))
        for name, value in given.items():
            if value != saved[name]:
                print(f"note: --{name.replace('_', '-')} {value} ignored: a resumed run keeps its own "
                      f"{name} ({saved[name]})", file=sys.stderr)
        config = TrainConfig(data=args.data, out=out, device=args.device, workers=args.workers, resume=resume)
    else:
        config = TrainConfig(data=args.data, out=out, device=args.device, workers=args.workers, **given)

    history = train(config)
    if history and history[-1]["val_accuracy"] is not None:
        best = max((row for row in history if row["val_accuracy"] is not None), key=lambda row: row["val_accuracy"])
        print(f"best validation accuracy {best['val_accuracy']:.4f} at epoch {best['epoch']}; "
              f"checkpoints, metrics.csv and curves.png in {out}")


def given_settings(args):
    """The recipe settings given on the command line: a --recipe's preset, overridden by the flags given."""
    given = {}
    if args.recipe is not None:
        given = {**RECIPES[args.recipe], "recipe": args.recipe}
    given.update({name: getattr(args, name) for name in RECIPE_SETTINGS
                  if name != "recipe" and getattr(args, name) is not None})
    return given


# ---------------------------------------------------------------------------------------------------------------------
# evaluate
# ---------------------------------------------------------------------------------------------------------------------
def evaluate_command(args):
    checkpoint = load_checkpoint(args.checkpoint)
    figures_folder = None if args.no_figures else Path(args.figures or Path(checkpoint["path"]).parent)
    if figures_folder is not None:  # now, not after the whole evaluation, whose numbers would then be lost
        check_figures_folder(figures_folder)
    device = resolve_device(args.device)
    model = model_from_checkpoint(checkpoint, device)
    saved = checkpoint["config"]
    root = Path(resolve_data_dir(args.data)).resolve()
    is_training_data = os.path.realpath(root) == os.path.realpath(saved["data"])
    # On the training folder, the default is the validation split the run held out: images it never trained on.
    split = args.split or ("val" if is_training_data else "all")
    if split == "val":
        if not is_training_data:
            raise CatsDogsError(f"--split val needs the checkpoint's training folder {printable(saved['data'])}; "
                                f"use --split all to evaluate every image of {printable(root)}")
        data, _ = load_data(root, checkpoint["image_size"], saved["limit"], saved["seed"])
        if len(data.labels) != checkpoint["num_images"]:
            print(f"warning: {printable(root)} held {checkpoint['num_images']} images when the model was trained and "
                  f"holds {len(data.labels)} now, so its validation split differs and may include training images",
                  file=sys.stderr)
        _, indices = train_val_split(data.labels, saved["val_fraction"], saved["seed"])
        if len(indices) == 0:
            raise CatsDogsError("the model was trained without a validation split (--val-fraction 0): "
                                "use --split all, or evaluate on another folder")
        if args.limit:
            indices = indices[balanced_subset(data.labels[indices], args.limit)]
    else:
        data, _ = load_data(root, checkpoint["image_size"], args.limit)
        indices = None

    classes = checkpoint["classes"]
    labels = labels_in_model_order(data, classes, root)
    loader = image_loader(data.images, labels, EVAL_BATCH_SIZE, indices=indices, image_size=checkpoint["image_size"],
                          mean=checkpoint["mean"], std=checkpoint["std"], device=device)
    tta = args.tta if args.tta is not None else bool(saved.get("tta", False))  # default: as the run validated
    log_p, loader_labels = model_outputs(model, loader, tta)
    metrics = metrics_from_outputs(log_p, loader_labels, classes)
    epochs_done = checkpoint["progress"]["epoch"]
    figures, figures_error = None, None
    if figures_folder is not None:
        description = (f"{printable(Path(checkpoint['path']).name)}, split {split}"
                       + (", flip-averaged" if tta else ""))
        try:
            figures = write_evaluation_figures(figures_folder, np.exp(log_p), loader_labels, data,
                                               loader.batch_sampler.indices, classes, split, description)
        except OSError as error:  # the folder was writable a minute ago (a full disk, removed since): say so after
            figures_error = CatsDogsError(f"cannot write the figures into {printable(figures_folder)}: "
                                          f"{error.strerror or error}; the numbers above are complete")
    if args.json:
        # strict JSON: a NaN loss becomes null, not the bare NaN that json.dumps writes by default
        print(json.dumps(finite_or_none({"checkpoint": checkpoint["path"], "data": str(root), "split": split,
                                         "epochs": epochs_done, "tta": tta, **metrics,
                                         "figures": figures}),
                         allow_nan=False))
    else:
        print(f"{printable(checkpoint['path'])} (after {epochs_done} epochs) on {printable(root)}, split '{split}': "
              f"{metrics['n']} images"
              + (", each averaged with its mirror image (--tta)" if tta else ""))
        print(format_report(metrics))
        if figures:
            shown, total = figures["mistakes_shown"], figures["mistakes_total"]
            which = f"all {total} mistakes" if shown == total else f"the {shown} most confident of {total} mistakes"
            print(f"figures: {printable(figures['mistakes'])} ({which}) and {printable(figures['calibration'])} "
                  f"(reliability diagram)")
    if figures_error is not None:
        raise figures_error


def check_figures_folder(folder):
    check_writable_folder(folder, f"cannot write the figures into {printable(folder)}",
                          "; choose another folder with --figures DIR, or --no-figures")


def check_writable_folder(folder, what, advice):
    """Create `folder` and write a byte there, or raise a CatsDogsError: '`what`: the reason`advice`'."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test.{os.getpid()}.tmp"
        probe.write_bytes(b"x")
        probe.unlink()
    except OSError as error:
        raise CatsDogsError(f"{what}: {error.strerror or error}{advice}") from None


def finite_or_none(value):
    """`value` with every NaN or infinite float, however deeply nested, replaced by None (JSON's null)."""
    if isinstance(value, dict):
        return {key: finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list):
        return [finite_or_none(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def labels_in_model_order(data, model_classes, root):
    """The data's labels renumbered as the model numbers its classes (both sort names, but be sure)."""
    unknown = [name for name in data.classes if name not in model_classes]
    if unknown:
        raise CatsDogsError(f"{root} has classes {unknown} that the model does not know (it knows {model_classes})")
    renumber = np.array([model_classes.index(name) for name in data.classes], dtype=np.int64)
    return renumber[data.labels]


# ---------------------------------------------------------------------------------------------------------------------
# predict
# ---------------------------------------------------------------------------------------------------------------------
def predict_command(args):
    checkpoint = load_checkpoint(args.checkpoint)
    if args.grid:  # now, not after every image was labelled
        check_writable_folder(Path(args.grid).parent, f"cannot write the grid {printable(args.grid)}", "")
    device = resolve_device(args.device)
    model = model_from_checkpoint(checkpoint, device)
    classes, image_size = checkpoint["classes"], checkpoint["image_size"]
    paths = image_paths(args.inputs)
    labelled = 0
    grid = []  # (path, decoded image, class name, probability) of the first images, for --grid
    with ThreadPoolExecutor() as pool:  # Pillow decodes outside the GIL: files decode in parallel
        for start in range(0, len(paths), 256):
            chunk = paths[start:start + 256]
            # decoded exactly as the training images were: short side to 1.125 x image_size, then the centre crop
            results = list(pool.map(lambda path: read_image(path, cache_size(image_size)), chunk))
            readable = []
            for path, (array, reason) in zip(chunk, results):
                if array is None:
                    print(f"skipping {printable(path)}: {reason}", file=sys.stderr)
                else:
                    readable.append((path, array))
            if not readable:
                continue
            images = np.stack([array for _, array in readable])
            loader = image_loader(images, np.zeros(len(images), dtype=np.int64), EVAL_BATCH_SIZE, image_size=image_size,
                                  mean=checkpoint["mean"], std=checkpoint["std"], device=device, workers=0)
            for (path, array), probabilities in zip(readable, predict_probabilities(model, loader, args.tta)):
                if not np.isfinite(probabilities).all():  # finite weights can still overflow on an odd image
                    print(f"skipping {printable(path)}: the model's output is not finite", file=sys.stderr)
                    continue
                k = int(probabilities.argmax())
                print(f"{printable(path)}\t{printable(classes[k])}\t{probabilities[k]:.4f}")
                labelled += 1
                if args.grid and len(grid) < GRID_MAX_IMAGES:
                    grid.append((path, array, classes[k], float(probabilities[k])))
    if labelled == 0:
        raise CatsDogsError("none of the files could be read as an image")
    if args.grid:
        write_prediction_grid(args.grid, grid, labelled)


def write_prediction_grid(path, grid, labelled):
    """The --grid PNG of predict: the first GRID_MAX_IMAGES labelled images with their class and probability."""
    names, arrays, labels, confidence = zip(*grid)
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        plot_prediction_grid(path, load_thumbnails(names, arrays), names, labels, confidence, total=labelled)
    except OSError as error:
        raise CatsDogsError(f"cannot write the grid {path}: {error.strerror or error}") from None
    more = f" (the first {len(grid)} of {labelled})" if labelled > len(grid) else ""
    print(f"wrote {path}: {len(grid)} labelled images{more}", file=sys.stderr)


def image_paths(inputs):
    """Files as given, and the image files under each folder (recursively, sorted, hidden ones left out)."""
    paths = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            # every entry named like an image but a folder is listed, also those that cannot be one (a dangling
            # link, a link loop, a named pipe, a socket): read_image then names each and says why it was skipped
            found = sorted(str(file) for file in path.rglob("*") if not file.is_dir()
                           and is_image_name(file.name)
                           and not any(part.startswith(".") for part in file.relative_to(path).parts))
            if not found:
                print(f"no image files in {printable(path)}", file=sys.stderr)
            paths += found
        elif path.exists() or path.is_symlink():
            paths.append(str(path))
        else:
            raise CatsDogsError(f"not found: {printable(path)}")
    if not paths:
        raise CatsDogsError(f"no image files in {', '.join(map(printable, inputs))}")
    return paths


# ---------------------------------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------------------------------
def check_train_flags(args):
    """Every training flag, and their combinations, checked before anything is loaded: argparse's one-line error
    and exit status 2 rather than a traceback minutes later. The flags not given take their defaults here."""
    problems = setting_problems(TrainConfig(workers=args.workers, **given_settings(args)))
    if problems:
        args.parser.error("; ".join(as_flag(problem) for problem in problems))


def as_flag(problem):
    """'batch_size must be ...' -> '--batch-size must be ...': the settings' names as the user typed them."""
    for name in RECIPE_SETTINGS + ["workers"]:
        problem = re.sub(rf"\b{name}\b", "--" + name.replace("_", "-"), problem)
    return problem


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_widths(text):
    """'32,32,M,64' -> (32, 32, 'M', 64)."""
    try:
        return tuple("M" if part.strip().upper() == "M" else int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers and M separated by commas, got {text!r}") from None


def build_parser():
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(prog="catsdogs", description="Train, evaluate and use a cats-vs-dogs CNN.")
    commands = parser.add_subparsers(dest="command", required=True)

    # Recipe options default to None, meaning "not given": the TrainConfig default, or on --resume the run's own.
    train_parser = commands.add_parser("train", help="train a model (or continue one with --resume)")
    train_parser.set_defaults(run=train_command, parser=train_parser)
    option = train_parser.add_argument
    option("--data", help="image folder (default: $TINYGRAD_BN_DATA, else data/dogs-vs-cats)")
    option("--out", help=f"run folder for checkpoints, metrics.csv and curves.png (default: {OUT})")
    option("--epochs", type=int, help=f"default {defaults.epochs}")
    option("--batch-size", type=int, help=f"default {defaults.batch_size}")
    option("--lr", type=float, help=f"peak learning rate of the one-cycle schedule (default {defaults.lr})")
    option("--momentum", type=float, help=f"SGD Nesterov momentum; under the one-cycle schedule the peak of its "
                                          f"cycle, which dips by 0.1 while the lr peaks (default {defaults.momentum}; "
                                          f"0: plain SGD)")
    option("--weight-decay", type=float, help=f"default {defaults.weight_decay}")
    option("--label-smoothing", type=float, help=f"default {defaults.label_smoothing}")
    option("--image-size", type=int, help=f"network input size in pixels (default {defaults.image_size})")
    option("--progressive", type=int, metavar="START",
           help="progressive resizing: the training images grow from START px in the first epoch to --image-size "
                "in the last (each crop shrunk: the same view at a lower resolution); 0, or a START not below "
                f"--image-size: off (default {defaults.progressive})")
    option("--val-every", type=int, metavar="N", help="validate after every N-th epoch and after the last "
                                                       f"(default {defaults.val_every})")
    option("--val-fraction", type=float, help=f"share of images held out for validation "
                                               f"(default {defaults.val_fraction})")
    option("--limit", type=int, help="use a class-balanced subset of this many images (quick runs)")
    option("--seed", type=int, help=f"weights, split and every epoch's shuffle (default {defaults.seed})")
    option("--no-bn", dest="bn", action="store_false", default=None, help="the variant without BatchNorm")
    option("--arch", choices=ARCHES, help="vgg: conv-BN-ReLU blocks and max pooling; resnet: residual blocks "
                                          "(default vgg)")
    option("--widths", type=parse_widths, help="vgg: conv widths and M for max pooling (default "
                                               + ",".join(str(width) for width in DEFAULT_WIDTHS) + "); resnet: one "
                                               "width per stage, each stage after the first halving the maps "
                                               "(default " + ",".join(map(str, RESNET_WIDTHS)) + ")")
    option("--blocks", type=int, help="resnet: residual blocks per stage (default 1)")
    option("--ema", type=float, metavar="DECAY",
           help="validate and save the exponential moving average of the weights, updated after every step: "
                "average = DECAY * average + (1 - DECAY) * weights (e.g. 0.995; default: off)")
    option("--mixup", type=float, metavar="ALPHA", help="blend each training image with another of its batch, "
                                                        "weight ~ Beta(ALPHA, ALPHA), the loss likewise (e.g. 0.2; "
                                                        "default 0: off)")
    option("--tta", action=argparse.BooleanOptionalAction, default=None,
           help="validate each image averaged with its mirror image (evaluate then does the same by default)")
    option("--recipe", choices=sorted(RECIPES),
           help="a preset of the settings above, overridden by those given: strong = "
                + ", ".join(f"{name} {value}" for name, value in RECIPES["strong"].items())
                + "; long = strong for 22 epochs (both measured in the README)")
    option("--device", choices=["cpu", "cuda"], help="default: $TINYGRAD_BN_DEVICE, else cpu")
    option("--workers", type=int, default=defaults.workers, help="threads preparing batches (default %(default)s)")
    option("--cache-dir", help=CACHE_DIR_HELP)
    option("--resume", nargs="?", const="", metavar="PATH",
           help="continue a stopped run from PATH (default: OUT/last.npz), with its own settings")

    evaluate_parser = commands.add_parser("evaluate", help="accuracy, per-class accuracy, confusion matrix, loss")
    evaluate_parser.set_defaults(run=evaluate_command)
    evaluate_parser.add_argument("--checkpoint", required=True, help="a .npz from train, or a run folder (best.npz)")
    evaluate_parser.add_argument("--data", help="image folder (default: $TINYGRAD_BN_DATA, else data/dogs-vs-cats)")
    evaluate_parser.add_argument("--split", choices=["val", "all"],
                                 help="val: the validation images of the training run (the default on its training "
                                      "folder); all: every image (the default on any other folder)")
    evaluate_parser.add_argument("--limit", type=positive_int,
                                 help="evaluate a class-balanced subset of this many images")
    evaluate_parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    evaluate_parser.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                                 help="average each image's prediction with its mirror image's (default: as the "
                                      "run validated, off unless trained with --tta)")
    evaluate_parser.add_argument("--figures", metavar="DIR",
                                 help="where to write mistakes-SPLIT.png (the most confident mistakes) and "
                                      "calibration-SPLIT.png (reliability diagram) (default: the checkpoint's folder)")
    evaluate_parser.add_argument("--no-figures", action="store_true", help="write no figures")
    evaluate_parser.add_argument("--device", choices=["cpu", "cuda"])
    evaluate_parser.add_argument("--cache-dir", help=CACHE_DIR_HELP)

    predict_parser = commands.add_parser("predict", help="the label and its probability for each image")
    predict_parser.set_defaults(run=predict_command)
    predict_parser.add_argument("--checkpoint", required=True, help="a .npz from train, or a run folder (best.npz)")
    predict_parser.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR")
    predict_parser.add_argument("--device", choices=["cpu", "cuda"])
    predict_parser.add_argument("--tta", action="store_true", help="average each prediction with the mirror image's")
    predict_parser.add_argument("--grid", metavar="PATH", help=f"also write a PNG of the images (the first "
                                                               f"{GRID_MAX_IMAGES}) with their labels")
    add_export_parser(commands)
    return parser


if __name__ == "__main__":
    sys.exit(main())
