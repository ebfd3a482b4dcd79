"""How the pictures write things: numbers, arrays, shapes, op symbols, operand roles, and the
rule that tells constants from inputs. Shared by the op graph and the step-by-step frames, so
both speak the same notation.

Labels are plain text (Unicode subscripts and symbols, never Graphviz HTML labels), because
the in-process WebAssembly renderer drops HTML labels: a picture must read the same with and
without the `dot` program.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..tensor import Tensor

# ================================================================== numbers and arrays
_SUB = str.maketrans("0123456789()-", "₀₁₂₃₄₅₆₇₈₉₍₎₋")
_SUP = str.maketrans("0123456789()-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾⁻")


def subscript(text: Any) -> str:
    """`x` + subscript(1) == "x₁": digits and parentheses as Unicode subscripts."""
    return str(text).translate(_SUB)


def superscript(text: Any) -> str:
    """"h" + superscript("(2)") == "h⁽²⁾"."""
    return str(text).translate(_SUP)


def num(x: Any) -> str:
    """A number in 4 significant digits (enough for a student to check, short enough to
    read); -0 is written 0."""
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    v = float(x)
    text = f"{v:.4g}"
    return "0" if text == "-0" else text


def values(a: Any, max_elements: int = 6) -> list[str]:
    """A few numbers verbatim (a matrix one row per line, as it is written on paper; a column
    on one line), many as summary statistics (two lines); never a NumPy warning."""
    a = np.asarray(a)
    if a.size <= max_elements:
        if a.ndim == 0:
            return [num(a.item())]
        text = np.array2string(a, separator=", ", max_line_width=10**9, formatter={"all": num})
        lines = [line.strip() for line in text.split("\n") if line.strip()]
        return lines if a.shape[-1] > 1 else [" ".join(lines)]    # a column: one line
    f = a.astype(np.float64) if a.dtype.kind in "biu" else a
    with np.errstate(all="ignore"):
        return [f"mean {num(np.mean(f))} std {num(np.std(f))}",
                f"min {num(np.min(f))} max {num(np.max(f))}"]


def shape_text(t: Tensor) -> str | None:
    """"(3, 2)" for a tensor, with its dtype when it is not the default dtype; nothing for a
    0-d tensor in the default dtype (on small graphs of scalars the line is only noise)."""
    from .. import get_default_dtype
    unusual = t.dtype != np.dtype(get_default_dtype())
    if t.ndim == 0:
        return str(t.dtype) if unusual else None
    return f"{t.shape} {t.dtype}" if unusual else str(t.shape)


# ================================================================== what a leaf is
def is_constant(t: Tensor) -> bool:
    """The rule for drawing a leaf as a constant rather than an input: it does not require
    grad and nobody gave it a label. Python scalars and arrays mixed into arithmetic
    (`2 * x`, `x - np.ones(3)`) are constants; data the user labelled (`Tensor(X, label="X")`)
    stays an input even without gradients."""
    return t.grad_fn is None and not t.requires_grad and not t.label


def constant_text(t: Tensor, max_elements: int = 6) -> list[str]:
    """A constant is drawn as its value (or its shape and summary when large)."""
    if t.size <= max_elements:
        return values(t.data, max_elements)
    return [f"constant {t.shape}"] + values(t.data, max_elements)


# ================================================================== ops
# symbols for the arithmetic operators, function names for the rest
_NAMES = {
    "Add": "+", "Sub": "−", "Mul": "×", "Div": "÷", "Pow": "**", "MatMul": "@", "Neg": "neg",
    "Linear": "linear", "Exp": "exp", "Log": "log", "Sqrt": "√", "Tanh": "tanh", "Sigmoid": "σ",
    "Softplus": "softplus", "Abs": "abs", "Relu": "ReLU", "LeakyRelu": "leaky ReLU",
    "Clip": "clip", "Maximum": "max", "Minimum": "min", "Where": "where", "Cast": "cast",
    "Clone": "clone", "Sum": "Σ", "Max": "max", "Min": "min", "LogSumExp": "logsumexp",
    "Softmax": "softmax", "LogSoftmax": "log softmax", "Reshape": "reshape",
    "Transpose": "transpose", "Expand": "expand", "GetItem": "[ ]", "ScatterAdd": "scatter add",
    "Concatenate": "concat", "MseLoss": "MSE", "BinaryCrossEntropy": "BCE",
    "BinaryCrossEntropyWithLogits": "BCE (logits)", "CrossEntropy": "cross-entropy",
    "SoftCrossEntropy": "cross-entropy",
}
# operand order matters: the op is written with its operands' positions (① − ②; circled
# numbers, because letters would clash with the users' own labels), and each input edge
# carries its position or role
_ROLES = {
    "Sub": ("① − ②", ("①", "②")), "Div": ("① ÷ ②", ("①", "②")),
    "Pow": ("① ** ②", ("①", "②")), "MatMul": ("① @ ②", ("①", "②")),
    "Linear": ("x Wᵀ + b", ("x", "W", "b")), "Where": ("where(cond, ①, ②)", ("①", "②")),
    "MseLoss": ("", ("pred", "target")), "BinaryCrossEntropy": ("", ("prob", "target")),
    "BinaryCrossEntropyWithLogits": ("", ("logits", "target")),
    "CrossEntropy": ("", ("logits",)), "SoftCrossEntropy": ("", ("logits", "target")),
}
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩"
ELEMENTWISE = {"Add", "Sub", "Mul", "Div", "Neg", "Pow", "Exp", "Log", "Sqrt", "Tanh", "Sigmoid",
               "Softplus", "Abs", "Relu", "LeakyRelu", "Clip", "Maximum", "Minimum", "Where",
               "Cast", "Clone"}


def op_name(t: Tensor) -> str:
    """The op that made `t` as a reader writes it: `×`, `σ`, `Σ axis 0`, or its class name
    for a custom Function."""
    name = t.op or ""
    shown = _NAMES.get(name, name)
    ctx = t.grad_fn
    if name == "Sum" and ctx is not None and hasattr(ctx, "kept"):   # (freed nodes forget)
        pairs = list(zip(ctx.shape, ctx.kept))
        summed = [i for i, (n, k) in enumerate(pairs) if n != k]
        if summed and any(n == k != 1 for n, k in pairs):           # a partial sum
            shown += " axis " + ", ".join(str(i) for i in summed)
    return shown


def op_label(t: Tensor) -> list[str]:
    """The op node's text: the name, and for an op whose operand order matters, the form
    with its operands' positions or roles (`① − ②`, `x Wᵀ + b`)."""
    name, form = op_name(t), _ROLES.get(t.op or "", ("", ()))[0]
    if not form or form == name:
        return [name]
    if (t.op or "") in ("Sub", "Div", "Pow", "MatMul"):
        return [form]
    return [name, form]


