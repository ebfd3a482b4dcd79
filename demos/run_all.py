"""Run every demo: `python demos/run_all.py [--out DIR] [--fast]`.

Writes all figures into DIR (default demos/out/), then an index of them: `index.html` (open it
in a browser) and `README.md` (readable on GitHub or in any Markdown viewer), each figure with a
one-line caption and every demo's key numbers, links to the interactive pages a demo writes
(its `PAGES`, e.g. backprop's step-by-step explorer), and `results.json` with the same numbers.
"""
from __future__ import annotations

import html
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))   # `import common` and the demos

import common  # noqa: E402

DEMOS = ["linear_classifiers", "circles", "nonlinearity", "backprop", "xor_and",
         "activations", "symmetry", "spiral", "hessian"]


def run_all(out: Path, fast: bool = False, names: Sequence[str] = DEMOS) -> dict[str, common.Result]:
    """Run the named demos in order into `out`, write the index pages, return the results."""
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    results: dict[str, common.Result] = {}
    pages: dict[str, list[tuple[str, str]]] = {}
    for i, name in enumerate(names, 1):
        module = importlib.import_module(name)
        common.log(f"[{i}/{len(names)}] {module.TITLE}" + ("  (fast)" if fast else ""))
        results[name] = common.run_one(module.run, out, fast)
        pages[name] = [p for p in getattr(module, "PAGES", []) if (out / p[0]).is_file()]
    total = time.perf_counter() - start
    write_index(out, results, fast, total, pages)
    common.log(f"all {len(names)} demos in {total:.1f} s; open {out / 'index.html'}")
    return results


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value.item() if isinstance(value, np.generic) else value


def write_index(out: Path, results: dict[str, common.Result], fast: bool, total: float,
                pages: dict[str, list[tuple[str, str]]] | None = None) -> None:
    """The index pages; `pages` are each demo's interactive pages (file, caption) to link."""
    pages = pages or {}
    mode = "fast mode (--fast): smaller runs, smaller numbers" if fast else "full run"
    head = f"tinygrad_mlp demos: {mode}, {total:.0f} s in all"
    (out / "results.json").write_text(json.dumps(
        {name: {"title": r.title, "seconds": round(r.seconds, 2), "numbers": _jsonable(r.numbers),
                "figures": [f.file for f in r.figures],
                "pages": [p for p, _ in pages.get(name, [])]} for name, r in results.items()},
        indent=1))
    (out / "README.md").write_text(_markdown(results, head, pages), encoding="utf-8")
    (out / "index.html").write_text(_html(results, head, pages), encoding="utf-8")


def _markdown(results: dict[str, common.Result], head: str,
              pages: dict[str, list[tuple[str, str]]]) -> str:
    lines = [f"# {head}", ""]
    for name, r in results.items():
        lines += [f"## {r.title}", ""]
        for file, caption in pages.get(name, []):
            lines += [f"- Interactive: [{file}]({file}): {caption}"]
        if pages.get(name):
            lines += [""]
        for f in r.figures:
            link = f"[{f.file}]({f.file})" if f.file.endswith(".txt") else f"![{f.file}]({f.file})"
            lines += [link, "", f"*{f.caption}*", ""]
        lines += [f"- {k}: **{common.fmt(v)}**" for k, v in r.numbers.items()]
        if r.text:
            lines += ["", "```", *r.text, "```"]
        lines += [f"", f"({r.seconds:.1f} s)", ""]
    return "\n".join(lines)


def _html(results: dict[str, common.Result], head: str,
          pages: dict[str, list[tuple[str, str]]]) -> str:
    e = html.escape
    parts = [f"<!doctype html><meta charset='utf-8'><title>{e(head)}</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}"
             "figure{display:inline-block;margin:.5em;vertical-align:top;max-width:100%}"
             "img{max-width:100%;border:1px solid #ddd}figcaption{font-size:.9em;color:#333;max-width:640px}"
             "pre{background:#f6f6f6;padding:.5em;overflow-x:auto}</style>",
             f"<h1>{e(head)}</h1>"]
    for name, r in results.items():
        parts.append(f"<h2>{e(r.title)}</h2>")
        if pages.get(name):
            parts.append("<ul class='pages'>" + "".join(
                f"<li><b>Interactive:</b> <a href='{e(file)}'>{e(file)}</a>: {e(caption)}</li>"
                for file, caption in pages[name]) + "</ul>")
        for f in r.figures:
            body = (f"<a href='{e(f.file)}'>{e(f.file)}</a>" if f.file.endswith(".txt")
                    else f"<a href='{e(f.file)}'><img src='{e(f.file)}' alt='{e(f.file)}'></a>")
            parts.append(f"<figure>{body}<figcaption>{e(f.caption)}</figcaption></figure>")
        parts.append("<ul>" + "".join(f"<li>{e(k)}: <b>{e(common.fmt(v))}</b></li>"
                                      for k, v in r.numbers.items()) + "</ul>")
        if r.text:
            parts.append("<pre>" + e("\n".join(r.text)) + "</pre>")
        parts.append(f"<p><small>{r.seconds:.1f} s</small></p>")
    return "\n".join(parts) + "\n"


def main(argv: Sequence[str] | None = None) -> dict[str, common.Result]:
    args = common.parse_args(argv, "run_all.py")
    return run_all(args.out, args.fast)


if __name__ == "__main__":
    main()
