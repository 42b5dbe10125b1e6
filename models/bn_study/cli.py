"""The command line: python -m models.bn_study [--quick] [--only main,lr] [--plan] [--report] [--cache DIR] ...

Runs the cells of the chosen sections that are not in the cache yet, in queue order (cells.plan), each saved as
soon as it finishes; then writes the report of whatever the cache holds. Interrupt it at any moment and run the same
command again: it goes on with the first run not yet saved.

--workers N runs N queues side by side, each pinned to its own core with single-threaded BLAS: on a CPU, small
convolutions use two cores at well under twice the speed of one, so separate runs on separate cores finish more runs
per hour (on the 2-core machine of this study: 1.34x). The workers share the cache; a claim file per run in progress
keeps two of them from training the same run.
"""
import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ..checkpoint import resolve_device
from .cells import (
    FULL,
    QUICK,
    SECTIONS,
    estimated_seconds,
    plan,
    pretrained_cell,
    unique_cells,
)
from .report import refresh_tables, unmatched_bold_numbers, write_report
from .runner import RunStore, load_study_data, train_cell, usable_cpus

# Finished runs live in the repository, so that a study spread over many sessions loses none of them.
DEFAULT_CACHE = "docs/bn-study/runs"
DEFAULT_OUT = "runs/bn-study/report"


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m models.bn_study",
                                     description="What BatchNorm really does: the study of issue #25 (see "
                                                 "models/bn_study/__init__.py for its design and budget).")
    parser.add_argument("--quick", action="store_true", help="the test suite's tiny version (seconds)")
    parser.add_argument("--data", help="image folder (default: $TINYGRAD_BN_DATA, else data/dogs-vs-cats)")
    parser.add_argument("--cache", help=f"folder of finished runs (default {DEFAULT_CACHE}; with --quick a new "
                                        f"temporary folder)")
    parser.add_argument("--out", help=f"folder for the report (default {DEFAULT_OUT}; with --quick a new temporary "
                                      f"folder)")
    parser.add_argument("--only", help=f"comma-separated sections, of: {','.join(SECTIONS)}")
    parser.add_argument("--device", help="cpu or cuda (default: $TINYGRAD_BN_DEVICE, else cpu)")
    parser.add_argument("--plan", action="store_true", help="list the cells, cached or not, and the time left; "
                                                            "train nothing")
    parser.add_argument("--report", action="store_true", help="write the report from the cache; train nothing")
    parser.add_argument("--max-runs", type=int, help="stop after training this many runs")
    parser.add_argument("--docs", help="comma-separated markdown files (the written report, e.g. docs/bn-study.md) "
                                       "whose table blocks to refresh from the new results.json, and whose bold "
                                       "numbers to check against it")
    parser.add_argument("--hours", type=float,
                        help="start no run that would not end within this many hours from now (by the cost model, "
                             "calibrated on the runs done), then stop: a session that must end at a known time "
                             "loses no run half done")
    parser.add_argument("--workers", type=int, default=1,
                        help="queues side by side, each on its own core with single-threaded BLAS (default 1: one "
                             "queue, every core)")
    # set by --workers for the processes it starts: how many queues share the work (for the time estimates), and
    # that the report is the starting process's to write
    parser.add_argument("--queues", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--no-report", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, got {args.workers}")
    if args.only:
        args.only = [name.strip() for name in args.only.split(",") if name.strip()]
        unknown = [name for name in args.only if name not in SECTIONS]
        if unknown:
            parser.error(f"unknown section(s) {', '.join(unknown)}; the sections are {', '.join(SECTIONS)}")
    return args


def hours(seconds):
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def calibration(store, cells, like=None):
    """measured / estimated seconds over the cached runs of `cells` (1 if none): the cost model is rough, the
    runs already done tell how fast this machine is today. like: a cell; then only the runs at its scale (subset,
    image size, epochs) made with as many cores as this process has count, where there are such runs."""
    runs = [(cell, store.load(cell)) for cell in cells if store.has(cell)]
    runs = [(cell, result) for cell, result in runs if not result.get("diverged_at_step")]
    if like is not None:
        cores = usable_cpus()
        similar = [(cell, result) for cell, result in runs
                   if (cell.limit, cell.image_size, cell.epochs) == (like.limit, like.image_size, like.epochs)
                   and result["machine"].get("usable_cpus", result["machine"]["cpus"]) == cores]
        runs = similar or runs
    measured = sum(result["seconds"] for _, result in runs)
    estimated = sum(estimated_seconds(cell) for cell, _ in runs)
    return measured / estimated if estimated else 1.0


