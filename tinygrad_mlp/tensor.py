"""Tensor: an ndarray, its gradient, and the node (`_ctx`) of the op that made it.

Every operator delegates to a primitive in `ops`; this module only converts arguments and
names things. Python scalars take the Tensor's dtype (a float32 Tensor times 0.5 stays float32).
"""
from __future__ import annotations

from typing import Any, Iterator

import numpy as np

_default_dtype = np.dtype(np.float64)


def get_default_dtype() -> np.dtype:
    """The dtype Python floats and lists of them become (float64 unless changed)."""
    return _default_dtype


def set_default_dtype(dtype: Any) -> None:
    """Make Python floats (and lists of them) become `dtype` from now on (float32 or float64)."""
    global _default_dtype
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {dt}")
    _default_dtype = dt


def _to_array(data: Any, dtype: Any) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return np.array(data, dtype=dtype)
    arr = np.array(data)
    if arr.dtype.kind == "f" and not isinstance(data, (np.ndarray, np.generic)):
        arr = arr.astype(_default_dtype, copy=False)   # Python floats -> default dtype
    elif arr.dtype.kind not in "fbiuc":
        raise TypeError(f"Tensor: cannot make a tensor from data of dtype {arr.dtype}")
    return arr


class Tensor:
    """An n-dimensional array that records the ops applied to it, for reverse-mode autograd."""
    __slots__ = ("data", "grad", "requires_grad", "_ctx", "label", "_retains_grad", "__weakref__")
    __array_ufunc__ = None   # `ndarray * Tensor` defers to Tensor.__rmul__

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None,
                 label: str | None = None) -> None:
        self.data = _to_array(data, dtype)
        self.grad: Tensor | None = None
        self._ctx = None
        self.label = label
        self._retains_grad = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _wrap(arr: np.ndarray) -> "Tensor":
        """A constant Tensor around an existing array (no copy, no checks): internal use."""
        t = Tensor.__new__(Tensor)
        t.data = arr
        t.grad = None
        t.requires_grad = False
        t._ctx = None
        t.label = None
        t._retains_grad = False
        return t

    # ------------------------------------------------------------ attributes
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def op(self) -> str | None:
        """Name of the op that produced this Tensor (None for leaves)."""
        return None if self._ctx is None else type(self._ctx).__name__

    @property
    def T(self) -> "Tensor":
        return self.transpose()

    @property
    def mT(self) -> "Tensor":
        """Swap the last two axes (batched matrix transpose)."""
        axes = list(range(self.ndim))
        axes[-2:] = axes[-1], axes[-2]
        return self.transpose(*axes)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if requires_grad and self.data.dtype.kind not in "fc":
            raise TypeError(f"only floating-point tensors can require grad, got dtype {self.dtype}")
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor: use .detach()")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> "Tensor":
        """Keep this non-leaf's gradient in `.grad` after backward."""
        self._retains_grad = True
        return self

    def detach(self) -> "Tensor":
        """The same data (shared), cut from the graph."""
        return Tensor._wrap(self.data)

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self) -> Any:
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """NumPy 2's protocol: the live array, a copy when asked, and an error when a dtype
        change would need a copy that `copy=False` forbids."""
        if copy:
            return np.array(self.data, dtype=dtype)
        if dtype is None or np.dtype(dtype) == self.data.dtype:
            return self.data
        if copy is False:
            raise ValueError(f"Tensor.__array__: a {self.data.dtype} -> {np.dtype(dtype)} "
                             "conversion needs a copy, but copy=False")
        return self.data.astype(dtype)

    def __len__(self) -> int:
        return len(self.data)

    def __iter__(self) -> Iterator["Tensor"]:
        return (self[i] for i in range(len(self)))

    def __bool__(self) -> bool:
        return bool(self.data)

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extra = ""
        if self.data.dtype != _default_dtype and self.data.dtype.kind == "f":
            extra += f", dtype={self.data.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn={self.op}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        if self.label:
            extra += f", label={self.label!r}"
        return f"Tensor({body}{extra})"

    def backward(self, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """Accumulate d self / d leaf into `.grad` of every leaf that requires grad."""
        _autograd.backward(self, gradient, retain_graph, create_graph)

    # ------------------------------------------------------------ arithmetic
    def __add__(self, o: Any) -> "Tensor": return _ops.Add.apply(self, _lift(o, self))
    def __radd__(self, o: Any) -> "Tensor": return _ops.Add.apply(_lift(o, self), self)
    def __sub__(self, o: Any) -> "Tensor": return _ops.Sub.apply(self, _lift(o, self))
    def __rsub__(self, o: Any) -> "Tensor": return _ops.Sub.apply(_lift(o, self), self)
    def __mul__(self, o: Any) -> "Tensor": return _ops.Mul.apply(self, _lift(o, self))
    def __rmul__(self, o: Any) -> "Tensor": return _ops.Mul.apply(_lift(o, self), self)
    def __truediv__(self, o: Any) -> "Tensor": return _ops.Div.apply(self, _lift(o, self))
    def __rtruediv__(self, o: Any) -> "Tensor": return _ops.Div.apply(_lift(o, self), self)
    def __pow__(self, o: Any) -> "Tensor": return _ops.Pow.apply(self, _lift(o, self))
    def __rpow__(self, o: Any) -> "Tensor": return _ops.Pow.apply(_lift(o, self), self)
    def __matmul__(self, o: Any) -> "Tensor": return _ops.MatMul.apply(self, _lift(o, self))
    def __rmatmul__(self, o: Any) -> "Tensor": return _ops.MatMul.apply(_lift(o, self), self)
    def __neg__(self) -> "Tensor": return _ops.Neg.apply(self)

    # in place: without these, `p -= lr * p.grad` would rebind `p` and leave the model untouched
    def __iadd__(self, o: Any) -> "Tensor": return self._inplace(np.add, o, Tensor.__add__)
    def __isub__(self, o: Any) -> "Tensor": return self._inplace(np.subtract, o, Tensor.__sub__)
    def __imul__(self, o: Any) -> "Tensor": return self._inplace(np.multiply, o, Tensor.__mul__)
    def __itruediv__(self, o: Any) -> "Tensor": return self._inplace(np.true_divide, o, Tensor.__truediv__)

    def _inplace(self, ufunc: Any, o: Any, recorded: Any) -> "Tensor":
        """`.data` updated in place when nothing is recorded (`p -= lr * p.grad` under no_grad);
        when the op must be recorded (`total += loss`), the recorded result, as a new Tensor.
        A leaf that requires grad can't change in place while recording (as in PyTorch)."""
        if _autograd.STATE.grad_enabled and (self.requires_grad or getattr(o, "requires_grad", False)):
            if self.requires_grad and self._ctx is None:
                raise RuntimeError(
                    "a leaf Tensor that requires grad is used in an in-place operation: update "
                    "parameters under `with tg.no_grad():` (or change `.data`)")
            return recorded(self, o)
        ufunc(self.data, _raw(o), out=self.data)
        return self
    def __pos__(self) -> "Tensor": return self

    # comparisons: bool Tensors outside the graph (asarray: 0-d comparisons give NumPy scalars)
    def __lt__(self, o: Any) -> "Tensor": return Tensor._wrap(np.asarray(self.data < _raw(o)))
    def __le__(self, o: Any) -> "Tensor": return Tensor._wrap(np.asarray(self.data <= _raw(o)))
    def __gt__(self, o: Any) -> "Tensor": return Tensor._wrap(np.asarray(self.data > _raw(o)))
    def __ge__(self, o: Any) -> "Tensor": return Tensor._wrap(np.asarray(self.data >= _raw(o)))
    def __eq__(self, o: Any) -> "Tensor": return Tensor._wrap(np.asarray(self.data == _raw(o)))  # type: ignore[override]
    def __ne__(self, o: Any) -> "Tensor": return Tensor._wrap(np.asarray(self.data != _raw(o)))  # type: ignore[override]

    # ------------------------------------------------------------ elementwise
    def exp(self) -> "Tensor": return _ops.Exp.apply(self)
    def log(self) -> "Tensor": return _ops.Log.apply(self)
    def sqrt(self) -> "Tensor": return _ops.Sqrt.apply(self)
    def abs(self) -> "Tensor": return _ops.Abs.apply(self)
    def tanh(self) -> "Tensor": return _ops.Tanh.apply(self)
    def sigmoid(self) -> "Tensor": return _ops.Sigmoid.apply(self)
    def relu(self) -> "Tensor": return _ops.Relu.apply(self)
    def softplus(self) -> "Tensor": return _ops.Softplus.apply(self)

    def leaky_relu(self, negative_slope: float = 0.01) -> "Tensor":
        return _ops.LeakyRelu.apply(self, slope=negative_slope)

    def clip(self, lo: float | None = None, hi: float | None = None) -> "Tensor":
        return _ops.Clip.apply(self, lo=lo, hi=hi)

    # ------------------------------------------------------------ reductions
    def sum(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        return _ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        count = int(np.prod([self.shape[a] for a in _ops.norm_axes(axis, self.ndim)]))
        return self.sum(axis, keepdims) * (1.0 / count if count else float("nan"))

    def max(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        return _ops.Max.apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        return _ops.Min.apply(self, axis=axis, keepdims=keepdims)

    def logsumexp(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        return _ops.LogSumExp.apply(self, axis=axis, keepdims=keepdims)

    def softmax(self, axis: int = -1) -> "Tensor":
        return _ops.Softmax.apply(self, axis=axis)

    def log_softmax(self, axis: int = -1) -> "Tensor":
        return _ops.LogSoftmax.apply(self, axis=axis)

    # ------------------------------------------------------------ shape
    def reshape(self, *shape: Any) -> "Tensor":
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops.Reshape.apply(self, shape=shape)

    def flatten(self) -> "Tensor":
        return self.reshape(-1)

    def transpose(self, *axes: Any) -> "Tensor":
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _ops.Transpose.apply(self, axes=axes or None)

    def expand(self, *shape: Any) -> "Tensor":
        """Broadcast to `shape` (no copy), like `np.broadcast_to`."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops.Expand.apply(self, shape=shape)

    def __getitem__(self, idx: Any) -> "Tensor":
        return _ops.GetItem.apply(self, idx=_raw_index(idx))


def _raw(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _raw_index(idx: Any) -> Any:
    if isinstance(idx, tuple):
        return tuple(_raw(i) for i in idx)
    return _raw(idx)


def _lift(x: Any, like: Tensor) -> Tensor:
    """The other operand of a binary op as a constant Tensor; Python scalars take `like`'s
    dtype so they never upcast (an integer Tensor meets a float scalar in the default dtype)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        return Tensor._wrap(x)
    if isinstance(x, (bool, int, float)):
        dt = like.data.dtype
        if dt.kind not in "fc":
            dt = _default_dtype if isinstance(x, float) else np.result_type(dt, x)
        return Tensor._wrap(np.asarray(x, dtype=dt))
    return Tensor._wrap(_to_array(x, None))


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None, label: str | None = None) -> Tensor:
    """Same as `Tensor(...)`."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, label=label)


from . import autograd as _autograd  # noqa: E402  (ops and autograd need Tensor defined first)
from . import ops as _ops  # noqa: E402
