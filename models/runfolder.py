"""The run folder (--out) of a training: one training at a time, checked before the first epoch, consistent after
any interruption.

    with RunFolder(out, log):       # lock, writable, orphan temporary files removed
        ...                         # train; then check_free_space(out, bytes) once the model's size is known

Lock. `.lock` in the folder is held with flock(2) for the whole run and names its holder (pid, host, start time),
so a second training into the same folder is refused with a message that says who writes there. The kernel drops
the lock when its process dies, even by kill -9: the next run takes the folder over and says so.

Orphan temporary files. Every file of a run is written under a temporary name `.NAME.XXXX.tmp` next to NAME and
renamed onto it when complete (tg.save, reports.py); a kill -9 mid-write leaves that temporary file behind. Under
the lock no other process writes here, so such files found at the start are orphans, and are removed.

Consistency. last.npz is the commit point of an epoch: it is written first, then best.npz, then metrics.csv and
curves.png, which are derived from last.npz's history. So after a crash between two of these writes, `--resume`
can repair the folder from last.npz (see `repair_run_folder`), or refuses when it cannot.
"""
import json
import os
import re
import shutil
import socket
import time
from pathlib import Path

import tinygrad_bn as tg
from .checkpoint import CatsDogsError
from .reports import plot_curves, write_metrics_csv

try:
    import fcntl
except ImportError:  # Windows: no flock; the folder is then not locked
    fcntl = None

LOCK_NAME = ".lock"
RUN_FILES = ("last.npz", "best.npz", "metrics.csv", "curves.png")
# the temporary names of tg.save (.last.npz.<32 hex>.tmp) and of reports.py (.metrics.csv.<8 hex>.tmp)
ORPHAN_PATTERN = re.compile(r"^\.(" + "|".join(re.escape(name) for name in RUN_FILES) + r")\.[0-9a-f]{8,32}\.tmp$")
FREE_SPACE_MARGIN = 3  # last.npz, best.npz and one temporary copy being written


class RunFolder:
    """Hold `out` for one training: created, writable, locked, cleaned of orphan temporary files."""

    def __init__(self, out, log=print):
        self.out, self.log = Path(out), log
        self.lock_file = None

    def __enter__(self):
        check_writable(self.out)
        self.lock_file = acquire_lock(self.out / LOCK_NAME, self.log)
        removed = remove_orphan_temp_files(self.out)
        if removed:
            self.log(f"removed {len(removed)} temporary files left by an interrupted run: {', '.join(removed)}")
        return self

    def __exit__(self, *exception):
        release_lock(self.lock_file)
        self.lock_file = None


def check_writable(out):
    """Create `out` and write a byte there now, rather than learn at the first save, an epoch later, that it can't."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test.{os.getpid()}.tmp"
        with open(probe, "wb") as file:
            file.write(b"x")
            file.flush()
            os.fsync(file.fileno())
        probe.unlink()
    except OSError as error:
        raise CatsDogsError(f"cannot write into the run folder {out}: {error.strerror or error}") from None


def check_free_space(out, checkpoint_bytes):
    """Refuse to start when `out` lacks the room for the checkpoints the run will write."""
    needed = FREE_SPACE_MARGIN * checkpoint_bytes
    folder = Path(out).absolute()
    while not folder.exists():  # a Trainer used on its own: the folder is made at the first save
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise CatsDogsError(f"not enough free space in {out}: {free / 2**20:.1f} MiB free, the checkpoints need "
                            f"about {needed / 2**20:.1f} MiB")


# ---- the lock -------------------------------------------------------------------------------------------------------

def acquire_lock(path, log=print):
    """The open lock file, locked; a CatsDogsError naming the holder when another process holds it."""
    if fcntl is None:
        return None
    try:
        file = open(path, "a+")
    except OSError as error:
        raise CatsDogsError(f"cannot open the lock file {path}: {error.strerror or error}") from None
    lock_or_refuse(file, path)
    previous = read_holder(path)
    if previous:  # a holder that died without releasing: kill -9, power loss
        log(f"note: took over the lock of {path.parent} from a training that is no longer running "
            f"({describe_holder(previous)})")
    file.seek(0)
    file.truncate()
    file.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                           "started": time.strftime("%Y-%m-%d %H:%M:%S")}))
    file.flush()
    return file


def lock_or_refuse(file, path):
    """flock `file`, or close it and raise a CatsDogsError that says who holds it."""
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = read_holder(path)
        file.close()
        raise CatsDogsError(f"{path.parent} is in use by another training ({describe_holder(holder)}): wait for it "
                            f"to finish, stop it, or pick another --out") from None


def check_unlocked(out):
    """Refuse now, saying who holds it, when another training writes into `out` (the lock is not kept)."""
    path = Path(out) / LOCK_NAME
    if fcntl is None or not path.is_file():
        return
    with open(path) as file:
        lock_or_refuse(file, path)  # closing the file at the end of `with` drops the lock again


def release_lock(file):
    """Empty the lock file (so the next run finds no stale holder) and unlock it. The file stays: deleting a
    flock'ed file lets a process that opened it just before lock a file that no longer has a name."""
    if file is None:
        return
    file.seek(0)
    file.truncate()
    file.flush()
    file.close()  # closing drops the flock


