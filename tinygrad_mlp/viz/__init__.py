"""Pictures of what the engine did, with Graphviz: the op graph behind a Tensor (`graph`), the
network as units and weighted edges (`network`), backpropagation step by step (`steps`: the
frames; `explorer`: a player for them, in Jupyter or a standalone page, and a quiz), and
rendering that works on any machine (`render`). Imported on first use of `tg.viz`, so the core needs only NumPy."""
try:
    import graphviz  # noqa: F401
except ImportError:                                              # pragma: no cover - tested
    raise ImportError(
        "tinygrad_mlp.viz needs the graphviz Python package: pip install graphviz (or "
        'pip install -e ".[viz]" from a clone, which also brings an in-process renderer)') from None

from .graph import ROLE_COLORS, draw_graph
from .network import draw_network
from .rendering import Digraph, render
from .explorer import Explorer, explore
from .steps import backward_steps

__all__ = ["draw_graph", "draw_network", "render", "backward_steps", "explore", "Explorer",
           "Digraph", "ROLE_COLORS"]
