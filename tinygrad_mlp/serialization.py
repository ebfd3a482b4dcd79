"""`save` / `load` of state dicts as NumPy `.npz` archives, never pickle.

Pickle runs arbitrary code when loading, so object arrays are refused both ways
(`allow_pickle=False`) with an error naming the offending key. The archive is written entry by
entry with `np.lib.format.write_array`, as `np.savez` does, so any string key works (even
"file", which `np.savez(path, **d)` cannot take).
"""
from __future__ import annotations

import os
import zipfile
from typing import Any, Mapping

import numpy as np

from .tensor import Tensor

__all__ = ["save", "load"]


def _array(key: Any, value: Any) -> np.ndarray:
    if not isinstance(key, str) or not key:
        raise TypeError(f"save: state_dict keys must be non-empty strings, got {key!r}")
    arr = value.data if isinstance(value, Tensor) else np.asarray(value)
    if arr.dtype.hasobject:
        raise TypeError(f"save: entry {key!r} is an object array (dtype {arr.dtype}); only numeric "
                        "arrays can be saved without pickle")
    return arr


def save(state_dict: Mapping[str, Any], path: str | os.PathLike) -> str:
    """Write `state_dict` (name -> ndarray or Tensor) to an .npz file at `path` (exactly that
    path, no suffix added) and return the path."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"save: expected a mapping name -> array (e.g. model.state_dict()), got "
                        f"{type(state_dict).__name__}")
    arrays = {k: _array(k, v) for k, v in state_dict.items()}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, arr in arrays.items():
            with zf.open(key + ".npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, arr, allow_pickle=False)
    return os.fspath(path)


def load(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read every array of an .npz file at once into a dict name -> ndarray. Members are read
    by their zip names (so keys such as "w" and "w.npy" stay distinct); anything that is not a
    pickle-free .npy array raises a `ValueError` naming the entry and the file."""
    name = os.fspath(path)
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        with open(path, "rb") as f:
            if f.read(6) == b"\x93NUMPY":
                raise ValueError(f"load: {name!r} holds a single .npy array, not an .npz state "
                                 "dict") from None
        raise ValueError(f"load: {name!r} is not an .npz archive ({e})") from None
    out = {}
    with archive:
        for member in archive.infolist():
            if not member.filename.endswith(".npy"):
                raise ValueError(f"load: entry {member.filename!r} of {name!r} is not a .npy array")
            key = member.filename[:-len(".npy")]
            with archive.open(member) as f:
                try:
                    out[key] = np.lib.format.read_array(f, allow_pickle=False)
                except ValueError as e:
                    raise ValueError(f"load: entry {key!r} of {name!r} cannot be loaded without "
                                     f"pickle ({e})") from None
    return out