def show_plan(entries, store, out=print):
    cells = unique_cells(entries)
    ratio = calibration(store, cells)
    left = 0.0
    seen = set()
    out(f"{'section':8} {'row':28} seed  cached  estimate  key")
    for section, row, cell in entries:
        cached = store.has(cell)
        estimate = estimated_seconds(cell) * ratio
        if not cached and cell not in seen:
            left += estimate
        seen.add(cell)
        out(f"{section:8} {row:28} {cell.seed:4}  {'yes' if cached else 'no':6}  {hours(estimate):>8}  {cell.key()}")
    done = sum(store.has(cell) for cell in cells)
    out(f"{done} of {len(cells)} distinct runs cached; about {hours(left)} of runs left on this machine, one after "
        f"another as the cached runs were made (cost model x {ratio:.2f}, calibrated on them); runs made by "
        f"--workers N, one per core, take N times less wall time")
    return left


def main(argv=None):
    argv = sys.argv[1:] if argv is None else [str(arg) for arg in argv]
    args = parse_args(argv)
    scale = QUICK if args.quick else FULL
    cache = Path(args.cache) if args.cache else (Path(tempfile.mkdtemp(prefix="bn-study-quick-cache-")) if args.quick
                                                 else Path(DEFAULT_CACHE))
    out = Path(args.out) if args.out else (Path(tempfile.mkdtemp(prefix="bn-study-quick-")) if args.quick
                                           else Path(DEFAULT_OUT))
    store = RunStore(cache)
    entries = plan(scale, args.only)
    if args.plan:
        show_plan(entries, store)
        return 0
    if not args.report:
        if args.workers > 1:
            status = run_workers(without_option(without_option(argv, "--cache"), "--out")
                                 + ["--cache", str(cache), "--out", str(out)], args.workers)
        else:
            status = run_queue(entries, store, args, scale)
        if status or args.no_report:
            return status
    report = write_report(entries, store, out, scale, quick=args.quick,
                          command=shlex.join(["python", "-m", "models.bn_study", *argv]))
    print(f"wrote {report}", flush=True)
    return refresh_docs(args.docs.split(",") if args.docs else [], json.loads((out / "results.json").read_text()))


def refresh_docs(paths, results):
    """Rewrite the table blocks of each written report from `results`; report every bold number of their prose
    that is not one of results.json's. A file named *.vi.md writes decimals with a comma. Returns 1 if there is an
    unmatched number, else 0."""
    status = 0
    for path in map(Path, paths):
        text = path.read_text(encoding="utf-8")
        decimal_comma = path.name.endswith(".vi.md")  # Vietnamese writes 88,1%
        path.write_text(refresh_tables(text, results, decimal_comma), encoding="utf-8")
        unmatched = unmatched_bold_numbers(text, results, decimal_comma)
        for span in unmatched:
            print(f"{path}: the bold number **{span}** is not in results.json (as the tables render it)",
                  file=sys.stderr)
        status = status or int(bool(unmatched))
        print(f"refreshed the tables of {path}", flush=True)
    return status


def with_pretrained_first(cells, scale):
    """`cells`, each fine-tuning cell preceded by the run it starts from (where that is not listed before it)."""
    ordered = []
    for cell in cells:
        if cell.finetune:
            parent = pretrained_cell(cell, scale)
            if parent not in ordered:
                ordered.append(parent)
        if cell not in ordered:
            ordered.append(cell)
    return ordered


