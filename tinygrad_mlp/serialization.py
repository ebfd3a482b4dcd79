"""`save` / `load` of state as NumPy `.npz` archives, never pickle.

Pickle runs arbitrary code when loading, so object arrays are refused both ways
(`allow_pickle=False`). A flat dict name -> array is stored one `.npy` member per entry, as
`np.savez` does, so it also opens with `np.load`. Nested state (a model's and an optimizer's
`state_dict` together: dicts, lists, numbers, strings, None) is stored as its arrays plus one
JSON text member describing the structure, so nothing but arrays and JSON is ever parsed.

Loading checks each member's header before reading: a corrupted file, a member that is not an
`.npy` array, or a header that claims more data than the member holds raises `ValueError`
naming the file, never allocating what a forged header asks for.
"""
from __future__ import annotations

import json
import os
import zipfile
from typing import Any, Mapping

import numpy as np

from .tensor import Tensor

__all__ = ["save", "load"]

_STRUCTURE = "__structure__.json"      # the zip member describing nested state


def save(state: Mapping[str, Any], path: str | os.PathLike) -> str:
    """Write `state` to an .npz file at `path` (exactly that path, no suffix added) and return
    the path. `state` is a dict name -> ndarray or Tensor (a `state_dict()`), or nested dicts
    and lists of those, numbers, strings and None (e.g. {"model": ..., "optimizer": ...})."""
    if not isinstance(state, Mapping):
        raise TypeError(f"save: expected a mapping name -> array (e.g. model.state_dict()), got "
                        f"{type(state).__name__}")
    arrays: dict[str, np.ndarray] = {}
    if all(isinstance(v, (np.ndarray, Tensor)) for v in state.values()):
        for k, v in state.items():
            arrays[_key(k)] = _array(k, v)
        structure = None
    else:
        structure = _encode(state, arrays, "")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, arr in arrays.items():
            with zf.open(key + ".npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, arr, allow_pickle=False)
        if structure is not None:
            zf.writestr(_STRUCTURE, json.dumps(structure))
    return os.fspath(path)


def _key(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise TypeError(f"save: keys must be non-empty strings, got {key!r}")
    return key


def _array(key: str, value: Any) -> np.ndarray:
    arr = value.data if isinstance(value, Tensor) else np.asarray(value)
    if arr.dtype.hasobject:
        raise TypeError(f"save: entry {key!r} is an object array (dtype {arr.dtype}); only numeric "
                        "arrays can be saved without pickle")
    return arr


def _encode(value: Any, arrays: dict[str, np.ndarray], where: str) -> Any:
    """`value` as JSON, with each array replaced by {"array": member name}."""
    if isinstance(value, (np.ndarray, Tensor)):
        name = f"a{len(arrays)}"
        arrays[name] = _array(where, value)
        return {"array": name}
    if isinstance(value, Mapping):
        keys = list(value)
        if not all(isinstance(k, (str, int)) and not isinstance(k, bool) for k in keys):
            raise TypeError(f"save: keys at {where or 'the top'} must be strings or ints")
        return {"dict": [[k, _encode(v, arrays, f"{where}/{k}")] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return {"list": [_encode(v, arrays, f"{where}/{i}") for i, v in enumerate(value)]}
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"value": value}
    raise TypeError(f"save: entry {where!r} of type {type(value).__name__} cannot be saved "
                    "without pickle (use arrays, numbers, strings, lists and dicts)")


def load(path: str | os.PathLike) -> dict[str, Any]:
    """Read an .npz file written by `save` (or `np.savez`) at once: a dict name -> ndarray, or
    the nested state that was saved. Anything that is not a pickle-free `.npy` array (or the
    structure written by `save`) raises a `ValueError` naming the entry and the file."""
    name = os.fspath(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        with open(path, "rb") as f:
            if f.read(6) == b"\x93NUMPY":
                raise ValueError(f"load: {name!r} holds a single .npy array, not an .npz state "
                                 "dict") from None
        raise ValueError(f"load: {name!r} is not an .npz archive ({e})") from None
    arrays: dict[str, np.ndarray] = {}
    structure = None
    with archive:
        for member in archive.infolist():
            entry = member.filename[:-len(".npy")] if member.filename.endswith(".npy") else None
            if member.filename != _STRUCTURE and entry is None:
                raise ValueError(f"load: entry {member.filename!r} of {name!r} is not a .npy array")
            try:
                if entry is None:
                    structure = json.loads(archive.read(member))
                else:
                    arrays[entry] = _read_member(archive, member)
            except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
                raise ValueError(f"load: entry {entry or member.filename!r} of {name!r} cannot be "
                                 f"loaded ({e})") from None
    if structure is None:
        return arrays
    try:
        return _decode(structure, arrays)
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"load: the structure stored in {name!r} is malformed ({e})") from None


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> np.ndarray:
    """One .npy member, its header checked against the member's size before any allocation."""
    with archive.open(member) as f:
        version = np.lib.format.read_magic(f)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read_header(f)
        if dtype.hasobject:
            raise ValueError("it holds Python objects, which only pickle (never used here) can "
                             "load")
        count = int(np.prod(shape, dtype=object))
        if count * dtype.itemsize > member.file_size:
            raise ValueError(f"its header claims {count} elements of {dtype}, more than the "
                             f"{member.file_size} bytes stored")
        data = f.read(count * dtype.itemsize)
    arr = np.frombuffer(data, dtype=dtype, count=count)
    if fortran:
        return arr.reshape(shape[::-1]).T.copy()
    return arr.reshape(shape).copy()


def _decode(node: Any, arrays: dict[str, np.ndarray]) -> Any:
    kind, = node
    if kind == "array":
        return arrays[node["array"]]
    if kind == "dict":
        return {k: _decode(v, arrays) for k, v in node["dict"]}
    if kind == "list":
        return [_decode(v, arrays) for v in node["list"]]
    if kind == "value":
        return node["value"]
    raise ValueError(f"unknown entry kind {kind!r}")
