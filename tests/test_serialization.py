"""save / load: .npz round trips without pickle, and errors that name the key."""
import zipfile

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import nn


def test_model_round_trip_through_a_file(tmp_path):
    src = nn.MLP([3, 5, 2], rng=0, dtype=np.float32)
    path = tg.save(src.state_dict(), tmp_path / "model.npz")
    loaded = tg.load(path)
    assert list(loaded) == list(src.state_dict())
    dst = nn.MLP([3, 5, 2], rng=1, dtype=np.float32)
    dst.load_state_dict(loaded)
    for (k, a), (_, b) in zip(src.state_dict().items(), dst.state_dict().items()):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_array_equal(a, b)


def test_any_string_key_and_tensors_are_saved(tmp_path):
    sd = {"file": np.arange(3), "allow_pickle": tg.Tensor([1.5]), "a/b.c": np.zeros((2, 0))}
    loaded = tg.load(tg.save(sd, tmp_path / "x.npz"))
    np.testing.assert_array_equal(loaded["file"], np.arange(3))
    np.testing.assert_array_equal(loaded["allow_pickle"], [1.5])
    assert loaded["a/b.c"].shape == (2, 0)


def test_save_refuses_object_arrays_and_bad_keys(tmp_path):
    with pytest.raises(TypeError, match="'meta' is an object array"):
        tg.save({"w": np.zeros(2), "meta": np.array([{"a": 1}], dtype=object)}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="non-empty strings, got 3"):
        tg.save({3: np.zeros(2)}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="mapping"):
        tg.save([np.zeros(2)], tmp_path / "x.npz")


def test_load_refuses_pickled_entries_naming_the_key(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, ok=np.zeros(2), payload=np.array([object()], dtype=object))
    with pytest.raises(ValueError, match="'payload'.*pickle"):
        tg.load(path)


def test_load_refuses_a_single_npy_and_non_archives(tmp_path):
    np.save(tmp_path / "one.npy", np.zeros(2))
    with pytest.raises(ValueError, match="single .npy"):
        tg.load(tmp_path / "one.npy")
    (tmp_path / "junk.npz").write_bytes(b"not an archive at all")
    with pytest.raises(ValueError, match="junk.npz"):
        tg.load(tmp_path / "junk.npz")


def test_file_is_a_plain_npz_readable_by_numpy(tmp_path):
    path = tg.save({"w": np.eye(2)}, tmp_path / "w.npz")
    assert zipfile.is_zipfile(path)
    with np.load(path, allow_pickle=False) as z:
        np.testing.assert_array_equal(z["w"], np.eye(2))


def test_keys_that_end_in_npy_stay_distinct(tmp_path):
    """Regression: NumPy's NpzFile strips '.npy', so 'x' and 'x.npy' used to load as one."""
    path = tg.save({"x": np.zeros(1), "x.npy": np.ones(2)}, tmp_path / "k.npz")
    out = tg.load(path)
    np.testing.assert_array_equal(out["x"], [0.0])
    np.testing.assert_array_equal(out["x.npy"], [1.0, 1.0])


def test_corrupt_file_and_non_array_member_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="bad.npz.*not an .npz archive"):
        tg.load(bad)
    odd = tmp_path / "odd.npz"
    with zipfile.ZipFile(odd, "w") as zf:
        zf.writestr("notes.txt", "hello")
    with pytest.raises(ValueError, match="'notes.txt'.*is not a .npy array"):
        tg.load(odd)


def test_tied_parameters_are_saved_under_every_name():
    """As in PyTorch: a tied model's state dict loads into an untied one and back."""
    class Tied(nn.Module):
        def __init__(self, tie: bool):
            super().__init__()
            self.a, self.b = nn.Linear(2, 2, rng=0), nn.Linear(2, 2, rng=1)
            if tie:
                self.b.weight = self.a.weight

    tied, untied = Tied(True), Tied(False)
    assert list(tied.state_dict()) == ["a.weight", "a.bias", "b.weight", "b.bias"]
    untied.load_state_dict(tied.state_dict())
    np.testing.assert_array_equal(untied.b.weight.data, tied.a.weight.data)
    assert len(list(tied.parameters())) == 3
    with pytest.raises(TypeError, match="expected a mapping"):
        untied.load_state_dict([1, 2])


def test_a_header_claiming_a_huge_array_fails_fast(tmp_path):
    """A forged .npy header (10^12 elements) must raise before anything is allocated."""
    import io
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False,
                                               "shape": (10 ** 12,)})
    path = tmp_path / "forged.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("w.npy", buf.getvalue() + b"\0" * 64)
    with pytest.raises(ValueError, match=r"forged.npz.*claims 1000000000000 elements"):
        tg.load(path)


def test_a_truncated_archive_is_a_value_error_naming_the_file(tmp_path):
    path = tmp_path / "cut.npz"
    tg.save({"w": np.arange(1000.0)}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.npz"):
        tg.load(path)


def test_nested_state_round_trips_without_pickle(tmp_path):
    state = {"model": {"w": np.arange(3.0)}, "optimizer": {"state": {0: {"step": 3, "m": np.ones(2)}},
             "param_groups": [{"lr": 0.1, "betas": (0.9, 0.99), "params": [0]}]},
             "epoch": 7, "note": "hi", "none": None}
    tg.save(state, tmp_path / "n.npz")
    back = tg.load(tmp_path / "n.npz")
    np.testing.assert_array_equal(back["model"]["w"], np.arange(3.0))
    assert back["optimizer"]["state"][0]["step"] == 3 and back["epoch"] == 7
    assert back["optimizer"]["param_groups"][0]["betas"] == [0.9, 0.99]
    assert back["note"] == "hi" and back["none"] is None
    with zipfile.ZipFile(tmp_path / "n.npz") as zf:           # arrays and JSON only
        assert all(n.endswith(".npy") or n == "__structure__.json" for n in zf.namelist())
    with pytest.raises(TypeError, match="cannot be saved without pickle"):
        tg.save({"f": {"g": object()}}, tmp_path / "bad.npz")
