"""Neural-network building blocks in PyTorch's shape: `Module`, `Parameter`, `Linear`,
activation modules, `Sequential`, `ModuleList`, `MLP` (the init rules live in `init`).

Submodules and Parameters register by attribute assignment and live in the instance's plain
`__dict__` as well, so reading `self.weight` in a forward pass is an ordinary attribute lookup.
`Module.__call__` extends this thread's tuple of running module calls (outermost first), and
every op recorded inside keeps that tuple: viz draws one cluster per module from it. Modules
themselves store nothing about calls, so they pickle and deepcopy at any time.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, Mapping, NamedTuple

import numpy as np

from . import functional as F, ops
from .init import generator, init_weight
from .mode import _local
from .tensor import Tensor, bump_version, changes, clear_grads, get_default_dtype

__all__ = ["Module", "Parameter", "Linear", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "Softplus",
           "Identity", "Sequential", "ModuleList", "MLP"]


class Parameter(Tensor):
    """A Tensor that is a learnable parameter: `requires_grad=True`, and registered when it
    is assigned as an attribute of a `Module`. The data is copied (as `Tensor(data)` does)."""
    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class _IncompatibleKeys(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of every layer and model. Subclasses call `super().__init__()` first, assign
    Parameters and Modules as attributes, and define `forward`."""

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------ registration
    def __setattr__(self, name: str, value: Any) -> None:
        params = self.__dict__.get("_parameters")
        if params is None:
            raise AttributeError(f"cannot assign {name!r} before {type(self).__name__}.__init__ "
                                 "called Module.__init__() (call super().__init__() first)")
        modules = self.__dict__["_modules"]
        if isinstance(value, (Parameter, Module)) or name in params or name in modules:
            changes[0] += 1                       # compiled steps using this model retrace
        if isinstance(value, Parameter):
            modules.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} of "
                                f"{type(self).__name__} (nn.Parameter or None expected)")
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as submodule {name!r} of "
                                f"{type(self).__name__} (nn.Module or None expected)")
            modules[name] = None
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        changes[0] += 1
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register `param` (or None, a slot with no parameter, like `bias=False`)."""
        changes[0] += 1
        self._parameters[name] = param
        object.__setattr__(self, name, param)

    # ------------------------------------------------------------ calling
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """What the module computes; subclasses define it and users call the module."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        mode = _local.mode
        outer = mode.call
        mode.call = outer + (self,)
        try:
            if len(args) == 1 and not kwargs:     # the usual call, a plain one: CPython
                return self.forward(args[0])      # runs it faster than forward(*args)
            return self.forward(*args, **kwargs)
        finally:
            mode.call = outer

    def train(self, mode: bool = True) -> "Module":
        """Set training mode (`.training`) on this module and every submodule; returns self.
        No built-in layer behaves differently (there is no dropout or batch norm), but your
        own modules can read `self.training`."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        """Evaluation mode: `train(False)`."""
        return self.train(False)

    # ------------------------------------------------------------ traversal
    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        """(name, module) for each direct submodule, each once, in registration order."""
        seen: set[int] = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator["Module"]:
        """The direct submodules, each once."""
        return (m for _, m in self.named_children())

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        """Every module in the tree (this one first, as ""), depth first in registration order,
        each once; iterative, so deep nesting never hits the recursion limit."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            kids = [(f"{name}.{k}" if name else k, c) for k, c in m._modules.items() if c is not None]
            stack.extend(reversed(kids))

    def modules(self) -> Iterator["Module"]:
        """Every module in the tree, this one first, each once."""
        return (m for _, m in self.named_modules())

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter) pairs; a Parameter shared by two modules appears once."""
        seen: set[int] = set()
        mods = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for mname, m in mods:
            for pname, p in m._parameters.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mname}.{pname}" if mname else pname), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every Parameter in the tree, each once (what an optimizer takes)."""
        return (p for _, p in self.named_parameters(recurse=recurse))

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (`.grad = None`, PyTorch's default)."""
        clear_grads(self.parameters())

    # ------------------------------------------------------------ state
    def _all_named_parameters(self) -> list[tuple[str, Parameter]]:
        """Every (name, Parameter) pair, a tied Parameter under each of its names (as in
        PyTorch's state_dict, so tied and untied models load each other's state)."""
        out: list[tuple[str, Parameter]] = []
        stack: list[tuple[str, Module]] = [("", self)]
        while stack:
            mname, m = stack.pop()
            out += [(f"{mname}.{k}" if mname else k, p) for k, p in m._parameters.items() if p is not None]
            stack += reversed([(f"{mname}.{k}" if mname else k, c) for k, c in m._modules.items() if c is not None])
        return out

    def state_dict(self) -> dict[str, np.ndarray]:
        """name -> a copy of the parameter's array. A snapshot: training the model afterwards
        does not change it (PyTorch shares storage here, which surprises people who keep the
        "best" state in a variable)."""
        return {name: p.data.copy() for name, p in self._all_named_parameters()}

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> _IncompatibleKeys:
        """Copy arrays into the parameters in place (the Parameter objects, and so an
        optimizer's references to them, stay the same). Raises on a wrongly shaped or
        non-numeric entry always, and with `strict` on missing or unexpected keys, naming
        them. Returns (missing_keys, unexpected_keys)."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict: expected a mapping name -> array, got "
                            f"{type(state_dict).__name__}")
        own = dict(self._all_named_parameters())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        if strict and missing:
            errors.append("missing key(s) in state_dict: " + ", ".join(map(repr, missing)))
        if strict and unexpected:
            errors.append("unexpected key(s) in state_dict: " + ", ".join(map(repr, unexpected)))
        values = {}
        for k, p in own.items():
            if k in state_dict:
                v = _as_numeric(state_dict[k], k)
                if v.shape != p.shape:
                    errors.append(f"size mismatch for {k!r}: the state_dict has shape {v.shape}, "
                                  f"the parameter in the model has shape {p.shape}")
                values[k] = v
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n  "
                               + "\n  ".join(errors))
        for k, v in values.items():
            own[k].data[...] = v
            bump_version(own[k])
        changes[0] += 1
        return _IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------ repr
    def extra_repr(self) -> str:
        """One line of settings shown inside the parentheses of this module's repr."""
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): " + repr(m).replace("\n", "\n  ")
                 for name, m in self._modules.items() if m is not None]
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        head = f"{type(self).__name__}({extra}" if extra else f"{type(self).__name__}("
        return head + "\n  " + "\n  ".join(lines) + "\n)"


