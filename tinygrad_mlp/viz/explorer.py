"""`explore(root)`: backpropagation step by step as a player: in Jupyter, in a standalone HTML
file (`save`), or as an animated GIF for slides (`save_gif`); `quiz=True` turns it into an
exercise the page marks.
"""
from __future__ import annotations

import hashlib
import io
import itertools
import os
from typing import Any

import numpy as np

from ..tensor import Tensor
from . import player, rendering, steps

__all__ = ["Explorer", "explore"]

_shown = itertools.count(1)      # players shown in this process: unique ids on one page


class Explorer:
    """The frames of `backward_steps(root)` and a self-contained HTML player for them.

    Displays itself in Jupyter (`_repr_html_`); `save(path)` writes the same player as one
    standalone `.html` file; `save_gif(path)` writes an animation. With `quiz=True` the
    frames hide the gradients and the page has an answer box per value that requires grad,
    checked against the true gradient (relative error ≤ 1e-3) and coloured right or wrong.
    `frames` are the `graphviz.Digraph`s; `len(explorer)` is how many."""

    def __init__(self, root: Tensor, quiz: bool = False, *, rankdir: str | None = None,
                 max_steps: int = steps.MAX_STEPS, seconds_per_frame: float = 1.5) -> None:
        self.trace = steps.trace(root, max_steps)
        self.quiz = bool(quiz)
        self.frames = steps.frames(self.trace, self.quiz, rankdir)
        self.seconds_per_frame = float(seconds_per_frame)
        self._svgs: list[str] | None = None

    def __len__(self) -> int:
        return len(self.frames)

    def __repr__(self) -> str:
        kind = "quiz" if self.quiz else "explorer"
        return (f"<viz.Explorer ({kind}): backward of {self.trace.values[0].name} in "
                f"{len(self.trace.steps)} steps, {len(self)} frames>")

    # ------------------------------------------------------------ the page
    @property
    def svgs(self) -> list[str]:
        """Each frame as an SVG element (rendered once, with `dot` or in-process)."""
        if self._svgs is None:
            self._svgs = [rendering.inline_svg(rendering._render_bytes(f.source, "svg"))
                          for f in self.frames]
        return self._svgs

    def titles(self) -> list[str]:
        """One line per frame for the player's status line."""
        out = ["Forward pass (values only)"]
        for i, step in enumerate(self.trace.steps, 1):
            out.append(f"Step {i} of {len(self.trace.steps)}: "
                       f"{steps._expression(self.trace, step.out)}")
        return out

    def answers(self) -> list[dict[str, Any]]:
        """The quiz's questions: d root / d value for every value that requires grad, root
        first, in the order backward reaches them."""
        tr = self.trace
        root = tr.values[0].name
        order = [0] + [c.value for s in tr.steps for c in s.inputs]
        seen: list[int] = []
        for k in order + sorted(tr.grads):
            if k in tr.grads and k not in seen:
                seen.append(k)
        return [{"node": f"v{k}", "label": f"∂{root}/∂{tr.values[k].name}",
                 "shape": list(tr.values[k].tensor.shape),
                 "grad": [float(v) for v in np.asarray(tr.grads[k], dtype=np.float64).ravel()]}
                for k in seen]

    def _title(self) -> str:
        what = "Backprop quiz" if self.quiz else "Backprop step by step"
        return f"{what}: {self.trace.values[0].name}"

    def _fragment(self, page: bool) -> str:
        focus = [""] + [f"o{s.out}" for s in self.trace.steps]
        frames = [{"svg": svg, "title": t, "focus": f}
                  for svg, t, f in zip(self.svgs, self.titles(), focus)]
        digest = hashlib.sha1("".join(self.svgs).encode("utf-8")).hexdigest()[:10]
        uid = f"tgx-{digest}" + ("" if page else f"-{next(_shown)}")    # a saved page: stable
        return player.fragment(uid, self._title(), frames,
                               int(self.seconds_per_frame * 1000),
                               self.answers() if self.quiz else None, page=page)

    def _repr_html_(self) -> str:
        return self._fragment(page=False)

    def html(self) -> str:
        """The standalone page `save` writes."""
        return player.page(self._fragment(page=True), self._title())

    def save(self, path: str | os.PathLike) -> str:
        """Write the player as one standalone `.html` file (open it in any browser, offline)
        and return its path."""
        path = os.fspath(path)
        if not path.lower().endswith((".html", ".htm")):
            raise ValueError(f"Explorer.save: expected a path ending in .html, got {path!r} "
                             "(save_gif writes an animation)")
        _parent(path)
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.html())
        return path

    # ------------------------------------------------------------ the animation
    def save_gif(self, path: str | os.PathLike, seconds_per_frame: float = 1.0,
                 dpi: float = 120) -> str:
        """Write the frames as an animated GIF (for slides) and return its path. Each frame is
        drawn as PNG by the Graphviz `dot` program and the GIF is assembled by pillow."""
        path = os.fspath(path)
        if not path.lower().endswith(".gif"):
            raise ValueError(f"Explorer.save_gif: expected a path ending in .gif, got {path!r}")
        if seconds_per_frame <= 0:
            raise ValueError(f"Explorer.save_gif: seconds_per_frame must be positive, got "
                             f"{seconds_per_frame}")
        if not rendering._dot_available():
            raise RuntimeError("Explorer.save_gif: drawing PNG frames needs the Graphviz dot "
                               "program, which is not on PATH (apt-get install graphviz, brew "
                               "install graphviz); save(path.html) writes the player, which "
                               "needs no dot")
        try:
            from PIL import Image
        except ImportError:
            raise RuntimeError("Explorer.save_gif: needs pillow to assemble the GIF: "
                               "pip install pillow") from None
        images = [Image.open(io.BytesIO(rendering._render_bytes(f.source, "png", dpi))).convert("RGB")
                  for f in self.frames]
        w = max(im.width for im in images)
        h = max(im.height for im in images)
        canvas = []
        for im in images:                      # pinned frames agree; pad any stray pixel
            c = Image.new("RGB", (w, h), "white")
            c.paste(im, (0, 0))
            canvas.append(c.quantize(colors=255, method=Image.Quantize.MEDIANCUT))
        _parent(path)
        canvas[0].save(path, save_all=True, append_images=canvas[1:], loop=0,
                       duration=int(seconds_per_frame * 1000), disposal=1)
        return path


def _parent(path: str) -> None:
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)


def explore(root: Tensor, quiz: bool = False, **options: Any) -> Explorer:
    """Backpropagation of the single-number `root`, step by step, as a player (see
    `Explorer`): frame 0 is the forward pass, then one frame per op in the order backward
    runs them. `quiz=True` hides the gradients and asks for them. Options: `rankdir`,
    `max_steps`, `seconds_per_frame` (the player's play speed). No `.grad` is changed and
    the graph is not freed."""
    return Explorer(root, quiz, **options)
