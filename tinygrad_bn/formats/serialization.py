"""save / load: checkpoints (state dicts, optimizer state, metadata) as one `.npz` file, written atomically.

    tg.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 3}, "checkpoint.npz")
    checkpoint = tg.load("checkpoint.npz")        # the same nesting, arrays as host NumPy arrays

Format. Each array is one entry of the .npz, named by its path of keys joined with "/" (`model/0.weight`), so the
file can be read with NumPy alone. The nesting (dicts, lists, tuples, their keys) and the plain values (int, float,
bool, str, None) are one JSON document in the entry "__structure__"; `load` rebuilds the objects from it. Nothing is
pickled (np.load(allow_pickle=False)), so opening a checkpoint cannot run code.

Atomic write. The file is first written under a temporary name in the same folder, flushed to disk, then renamed
onto `path` with os.replace, which is atomic: a crash or an error mid-write leaves the previous file intact.

safetensors. A path ending in `.safetensors` is written and read with the `safetensors` package instead (an
optional extra: `pip install safetensors`): a flat dict name -> array, such as a state_dict, that PyTorch and other
frameworks read with `safetensors.torch.load_file` (and write with `save_file`, which `load` reads back).
"""
import json
import os
import uuid

import numpy as np

from tinygrad_bn.backend import is_cupy_array, to_numpy
from tinygrad_bn.tensors import Tensor

STRUCTURE_KEY = "__structure__"
SEPARATOR = "/"
# Names np.savez takes as its own keyword arguments, so they can't name an array.
_RESERVED_NAMES = {STRUCTURE_KEY, "file", "args", "allow_pickle"}
SAFETENSORS_SUFFIX = ".safetensors"


def save(obj, path):
    """Write `obj` (nested dicts/lists/tuples of arrays, Tensors, numbers, strings, None) to `path` as .npz,
    or a flat dict name -> array/Tensor (a state_dict) as safetensors when `path` ends in .safetensors."""
    path = os.fspath(path)
    if path.endswith(SAFETENSORS_SUFFIX):
        data = _safetensors().save(_flat_arrays(obj, path))
        _write_atomically(path, lambda file: file.write(data))
        return
    arrays = {}
    structure = _encode(obj, [], arrays)
    _write_atomically(path, lambda file: np.savez(file, allow_pickle=False,
                                                  **{STRUCTURE_KEY: np.array(json.dumps(structure))}, **arrays))


def _write_atomically(path, write):
    """Call write(file) on a temporary file next to `path`, flush it to disk, then rename it onto `path`.

    A symbolic link is written through, as torch.save does: the rename goes onto the link's target, so the link
    stays a link (renaming onto the link itself would replace it with a regular file and leave the target stale)."""
    folder, name = os.path.split(os.path.realpath(path))
    temp_path = os.path.join(folder, f".{name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temp_path, "xb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())  # the bytes are on disk before the rename makes them the checkpoint
        os.replace(temp_path, os.path.join(folder, name))
    except BaseException:
        if os.path.exists(temp_path):
            os.remove(temp_path)
        raise


def load(path):
    """Read a file written by `save`: the original nesting, with arrays as host NumPy arrays.

    A plain .npz written by np.savez (no structure entry) loads as a dict name -> array, and so does a .safetensors
    file.
    """
    if os.fspath(path).endswith(SAFETENSORS_SUFFIX):
        return _safetensors().load_file(os.fspath(path))
    with np.load(os.fspath(path), allow_pickle=False) as archive:
        if STRUCTURE_KEY not in archive.files:
            return {name: archive[name] for name in archive.files}
        structure = json.loads(archive[STRUCTURE_KEY].item())
        return _decode(structure, archive)


def _safetensors():
    try:
        import safetensors.numpy
    except ImportError:
        raise ImportError("saving or loading .safetensors files needs the safetensors package: pip install "
                          'safetensors (or pip install -e ".[safetensors]")') from None
    return safetensors.numpy


def _flat_arrays(obj, path):
    """safetensors holds one flat dict of str -> array: check that `obj` is one, and make its values NumPy arrays."""
    if not isinstance(obj, dict):
        raise TypeError(f"save: {path} is a .safetensors file, which holds a dict name -> array (a state_dict), "
                        f"not a {type(obj).__name__}; use a .npz path for checkpoints with nesting")
    arrays = {}
    for key, value in obj.items():
        if isinstance(value, Tensor):
            value = value.numpy()
        if not isinstance(key, str) or not (isinstance(value, (np.ndarray, np.generic)) or is_cupy_array(value)):
            raise TypeError(f"save: {path} is a .safetensors file, which holds str -> array only; got "
                            f"{key!r} -> {type(value).__name__}; use a .npz path for checkpoints with nesting")
        # safetensors copies raw bytes, so C order (np.ascontiguousarray would turn a 0-d array into 1-d)
        arrays[key] = np.asarray(to_numpy(value), order="C")
    return arrays


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
