"""save / load: checkpoints (state dicts, optimizer state, metadata) as one `.npz` file, written atomically.

    tg.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 3}, "checkpoint.npz")
    checkpoint = tg.load("checkpoint.npz")        # the same nesting, arrays as host NumPy arrays

Format. Each array is one entry of the .npz, named by its path of keys joined with "/" (`model/0.weight`), so the
file can be read with NumPy alone. The nesting (dicts, lists, tuples, their keys) and the plain values (int, float,
bool, str, None) are one JSON document in the entry "__structure__"; `load` rebuilds the objects from it. Nothing is
pickled (np.load(allow_pickle=False)), so opening a checkpoint cannot run code.

Atomic write. The file is first written under a temporary name in the same folder, flushed to disk, then renamed
onto `path` with os.replace, which is atomic: a crash or an error mid-write leaves the previous file intact.
"""
import json
import os
import uuid

import numpy as np

from .backend import is_cupy_array, to_numpy
from .tensor import Tensor

STRUCTURE_KEY = "__structure__"
SEPARATOR = "/"
# Names np.savez takes as its own keyword arguments, so they can't name an array.
_RESERVED_NAMES = {STRUCTURE_KEY, "file", "args", "allow_pickle"}


def save(obj, path):
    """Write `obj` (nested dicts/lists/tuples of arrays, Tensors, numbers, strings, None) to `path` as .npz."""
    path = os.fspath(path)
    arrays = {}
    structure = _encode(obj, [], arrays)
    folder, name = os.path.split(os.path.abspath(path))
    temp_path = os.path.join(folder, f".{name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temp_path, "xb") as file:
            np.savez(file, allow_pickle=False, **{STRUCTURE_KEY: np.array(json.dumps(structure))}, **arrays)
            file.flush()
            os.fsync(file.fileno())  # the bytes are on disk before the rename makes them the checkpoint
        os.replace(temp_path, path)
    except BaseException:
        if os.path.exists(temp_path):
            os.remove(temp_path)
        raise


def load(path):
    """Read a file written by `save`: the original nesting, with arrays as host NumPy arrays.

    A plain .npz written by np.savez (no structure entry) loads as a dict name -> array.
    """
    with np.load(os.fspath(path), allow_pickle=False) as archive:
        if STRUCTURE_KEY not in archive.files:
            return {name: archive[name] for name in archive.files}
        structure = json.loads(archive[STRUCTURE_KEY].item())
        return _decode(structure, archive)


def _encode(obj, keys, arrays):
    """The JSON description of `obj`; its arrays go into `arrays` under a name made from `keys`, its key path."""
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            # JSON tells str from int, so {0: ...} (optimizer state) comes back with int keys
            if not isinstance(key, (str, int)):
                raise TypeError(f"save: dict keys must be str or int, got {key!r} at {_path_name(keys)!r}")
            items.append([key, _encode(value, keys + [key], arrays)])
        return {"dict": items}
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {kind: [_encode(value, keys + [index], arrays) for index, value in enumerate(obj)]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    if isinstance(obj, Tensor):
        obj = obj.numpy()
    if isinstance(obj, (np.ndarray, np.generic)) or is_cupy_array(obj):
        name = _unique_name(_path_name(keys), arrays)
        arrays[name] = np.asarray(to_numpy(obj))
        return {"array": name}
    raise TypeError(f"save: cannot store a {type(obj).__name__} at {_path_name(keys)!r}; use arrays, Tensors, "
                    "numbers, strings, None, and dicts/lists/tuples of them")


def _decode(node, archive):
    if "dict" in node:
        return {key: _decode(value, archive) for key, value in node["dict"]}
    if "list" in node:
        return [_decode(value, archive) for value in node["list"]]
    if "tuple" in node:
        return tuple(_decode(value, archive) for value in node["tuple"])
    if "array" in node:
        return archive[node["array"]]
    return node["value"]


def _path_name(keys):
    return SEPARATOR.join(str(key) for key in keys) or "value"


def _unique_name(name, arrays):
    """`name`, or `name#2`, `name#3`... when it is taken (e.g. keys 0 and "0" in one dict, or a reserved name)."""
    candidate, count = name, 1
    while candidate in arrays or candidate in _RESERVED_NAMES:
        count += 1
        candidate = f"{name}#{count}"
    return candidate
