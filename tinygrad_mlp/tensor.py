"""Tensor: an ndarray, its gradient, and the node (`grad_fn`) of the op that made it.

Every operator delegates to a primitive in `ops`; this module only converts arguments
(`as_tensor`, the one helper that makes anything a Tensor) and names things. Python scalars take
the Tensor's dtype (a float32 Tensor times 0.5 stays float32).

A Tensor's fields are set in one place, `_init`. `.data` is the live ndarray; `.grad` is checked
on assignment. In-place changes made through the library (`+=`, `t[i] = v`, optimizer steps)
bump a version counter shared with views, so backward can refuse stale saved values.
"""
from __future__ import annotations

import itertools
from typing import Any, Iterable, Iterator

import numpy as np
from numpy import ndarray

from .mode import _local, check_readable

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


def _to_array(data: Any, dtype: Any) -> ndarray:
    """A new array from user data: Python floats become the default dtype, a floating ndarray
    keeps its dtype, an explicit dtype wins."""
    if isinstance(data, Tensor):
        data = data._data
    if isinstance(data, ndarray):             # (array methods: recorded by tg.compile)
        arr = data.astype(dtype) if dtype is not None else data.copy(order="K")
    elif dtype is not None:
        return np.array(data, dtype=dtype)
    else:
        arr = np.array(data)
    if arr.dtype.kind == "f" and not isinstance(data, (ndarray, np.generic)):
        return arr.astype(_default_dtype, copy=False)
    if arr.dtype.kind not in "fbiu":
        raise TypeError(f"Tensor: cannot make a tensor from data of dtype {arr.dtype}")
    return arr