def _as_numeric(value: Any, key: str) -> np.ndarray:
    arr = value.data if isinstance(value, Tensor) else np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"state_dict entry {key!r} has dtype {arr.dtype}; expected a numeric array")
    return arr


# ------------------------------------------------------------------ layers
class Linear(Module):
    """y = x @ weight.T + bias, one fused node (`F.linear`). weight (out, in), bias (out,)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, init: str = "uniform",
                 rng: Any = None, dtype: Any = None) -> None:
        super().__init__()
        for name, n in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"Linear: {name} must be a positive int, got {n!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        dt = np.dtype(get_default_dtype() if dtype is None else dtype)
        if dt.kind != "f":
            raise TypeError(f"Linear: dtype must be floating point, got {dt}")
        w, b = init_weight(self.out_features, self.in_features, init, generator(rng))
        self.weight = Parameter(w.astype(dt))
        if bias:
            self.bias = Parameter(b.astype(dt))
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Any) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Sigmoid(Module):
    """σ(x) = 1 / (1 + e^-x), elementwise."""

    def forward(self, x: Any) -> Tensor:
        return ops.Sigmoid.apply(x)


class Tanh(Module):
    """tanh(x), elementwise."""

    def forward(self, x: Any) -> Tensor:
        return ops.Tanh.apply(x)


class ReLU(Module):
    """max(x, 0), elementwise."""

    def forward(self, x: Any) -> Tensor:
        return ops.Relu.apply(x)


class Softplus(Module):
    """log(1 + e^x), elementwise."""

    def forward(self, x: Any) -> Tensor:
        return ops.Softplus.apply(x)


class LeakyReLU(Module):
    """x for x > 0, negative_slope · x otherwise."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: Any) -> Tensor:
        return ops.LeakyRelu.apply(x, slope=self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Identity(Module):
    """Returns its input (a linear output layer's "activation")."""

    def forward(self, x: Any) -> Any:
        return x


class ModuleList(Module):
    """A list of registered submodules (named "0", "1", ...); indexable, iterable."""

    def __init__(self, modules: Any = ()) -> None:
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module: Module) -> "ModuleList":
        """Register `module` as the next item (named "0", "1", ...); returns self."""
        if not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}: expected an nn.Module, got {type(module).__name__}")
        setattr(self, str(len(self._modules)), module)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, idx: int | slice) -> Any:
        items = list(self._modules.values())
        return self._of(items[idx]) if isinstance(idx, slice) else items[idx]

    @classmethod
    def _of(cls, modules: list[Module]) -> "ModuleList":
        """A container of the same kind holding `modules` (what slicing returns)."""
        return cls(modules)