def read_holder(path):
    """{"pid", "host", "started"} written by the holder, or None (no lock file, or an empty one)."""
    try:
        return json.loads(Path(path).read_text() or "null")
    except (OSError, ValueError):
        return None


def describe_holder(holder):
    if not holder:
        return "holder unknown"
    return f"pid {holder.get('pid')} on host {holder.get('host')}, since {holder.get('started')}"


def remove_orphan_temp_files(out):
    """Delete the temporary files of interrupted writes of this run's files; the names removed."""
    removed = []
    for entry in os.scandir(out):
        if entry.is_file(follow_symlinks=False) and ORPHAN_PATTERN.match(entry.name):
            os.unlink(entry.path)
            removed.append(entry.name)
    return sorted(removed)


# ---- consistency ----------------------------------------------------------------------------------------------------

def repair_run_folder(out, checkpoint, log=print):
    """Make the folder of a resumed run agree with its checkpoint (the commit point), or refuse; True when the
    checkpoint's history itself was repaired (the caller saves it again).

    The history keeps one row per finished epoch (a duplicate, from an interruption at an epoch boundary, keeps the
    later row); best.npz must hold the history's best epoch, which is re-copied from last.npz when the run stopped
    right after that epoch, between the two writes; metrics.csv and curves.png are rewritten from the history.
    """
    progress = checkpoint["progress"]
    history = deduplicated_history(progress["history"], progress["epoch"], checkpoint["path"])
    repaired = len(history) != len(progress["history"])
    if repaired:
        log(f"repaired: the history of {checkpoint['path']} listed an epoch twice; kept one row per epoch")
        progress["history"] = history
    if Path(checkpoint["path"]).resolve().parent == Path(out).resolve():  # the run's own folder
        repair_best(Path(out), checkpoint, history, log)
    if history:
        write_metrics_csv(Path(out) / "metrics.csv", history)
        plot_curves(Path(out) / "curves.png", history)
    return repaired


def deduplicated_history(history, epochs_done, path):
    """The rows of epochs 1..epochs_done, one each (the last written wins), or a CatsDogsError."""
    by_epoch = {row["epoch"]: row for row in history if row["epoch"] <= epochs_done}
    if sorted(by_epoch) != list(range(1, epochs_done + 1)):
        raise CatsDogsError(f"{path} is inconsistent: it finished {epochs_done} epochs (entry progress.epoch) but its "
                            f"entry progress.history lists epochs {[row['epoch'] for row in history]}; continue "
                            f"from another checkpoint")
    return [by_epoch[epoch] for epoch in sorted(by_epoch)]


def best_epoch(history):
    """The first epoch with the highest validation accuracy (as training picks it), or None without validation."""
    rows = [row for row in history if row["val_accuracy"] is not None]
    if not rows:
        return None
    return max(rows, key=lambda row: row["val_accuracy"])["epoch"]


def repair_best(out, checkpoint, history, log):
    best = best_epoch(history)
    if best is None:
        return
    best_file = out / "best.npz"
    held = saved_epoch(best_file)
    if held == best:
        return
    progress = checkpoint["progress"]
    if progress["epoch"] == best and progress["step"] == 0:  # stopped between writing last.npz and best.npz
        temp = out / f".best.npz.{os.getpid():08x}.tmp"
        shutil.copyfile(checkpoint["path"], temp)
        os.replace(temp, best_file)
        log(f"repaired: {best_file} now holds epoch {best}, the best epoch of the history (copied from "
            f"{checkpoint['path']})")
        return
    holds = "is missing" if held is None else f"holds epoch {held}"
    raise CatsDogsError(f"{out} is inconsistent: the history's best epoch is {best} but {best_file} {holds}; "
                        f"to continue anyway, resume into a new folder: --resume {checkpoint['path']} --out NEW")


def saved_epoch(path):
    """The number of finished epochs a checkpoint file records, or None when it is missing or unreadable."""
    if not Path(path).is_file():  # missing, or a named pipe, which reading would wait on for ever
        return None
    try:
        return tg.load(path)["progress"]["epoch"]
    except Exception:  # missing, truncated or foreign: in every case it does not hold the best epoch
        return None
