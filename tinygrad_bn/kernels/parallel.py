"""Run independent pieces of CPU work (the convolution's image chunks) on every core at once.

Why threads help: NumPy releases the GIL inside array copies and BLAS calls, which is where a chunk's time goes.
Why BLAS is made single-threaded meanwhile: each core then takes a chunk from start to finish (the im2col copy and
the matrix product, in its own cache). With BLAS's own threads on top, the threads would compete for the same
cores, and OpenBLAS's threads spin while they wait for each other, which makes a busy machine dramatically slower.
"""
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext

import numpy as np

try:
    from threadpoolctl import ThreadpoolController
except ImportError:  # optional: without it BLAS keeps its threads, and chunks still run in parallel
    ThreadpoolController = None

CACHE_BYTES = 1024 * 1024  # rows per group in map_row_blocks: about one core's L2 cache (1 MB on this EPYC)
SERIAL_BYTES = 4 * 1024 * 1024  # below this, per-channel work runs on the calling thread: waking the pool costs
# about 0.25 ms a call here, more than two cores save on a few MB (BN of one 32x64x64 image: 0.26 vs 0.42 ms)

WORKERS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

_executor = None
_controller = None


def _single_threaded_blas():
    global _controller
    if ThreadpoolController is None:
        return nullcontext()
    if _controller is None:
        _controller = ThreadpoolController()  # finds the loaded BLAS libraries once
    return _controller.limit(limits=1, user_api="blas")


def map_chunks(fn, chunks):
    """[fn(chunk) for chunk in chunks], with the chunks spread over the CPU's cores.

    A single chunk (batch 1) runs on the calling thread, with BLAS single-threaded too: its products are small, and
    OpenBLAS's threads cost more in synchronization than they gain there; on a busy machine, where they spin waiting
    for each other, batch-1 inference of the reference CNN took a median 380 ms with them against 33 ms without."""
    global _executor
    chunks = list(chunks)
    if len(chunks) < 2 or WORKERS < 2:
        with _single_threaded_blas():
            return [fn(chunk) for chunk in chunks]
    if _executor is None:
        _executor = ThreadPoolExecutor(WORKERS, thread_name_prefix="tinygrad_bn")
    with _single_threaded_blas():
        return list(_executor.map(fn, chunks))


def map_row_blocks(fn, n_rows, xp=np, row_bytes=0):
    """Call fn(block) for slices of range(n_rows) covering it; fn writes its results in place.

    For per-channel work (batch norm, pooling): the channels are independent, so each core takes its own rows, and
    walks them CACHE_BYTES at a time (given the bytes of one row): a primitive that makes several passes over its
    rows then reads them from RAM once, and finds them in cache for the other passes. Work under SERIAL_BYTES runs
    on the calling thread: handing it to the pool would cost more than it takes. On a GPU (xp is cupy) one call
    covers all rows: the GPU parallelizes each operation by itself.
    """
    if xp is not np or 0 < n_rows * row_bytes < SERIAL_BYTES:
        return fn(slice(0, n_rows))
    per_core = -(-n_rows // WORKERS)
    group = max(1, min(per_core, CACHE_BYTES // row_bytes)) if row_bytes else per_core

    def rows_of_one_core(block):
        for start in range(block.start, block.stop, group):
            fn(slice(start, min(start + group, block.stop)))

    map_chunks(rows_of_one_core, [slice(start, min(start + per_core, n_rows)) for start in range(0, n_rows, per_core)])