class Sequential(ModuleList):
    """Modules applied in order: `Sequential(a, b)(x) == b(a(x))`."""

    def __init__(self, *modules: Module) -> None:
        super().__init__(modules)

    @classmethod
    def _of(cls, modules: list[Module]) -> "Sequential":
        return cls(*modules)

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            x = m(x)
        return x


_ACTIVATIONS: dict[str, Callable[[], Module]] = {
    "sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU, "leaky_relu": LeakyReLU,
    "softplus": Softplus, "identity": Identity, "linear": Identity,
}


def _activation(act: Any, what: str) -> Module:
    if isinstance(act, Module):
        return act
    if act is None:
        return Identity()
    if isinstance(act, str) and act.lower() in _ACTIVATIONS:
        return _ACTIVATIONS[act.lower()]()
    raise ValueError(f"MLP: unknown {what} {act!r}; give an nn.Module or one of {sorted(_ACTIVATIONS)}")


def _pack(params: list[Parameter]) -> None:
    """Move `params` (one dtype) into one new buffer, side by side in this order, so that an
    optimizer updates them all with one NumPy call per operation (weights first, then biases:
    each kind is one range too, for optimizers that treat them apart). Only for parameters
    nobody has seen yet, at construction: an array someone kept would stop being updated."""
    flat = np.empty(sum(p.size for p in params), params[0].dtype)
    start = 0
    for p in params:
        part = flat[start:start + p.size].reshape(p.shape)
        part[...] = p._data
        p._data = part
        start += p.size


class MLP(Module):
    """A multilayer perceptron: `sizes=[2, 3, 1]` is 2 inputs, one hidden layer of 3 units and
    1 output. Every hidden layer is followed by `activation`, the last by `output_activation`
    (None: linear output). `model.layers` are its `Linear`s; the layers share one `rng`, drawn
    in order, so a seed fixes the whole network."""

    def __init__(self, sizes: Any, activation: Any = "sigmoid", output_activation: Any = None,
                 init: str = "uniform", rng: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if any(not isinstance(s, (int, np.integer)) or isinstance(s, bool) or s < 1 for s in sizes):
            raise ValueError(f"MLP: sizes must be positive ints, got {list(sizes)}")
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2:
            raise ValueError(f"MLP: sizes needs at least an input and an output size, got {sizes}")
        gen = generator(rng)
        self.sizes = sizes
        self.layers = ModuleList(Linear(a, b, init=init, rng=gen, dtype=dtype)
                                 for a, b in zip(sizes[:-1], sizes[1:]))
        _pack([lin.weight for lin in self.layers] + [lin.bias for lin in self.layers])
        self.activation = _activation(activation, "activation")
        self.output_activation = _activation(output_activation, "output_activation")

    def forward(self, x: Any) -> Tensor:
        *hidden, last = self.layers
        for layer in hidden:
            x = self.activation(layer(x))
        return self.output_activation(last(x))