def operand_roles(t: Tensor, n_inputs: int) -> Sequence[str] | None:
    """The role of each input of `t`'s op (`①`, `②`; `x`, `W`, `b`; `pred`, `target`), or
    None when the op is commutative or has one input, where the order tells nothing."""
    roles = _ROLES.get(t.op or "")
    if roles is not None:
        names = roles[1]
        return tuple(names[i] if i < len(names) else _circled(i) for i in range(n_inputs))
    if t.op == "Concatenate" or (t.op not in _NAMES and n_inputs > 1):
        return tuple(_circled(i) for i in range(n_inputs))
    return None


def _circled(i: int) -> str:
    return _CIRCLED[i] if i < len(_CIRCLED) else f"({i + 1})"


# ================================================================== Graphviz text
_RECORD_ESCAPES = str.maketrans({c: "\\" + c for c in '{}|<>"\\'})
_PLAIN_ESCAPES = str.maketrans({"\\": "\\\\"})     # graphviz quotes the quotes


def record_label(fields: Sequence[Sequence[str]], vertical: bool = False) -> str:
    """A Graphviz record label from fields of text lines (user text made literal)."""
    body = "|".join("\\n".join(line.translate(_RECORD_ESCAPES) for line in field)
                    for field in fields)
    return "{" + body + "}" if vertical else body


def plain_label(lines: Sequence[str]) -> str:
    """A plain Graphviz label from lines of text (user text made literal)."""
    return "\\n".join(line.translate(_PLAIN_ESCAPES) for line in lines)