def run_queue(entries, store, args, scale, out=print):
    """Train every cell of `entries` not in the store yet, in queue order; print a line per epoch and per run.

    Before each run the queue is read again from the store, and the first cell that no other worker has claimed
    is trained; a fine-tuning cell waits until the run it starts from is saved. A worker with nothing left to
    claim waits for the others' runs (a fine-tuning cell may need one of them) and stops when the queue is empty."""
    cells = with_pretrained_first(unique_cells(entries), scale)
    sections = {cell: (section, row) for section, row, cell in reversed(entries)}  # the first section to list it
    todo = [cell for cell in cells if not store.has(cell)]
    out(f"BN study: {len(cells) - len(todo)} of {len(cells)} runs cached in {store.folder}; {len(todo)} to train",
        flush=True)
    start = time.perf_counter()
    deadline = start + args.hours * 3600 if args.hours is not None else math.inf
    trained, skipped = 0, set()
    while args.max_runs is None or trained < args.max_runs:
        todo = [cell for cell in cells if not store.has(cell) and cell not in skipped]
        if not todo:
            break
        ratios = {}  # calibration per scale: the cost model errs differently for full and reduced runs
        for cell in todo:
            scale_of = (cell.limit, cell.image_size, cell.epochs)
            if scale_of not in ratios:
                ratios[scale_of] = calibration(store, cells, cell)
        time_left = deadline - time.perf_counter()
        fits = [cell for cell in todo if ready(cell, store, scale) and TIME_MARGIN * estimated_seconds(cell)
                * ratios[(cell.limit, cell.image_size, cell.epochs)] < time_left]
        cell = claim_first(fits, store)
        if cell is None:
            if not fits and not any(store.claimed(cell) for cell in todo):
                out(f"BN study: stopping, none of the {len(todo)} runs left would end within --hours "
                    f"{args.hours:g}", flush=True)
                break
            time.sleep(CLAIM_POLL_SECONDS)  # the runs left are other workers', or wait for one of theirs
            continue
        try:
            trained += 1
            ratio = calibration(store, cells, cell)
            section, row = sections.get(cell, ("main", "BN (pretrained for fine-tuning)"))
            label = f"[{trained}/{trained + len(todo) - 1} {section}: {row}, seed {cell.seed}]"
            left = sum(estimated_seconds(other) for other in todo) * ratio
            out(f"{label} starting ({cell.label()}); about {hours(estimated_seconds(cell) * ratio)} for this run, "
                f"{hours(left / max(1, args.queues))} for the queue", flush=True)
            try:
                data = load_study_data(cell, args.data)
            except (OSError, ValueError) as error:  # no such folder, no images: the message says which
                print(f"bn_study: error: {error}", file=sys.stderr)
                return 2
            parent = pretrained_cell(cell, scale) if cell.finetune else None
            pretrained = store.weights(parent) if parent else None
            if cell.finetune and pretrained is None:
                why = ("diverged" if store.load(parent).get("diverged_at_step") is not None else
                       f"has no weights in the cache ({parent.key()}.npz; only JSON results are tracked: delete "
                       f"{parent.key()}.json to train it again)")
                out(f"{label} skipped: the model it fine-tunes {why}", flush=True)
                skipped.add(cell)
                trained -= 1
                continue
            result, model = train_cell(cell, data, device=resolve_device(args.device),
                                       log=lambda line: out(line, flush=True), label=label, pretrained=pretrained)
            store.save(cell, result, model)
        finally:
            store.release(cell)
        final = result["history"][-1]["val_accuracy"] if result["history"] and not result["diverged_at_step"] else None
        outcome = f"val accuracy {final:.4f}" if final is not None else f"diverged at step {result['diverged_at_step']}"
        out(f"{label} done: {outcome}, {hours(result['seconds'])} ({hours(time.perf_counter() - start)} since the "
            f"start); saved {store.path(cell)}", flush=True)
    return 0


CLAIM_POLL_SECONDS = 20
TIME_MARGIN = 1.15  # --hours: a run must fit with this margin over its calibrated estimate


def claim_first(cells, store):
    """The first of `cells` this process could claim and that is still not cached (another worker may have saved
    it since the queue was read), or None."""
    for cell in cells:
        if store.claim(cell):
            if not store.has(cell):
                return cell
            store.release(cell)
    return None


def ready(cell, store, scale):
    """A fine-tuning cell is ready once the run it starts from is saved; any other cell always is."""
    return not cell.finetune or store.has(pretrained_cell(cell, scale))


def run_workers(argv, workers):
    """Run `workers` copies of this command (without --workers) side by side, worker k pinned to the k-th usable
    core (round robin) with single-threaded BLAS, their lines prefixed with "wK"; return the first non-zero exit
    status, or 0. Interrupting this process stops them all."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    child_argv = without_option(argv, "--workers") + ["--queues", str(workers)]
    one_thread = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    processes, readers = [], []
    for k in range(workers):
        pin = {"BN_STUDY_CORE": str(cores[k % len(cores)])} if cores else {}  # read by __main__.py
        process = subprocess.Popen([sys.executable, "-m", "models.bn_study", *child_argv, "--no-report"],
                                   env={**os.environ, **one_thread, **pin}, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, bufsize=1)
        processes.append(process)
        readers.append(threading.Thread(target=prefix_lines, args=(process.stdout, f"w{k}"), daemon=True))
        readers[-1].start()
        time.sleep(2)  # the workers claim runs one after the other, in queue order
    try:
        statuses = [process.wait() for process in processes]
    except KeyboardInterrupt:
        for process in processes:
            process.terminate()
        raise
    for reader in readers:
        reader.join()
    return next((status for status in statuses if status), 0)


def prefix_lines(stream, prefix):
    for line in stream:
        print(f"{prefix} {line}", end="", flush=True)


def without_option(argv, name):
    """argv without `name VALUE` and `name=VALUE`."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == name:
            skip = True
        elif not arg.startswith(name + "="):
            kept.append(arg)
    return kept
