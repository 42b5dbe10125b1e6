"""`torch.utils.data`'s core, for training loops written in PyTorch's idioms:

    loader = DataLoader(TensorDataset(images, labels), batch_size=64, shuffle=True,
                        generator=tinygrad_bn.Generator().manual_seed(0))
    for x, y in loader: ...

A Dataset is anything with `__getitem__(i)` and `__len__()`. The DataLoader draws an order of indices (shuffled or
not), cuts it into batches, fetches the samples one by one and merges each batch with `collate_fn`; the default,
`default_collate`, stacks like with like (Tensors, arrays, numbers) into one Tensor with a leading batch dim, and
recurses into tuples, lists and dicts, as torch's default_collate does. A dataset that can fetch a whole batch at
once defines `__getitems__(indices)`, as PyTorch allows; its result goes to `collate_fn` as it is.

`num_workers=k` assembles the next k * prefetch_factor batches in k threads of this process (PyTorch uses
processes) while the loop runs, in order: NumPy releases the GIL while it copies and computes, so loading overlaps
with the training step. The threads do not see the caller's `no_grad()` or `kernels.plain()` (both are per
thread), and a dataset that draws random numbers in `__getitem__` draws them in whatever order the threads run:
the order of the batches is reproducible, such draws are not (draw them in the sampler, as models/images does).
`pin_memory` and the like are accepted and ignored.
"""
import math
import numbers
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from tinygrad_bn.backend import to_numpy
from tinygrad_bn.tensors import Tensor, float64, int64, stack

from .sampler import host_rng


def default_collate(batch):
    """Merge a list of samples into a batch, like torch's default_collate:

    Tensors -> stacked Tensor; NumPy arrays -> stacked Tensor of their dtype; Python floats -> float64 Tensor,
    ints -> int64 Tensor (PyTorch's choice); strings stay a list; dicts, tuples and lists are collated field by
    field (a tuple or list of fields gives a list, a namedtuple the same namedtuple).
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(batch).detach()
    if isinstance(elem, np.ndarray) or isinstance(elem, np.generic):
        return Tensor(np.stack([to_numpy(e) for e in batch]))
    if isinstance(elem, bool):
        return Tensor(np.array(batch, dtype=bool))
    if isinstance(elem, numbers.Integral):
        return Tensor(np.array(batch, dtype=int64))
    if isinstance(elem, numbers.Real):
        return Tensor(np.array(batch, dtype=float64))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, dict):
        return {key: default_collate([sample[key] for sample in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a namedtuple keeps its type
        return type(elem)(*(default_collate(list(field)) for field in zip(*batch)))
    if isinstance(elem, (tuple, list)):
        if any(len(sample) != len(elem) for sample in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(list(field)) for field in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                    f"found {type(elem).__name__}")


class DataLoader:
    """Batches of a dataset: DataLoader(dataset, batch_size=1, shuffle=False, sampler=None, batch_sampler=None,
    num_workers=0, collate_fn=None, drop_last=False, generator=None, prefetch_factor=2), PyTorch's arguments.

    shuffle=True draws a new order every epoch (every `iter(loader)`) from `generator` (a tinygrad_bn.Generator or a
    numpy Generator), or from the library's generator seeded by tinygrad_bn.manual_seed. `sampler`, if given, is an
    iterable of indices used instead. batch_size=None yields single samples, uncollated, as in PyTorch.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 generator=None, *, prefetch_factor=None, persistent_workers=False, pin_memory_device=""):
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None or drop_last):
            raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                             "and drop_last")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral)
                                       or batch_size <= 0):
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size!r}")
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             f"multiprocessing (got num_workers={num_workers!r})")
        if timeout < 0:
            raise ValueError(f"timeout option should be non-negative, got timeout={timeout!r}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.drop_last = drop_last
        self.generator = generator
        self.num_workers = num_workers  # threads that prepare the next batches (0: each batch when it is asked for)
        self.prefetch_factor = 2 if prefetch_factor is None else prefetch_factor  # batches ahead, per worker
        self.collate_fn = collate_fn if collate_fn is not None else default_collate

    def _indices(self):
        if self.sampler is not None:
            return list(self.sampler)
        if self.shuffle:
            return host_rng(self.generator).permutation(len(self.dataset)).tolist()
        return list(range(len(self.dataset)))

    def _batches(self):
        if self.batch_sampler is not None:
            yield from self.batch_sampler
            return
        indices = self._indices()
        for start in range(0, len(indices), self.batch_size):
            batch = indices[start:start + self.batch_size]
            if len(batch) < self.batch_size and self.drop_last:
                return
            yield batch

    def __iter__(self):
        if self.batch_size is None and self.batch_sampler is None:
            for index in self._indices():
                yield self.dataset[index]
            return
        if self.num_workers == 0:
            yield from map(self._fetch, self._batches())
            return
        pool = ThreadPoolExecutor(self.num_workers)
        try:
            pending = deque()
            for batch in self._batches():  # the order is drawn here, in one thread: reproducible whatever the timing
                pending.append(pool.submit(self._fetch, batch))
                if len(pending) >= self.num_workers * self.prefetch_factor:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            pool.shutdown(cancel_futures=True)  # a `break` out of the loop must not leave threads working

    def _fetch(self, batch):
        """One batch: the dataset's own `__getitems__` where it has one (a whole batch at once), else item by item."""
        getitems = getattr(self.dataset, "__getitems__", None)
        samples = getitems(batch) if getitems is not None else [self.dataset[i] for i in batch]
        return self.collate_fn(samples)

    def __len__(self):
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