class Tensor:
    """An n-dimensional array that records the ops applied to it, for reverse-mode autograd."""
    __slots__ = ("_data", "_grad", "requires_grad", "grad_fn", "__dict__", "__weakref__")
    # Rarely set fields: class-level defaults, stored per Tensor only when set (its __dict__).
    label: str | None = None
    _retains_grad = False
    _vc: list[int] | None = None      # version counter, shared with views; None: version 0

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None,
                 label: str | None = None) -> None:
        _init(self, _to_array(data, dtype), None, False)
        if label is not None:
            self.label = label
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------ data and grad
    @property
    def data(self) -> ndarray:
        """The live ndarray: writing into it changes the Tensor (and bypasses versioning)."""
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        """Assigning a Tensor stores its values, never the Tensor: `p.data -= lr * p.grad`
        (which computes a Tensor) updates the live array in place when shape and dtype match."""
        if value is self._data:                   # `p.data -= x` already changed it in place
            return
        if isinstance(value, Tensor):
            value = value._data
            if value.shape == self._data.shape and value.dtype == self._data.dtype:
                np.copyto(self._data, value)
                return
        self._data = value if isinstance(value, ndarray) else np.asarray(value)
        changes[0] += 1                          # a compiled step that read the old one retraces

    @property
    def grad(self) -> "Tensor | None":
        """d(root)/d(self) accumulated by backward: a Tensor of this shape, or None."""
        return self._grad

    @grad.setter
    def grad(self, g: "Tensor | None") -> None:
        if g is not None:
            if not isinstance(g, Tensor):
                raise TypeError(f"assigned grad must be a Tensor or None, got {type(g).__name__}")
            if g.shape != self.shape:
                raise RuntimeError(f"assigned grad has shape {g.shape}, but the tensor has "
                                   f"shape {self.shape}")
            if g.dtype.kind != self.dtype.kind:
                raise RuntimeError(f"assigned grad has dtype {g.dtype}, but the tensor has "
                                   f"dtype {self.dtype}")
        if _local.mode.trace is not None:      # (clear_grads does this for many at once)
            _local.mode.trace.resets.add(id(self))
        self._grad = g

    # ------------------------------------------------------------ attributes
    @property
    def shape(self) -> tuple[int, ...]:
        """The array's shape."""
        return self._data.shape

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return self._data.ndim

    @property
    def size(self) -> int:
        """The number of elements."""
        return self._data.size

    @property
    def dtype(self) -> np.dtype:
        """The array's dtype."""
        return self._data.dtype

    @property
    def is_leaf(self) -> bool:
        """True for a Tensor no recorded op made (inputs, parameters, constants)."""
        return self.grad_fn is None

    @property
    def op(self) -> str | None:
        """Name of the op that produced this Tensor (None for leaves)."""
        return None if self.grad_fn is None else type(self.grad_fn).__name__

    @property
    def _version(self) -> int:
        """How many in-place changes the library made to this Tensor's storage."""
        return 0 if self._vc is None else self._vc[0]

    @property
    def T(self) -> "Tensor":
        """The axes reversed (a matrix's transpose)."""
        return self.transpose()

    @property
    def mT(self) -> "Tensor":
        """Swap the last two axes (batched matrix transpose)."""
        if self.ndim < 2:
            raise ValueError(f"mT: needs a tensor of at least 2 dimensions, got shape {self.shape}")
        axes = list(range(self.ndim))
        axes[-2:] = axes[-1], axes[-2]
        return self.transpose(*axes)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Make this leaf (not) require grad, in place; returns self. Floating point only."""
        if requires_grad and self._data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require grad, got dtype {self.dtype}")
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor: use .detach()")
        if requires_grad != self.requires_grad:
            changes[0] += 1                       # what a compiled step records changes
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> "Tensor":
        """Keep this non-leaf's gradient in `.grad` after backward."""
        self._retains_grad = True
        return self

    def detach(self) -> "Tensor":
        """The same data (shared, with the same version counter), cut from the graph."""
        out = wrap(self._data)
        share_version(out, self)
        return out

    def astype(self, dtype: Any) -> "Tensor":
        """This Tensor in another dtype (recorded: the gradient flows back cast)."""
        if np.dtype(dtype) == self.dtype:
            return self
        return _ops.Cast.apply(self, dtype=np.dtype(dtype))

    def clone(self) -> "Tensor":
        """A copy with its own storage, recorded (the gradient passes through unchanged)."""
        return _ops.Clone.apply(self)

    # ------------------------------------------------------------ values into Python
    def numpy(self) -> ndarray:
        """The live ndarray (as `.data`)."""
        check_readable(".numpy()")
        return self._data

    def item(self) -> Any:
        """The value of a one-element Tensor as a Python number."""
        check_readable(".item()")
        if self.size != 1:
            raise ValueError(f"item(): only a one-element Tensor can be converted to a Python "
                             f"scalar, this one has shape {self.shape}")
        return self._data.item()

    def tolist(self) -> Any:
        """The values as (nested) Python lists."""
        check_readable(".tolist()")
        return self._data.tolist()

    def __float__(self) -> float:
        check_readable("float()")
        return float(self._one("float()"))

    def __int__(self) -> int:
        check_readable("int()")
        return int(self._one("int()"))

    def __bool__(self) -> bool:
        check_readable("bool() (an `if` or `while` on a Tensor)")
        return bool(self._one("bool()"))

    def __format__(self, spec: str) -> str:
        if not spec:
            return str(self)
        check_readable("format()")
        return format(self._one(f"format spec {spec!r}").item(), spec)

    def _one(self, what: str) -> ndarray:
        if self.size != 1:
            raise ValueError(f"{what}: only a one-element Tensor can be converted, this one has "
                             f"shape {self.shape}")
        return self._data.reshape(())

    def __array__(self, dtype: Any = None, copy: Any = None) -> ndarray:
        """NumPy 2's protocol: the live array, a copy when asked, and an error when a dtype
        change would need a copy that `copy=False` forbids."""
        check_readable("np.asarray()")
        if copy:
            return np.array(self._data, dtype=dtype)
        if dtype is None or np.dtype(dtype) == self._data.dtype:
            return self._data
        if copy is False:
            raise ValueError(f"Tensor.__array__: a {self._data.dtype} -> {np.dtype(dtype)} "
                             "conversion needs a copy, but copy=False")
        return self._data.astype(dtype)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """NumPy calls this when an ndarray meets a Tensor. `arr * t`, `arr @ t`, `np.exp(t)`:
        the Tensor op (recorded, a Tensor result). Writing into an ndarray, as in the
        hand-written update `p.data -= lr * p.grad`: plain NumPy on the values, in place."""
        out = kwargs.get("out")
        if out is not None and all(isinstance(o, ndarray) for o in out):
            return getattr(ufunc, method)(*[_raw(x) for x in inputs], **kwargs)
        if method != "__call__" or kwargs:
            return NotImplemented
        if ufunc in _COMPARISONS:
            return wrap(np.asanyarray(ufunc(*[_raw(x) for x in inputs])))
        op = _UFUNC_OPS.get(ufunc)
        if op is None:
            return NotImplemented
        return getattr(_ops, op).apply(*(_pair(*inputs) if len(inputs) == 2 else inputs))

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d Tensor")
        return len(self._data)

    def __iter__(self) -> Iterator["Tensor"]:
        return (self[i] for i in range(len(self)))

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", prefix="Tensor(")
        extra = ""
        if self._data.dtype != _default_dtype and self._data.dtype.kind == "f":
            extra += f", dtype={self._data.dtype}"
        if self.grad_fn is not None:
            extra += f", grad_fn={self.op}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        if self.label:
            extra += f", label={self.label!r}"
        return f"Tensor({body}{extra})"

    def backward(self, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """Accumulate d self / d leaf into `.grad` of every leaf that requires grad."""
        _engine.backward(self, gradient, retain_graph, create_graph)

    # ------------------------------------------------------------ arithmetic
    def __add__(self, o: Any) -> "Tensor": return _ops.Add.apply(*_pair(self, o))
    def __radd__(self, o: Any) -> "Tensor": return _ops.Add.apply(*_pair(o, self))
    def __sub__(self, o: Any) -> "Tensor": return _ops.Sub.apply(*_pair(self, o))
    def __rsub__(self, o: Any) -> "Tensor": return _ops.Sub.apply(*_pair(o, self))
    def __mul__(self, o: Any) -> "Tensor": return _ops.Mul.apply(*_pair(self, o))
    def __rmul__(self, o: Any) -> "Tensor": return _ops.Mul.apply(*_pair(o, self))
    def __truediv__(self, o: Any) -> "Tensor": return _ops.Div.apply(*_pair(self, o))
    def __rtruediv__(self, o: Any) -> "Tensor": return _ops.Div.apply(*_pair(o, self))
    def __pow__(self, o: Any) -> "Tensor": return _ops.Pow.apply(*_pair(self, o))
    def __rpow__(self, o: Any) -> "Tensor": return _ops.Pow.apply(*_pair(o, self))
    def __matmul__(self, o: Any) -> "Tensor": return _ops.MatMul.apply(self, as_tensor(o, self))
    def __rmatmul__(self, o: Any) -> "Tensor": return _ops.MatMul.apply(as_tensor(o, self), self)
    def __neg__(self) -> "Tensor": return _ops.Neg.apply(self)
    def __pos__(self) -> "Tensor": return self

    # ------------------------------------------------------------ in place
    # PyTorch's rules: a leaf that requires grad can't change in place while grad mode is on;
    # a change that must be recorded (`total += loss`) is a real in-place op: the array is
    # written in place and this Tensor's history becomes the op's node, whose input is a
    # snapshot of the value and history it had (`engine.as_recorded` keeps earlier users of
    # this Tensor on that old history). Every in-place change moves the version counter on.
    def __iadd__(self, o: Any) -> "Tensor": return self._inplace(np.add, "Add", o, "+=")
    def __isub__(self, o: Any) -> "Tensor": return self._inplace(np.subtract, "Sub", o, "-=")
    def __imul__(self, o: Any) -> "Tensor": return self._inplace(np.multiply, "Mul", o, "*=")
    def __itruediv__(self, o: Any) -> "Tensor": return self._inplace(np.true_divide, "Div", o, "/=")

    def _inplace(self, ufunc: Any, op: str, o: Any, symbol: str) -> "Tensor":
        other = as_tensor(o, self)
        if _local.mode.trace is not None:
            _local.mode.trace.adopt(self)         # state changed in place: live in a replay
        try:
            if self._must_record(other, symbol):
                self._record_inplace(getattr(_ops, op), other)
            else:
                ufunc(self._data, other._data, out=self._data)
        except (ValueError, TypeError) as e:
            raise type(e)(f"in-place {symbol}: cannot apply an operand of shape {other.shape} and "
                          f"dtype {other.dtype} to a tensor of shape {self.shape} and dtype "
                          f"{self.dtype} ({e})") from None
        bump_version(self)
        return self

    def _record_inplace(self, op: Any, other: "Tensor") -> None:
        before = _init(_new(Tensor), self._data.copy(), self.grad_fn, self.requires_grad)
        result = op.apply(before, other)
        if result.shape != self.shape:
            raise ValueError(f"the result would have shape {result.shape}")
        np.copyto(self._data, result._data, casting="same_kind")
        result.grad_fn.inplace_of = before
        self.grad_fn, self.requires_grad = result.grad_fn, True
        rebased[0] = True

    def __setitem__(self, idx: Any, value: Any) -> None:
        other = as_tensor(value, self)
        if _local.mode.trace is not None:
            _local.mode.trace.adopt(self)
        if self._must_record(other, "t[...] = v"):
            raise RuntimeError(
                "t[...] = v on a Tensor that is part of a graph (or with a value that requires "
                "grad) is not supported: build the result out of place (e.g. with tg.where or "
                "tg.concatenate), or assign under `with tg.no_grad():`")
        try:
            self._data[_raw_index(idx)] = other._data
        except (ValueError, TypeError, IndexError) as e:
            raise type(e)(f"t[...] = v: cannot assign a value of shape {other.shape} to index "
                          f"{idx!r} of a tensor of shape {self.shape} ({e})") from None
        bump_version(self)

    def _must_record(self, other: "Tensor", symbol: str) -> bool:
        """Whether an in-place change must be recorded; a leaf that requires grad refuses."""
        if not (_local.mode.grad_enabled and (self.requires_grad or other.requires_grad)):
            return False
        if self.requires_grad and self.grad_fn is None:
            raise RuntimeError(
                f"in-place {symbol} on a leaf Tensor that requires grad while grad mode is on: "
                "update parameters under `with tg.no_grad():` (or change `.data`)")
        return True

    # comparisons: bool Tensors outside the graph (asarray: 0-d comparisons give NumPy scalars)
    def __lt__(self, o: Any) -> "Tensor": return wrap(np.asanyarray(self._data < _raw(o)))
    def __le__(self, o: Any) -> "Tensor": return wrap(np.asanyarray(self._data <= _raw(o)))
    def __gt__(self, o: Any) -> "Tensor": return wrap(np.asanyarray(self._data > _raw(o)))
    def __ge__(self, o: Any) -> "Tensor": return wrap(np.asanyarray(self._data >= _raw(o)))
    def __eq__(self, o: Any) -> "Tensor": return wrap(np.asanyarray(self._data == _raw(o)))  # type: ignore[override]
    def __ne__(self, o: Any) -> "Tensor": return wrap(np.asanyarray(self._data != _raw(o)))  # type: ignore[override]

    # ------------------------------------------------------------ elementwise
    def exp(self) -> "Tensor":
        """e^x, elementwise."""
        return _ops.Exp.apply(self)
    def log(self) -> "Tensor":
        """Natural logarithm, elementwise."""
        return _ops.Log.apply(self)
    def sqrt(self) -> "Tensor":
        """Square root, elementwise."""
        return _ops.Sqrt.apply(self)
    def abs(self) -> "Tensor":
        """|x|, elementwise (gradient sign(x), 0 at 0)."""
        return _ops.Abs.apply(self)
    def tanh(self) -> "Tensor":
        """Hyperbolic tangent, elementwise."""
        return _ops.Tanh.apply(self)
    def sigmoid(self) -> "Tensor":
        """1 / (1 + e^-x), elementwise, stable for any finite x."""
        return _ops.Sigmoid.apply(self)
    def relu(self) -> "Tensor":
        """max(x, 0), elementwise (gradient 0 at 0)."""
        return _ops.Relu.apply(self)
    def softplus(self) -> "Tensor":
        """log(1 + e^x), elementwise, stable for any finite x."""
        return _ops.Softplus.apply(self)

    def leaky_relu(self, negative_slope: float = 0.01) -> "Tensor":
        """x for x > 0, negative_slope · x otherwise."""
        return _ops.LeakyRelu.apply(self, slope=negative_slope)

    def clip(self, lo: float | None = None, hi: float | None = None) -> "Tensor":
        """Clamp into [lo, hi] (either bound may be None); the gradient passes where x is
        inside, bounds included."""
        return _ops.Clip.apply(self, lo=lo, hi=hi)

    # ------------------------------------------------------------ reductions
    def sum(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        """Sum over `axis` (None: all; an int, a negative int or a tuple), as NumPy."""
        return _ops.Sum.apply(self, axis=_ops.norm_axes(axis, self.ndim, "sum"), keepdims=keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        """Mean over `axis`; the mean of nothing is nan (without a warning)."""
        axes = _ops.norm_axes(axis, self.ndim, "mean")
        count = int(np.prod([self.shape[a] for a in axes]))
        return _ops.Sum.apply(self, axis=axes, keepdims=keepdims) * (1.0 / count if count else float("nan"))

    def max(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        """Maximum over `axis`; tied maxima share the gradient equally."""
        return _ops.Max.apply(self, axis=_ops.norm_axes(axis, self.ndim, "max"), keepdims=keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        """Minimum over `axis`; tied minima share the gradient equally."""
        return _ops.Min.apply(self, axis=_ops.norm_axes(axis, self.ndim, "min"), keepdims=keepdims)

    def logsumexp(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        """log Σ e^x over `axis`, stable for any finite input; over nothing, -inf."""
        return _ops.LogSumExp.apply(self, axis=_ops.norm_axes(axis, self.ndim, "logsumexp"),
                                    keepdims=keepdims)

    def softmax(self, axis: int = -1) -> "Tensor":
        """e^x / Σ e^x along `axis`, stable for any finite input."""
        return _ops.Softmax.apply(self, axis=_ops.norm_axis(axis, self.ndim, "softmax"))

    def log_softmax(self, axis: int = -1) -> "Tensor":
        """x - logsumexp(x) along `axis`, stable for any finite input."""
        return _ops.LogSoftmax.apply(self, axis=_ops.norm_axis(axis, self.ndim, "log_softmax"))

    # ------------------------------------------------------------ shape
    def reshape(self, *shape: Any) -> "Tensor":
        """The same values in a new shape (`t.reshape(2, 3)` or `t.reshape((2, 3))`)."""
        return _ops.Reshape.apply(self, shape=_shape_arg(shape))

    def flatten(self) -> "Tensor":
        """The values as one dimension."""
        return self.reshape(-1)

    def transpose(self, *axes: Any) -> "Tensor":
        """Permute the axes (reversed when none are given); the axes must be a permutation."""
        axes = _shape_arg(axes)
        if not axes:
            axes = tuple(range(self.ndim))[::-1]
        elif len(axes) != self.ndim or sorted(_ops.norm_axis(a, self.ndim, "transpose") for a in axes) != list(range(self.ndim)):
            raise ValueError(f"transpose: axes {axes} are not a permutation of the {self.ndim} "
                             f"axes of a tensor of shape {self.shape}")
        return _ops.Transpose.apply(self, axes=tuple(a % max(self.ndim, 1) for a in axes))

    def expand(self, *shape: Any) -> "Tensor":
        """Broadcast to `shape` (no copy), like `np.broadcast_to`."""
        return _ops.Expand.apply(self, shape=_shape_arg(shape))

    def __getitem__(self, idx: Any) -> "Tensor":
        return _ops.GetItem.apply(self, idx=_raw_index(idx))


# NumPy ufuncs that have a Tensor op (`Tensor.__array_ufunc__`), by op name
_UFUNC_OPS = {np.add: "Add", np.subtract: "Sub", np.multiply: "Mul", np.true_divide: "Div",
              np.power: "Pow", np.matmul: "MatMul", np.negative: "Neg", np.exp: "Exp",
              np.log: "Log", np.sqrt: "Sqrt", np.tanh: "Tanh", np.absolute: "Abs",
              np.maximum: "Maximum", np.minimum: "Minimum"}
_COMPARISONS = {np.less, np.less_equal, np.greater, np.greater_equal, np.equal, np.not_equal}


# ---------------------------------------------------------------- making Tensors
_new = object.__new__


def _init(t: Tensor, data: ndarray, grad_fn: Any, requires_grad: bool) -> Tensor:
    """Every field of a Tensor, set in this one place (the rare ones keep their class-level
    defaults until set)."""
    t._data = data
    t._grad = None
    t.requires_grad = requires_grad
    t.grad_fn = grad_fn
    return t


def wrap(data: ndarray, grad_fn: Any = None, requires_grad: bool = False) -> Tensor:
    """A Tensor around an existing array: no copy, no checks (the engine's constructor)."""
    return _init(_new(Tensor), data, grad_fn, requires_grad)


def as_tensor(x: Any, like: Tensor | None = None) -> Tensor:
    """Anything as a Tensor: Tensors as they are, ndarrays wrapped without a copy (constants),
    Python scalars in `like`'s dtype so they never upcast it (an integer or bool Tensor meets a
    Python float in the default dtype), everything else through `Tensor(x)`."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, ndarray):
        return wrap(x)
    if like is not None and isinstance(x, (bool, int, float)):
        dt = like._data.dtype
        if dt.kind != "f":
            dt = _default_dtype if isinstance(x, float) else np.result_type(dt, x)
        return wrap(np.asarray(x, dtype=dt))
    return wrap(_to_array(x, None))


def _pair(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """Both operands of an elementwise op as Tensors, with PyTorch's rule that a 0-d float
    tensor does not change the dtype of a float tensor with dimensions (NumPy would upcast)."""
    if type(a) is type(b) is Tensor and a._data.dtype is b._data.dtype:
        return a, b                                # the common case, first
    if isinstance(a, Tensor):
        b = as_tensor(b, a)
    else:
        a = as_tensor(a, b)
    da, db = a._data, b._data
    if da.dtype is not db.dtype and da.dtype.kind == db.dtype.kind == "f" and (da.ndim == 0) != (db.ndim == 0):
        if da.ndim == 0:
            a = a.astype(db.dtype)
        else:
            b = b.astype(da.dtype)
    return a, b


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None, label: str | None = None) -> Tensor:
    """Same as `Tensor(...)`."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, label=label)


def _raw(x: Any) -> Any:
    return x._data if isinstance(x, Tensor) else x


def _raw_index(idx: Any) -> Any:
    if isinstance(idx, tuple):
        return tuple(_raw(i) for i in idx)
    return _raw(idx)


def _shape_arg(args: tuple) -> tuple:
    """`f(2, 3)` and `f((2, 3))` alike."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


# ---------------------------------------------------------------- version counters
# One clock numbers recorded nodes (`Function.apply`) and in-place changes, so the engine
# checks a node's saved values only if some in-place change happened after it was recorded.
clock = itertools.count(1)
last_change = [0]        # the clock's value at the latest in-place change, in any thread
changes = [0]            # bumped when arrays a compiled step holds may be replaced: a
                         # parameter's .data rebound, a module or optimizer changed or loaded
rebased = [False]        # whether any recorded in-place op ever gave a Tensor a newer history


def clear_grads(tensors: Iterable[Tensor]) -> None:
    """`t.grad = None` for each (zero_grad), in one loop rather than a property call per
    Tensor: a running trace notes it, so tg.compile's replays set those gradients again."""
    trace = _local.mode.trace
    for t in tensors:
        if trace is not None:
            trace.resets.add(id(t))
        t._grad = None


def bump_version(t: Tensor) -> None:
    """Record an in-place change of `t`'s storage (seen by every view sharing the counter)."""
    bump_versions((t,))


def bump_versions(tensors: Iterable[Tensor]) -> None:
    """`bump_version` of each (an optimizer step changes every parameter at once)."""
    for t in tensors:
        vc = t._vc
        if vc is None:
            t._vc = [1]
        else:
            vc[0] += 1
    last_change[0] = next(clock)


def owner_of(a: ndarray) -> ndarray:
    """The array that owns `a`'s memory (following views)."""
    while isinstance(a.base, ndarray):
        a = a.base
    return a


def share_version(view: Tensor, base: Tensor) -> None:
    """`view` shares `base`'s storage, so in-place changes of either bump both."""
    if base._vc is None:
        base._vc = [0]
    view._vc = base._vc


from . import engine as _engine  # noqa: E402  (engine and ops need Tensor defined first)
from . import ops as _ops  # noqa: E402
