"""The explorer's page: frames as inline SVG with previous / next / play, a slider, arrow keys
and, for a quiz, answer boxes checked in the page. One self-contained piece of HTML (its CSS
and script inline, system fonts only): no server, nothing fetched from the network, so it
works in Jupyter, in a saved file opened from disk, and offline in a classroom.

Several players can share one notebook page: each lives under its own element id, and its
script finds everything from there. Arrow keys move the player that has the focus (click it);
a standalone page gives its player the focus when it opens.
"""
from __future__ import annotations

import html
import json
from typing import Any, Sequence

__all__ = ["fragment", "page"]

_CSS = """
.tgx{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#111827;
 border:1px solid #d1d5db;border-radius:8px;padding:8px 10px;margin:4px 0;outline:none;
 background:#fff;max-width:100%;box-sizing:border-box}
.tgx:focus{border-color:#2563eb;box-shadow:0 0 0 2px #bfdbfe}
.tgx-bar{display:flex;flex-wrap:wrap;align-items:center;gap:6px;position:sticky;top:0;
 background:#fff;padding:4px 0;z-index:1}
.tgx-bar button{font:inherit;font-size:15px;min-width:2.4em;padding:3px 8px;border:1px solid #9ca3af;
 border-radius:6px;background:#f9fafb;cursor:pointer}
.tgx-bar button:hover{background:#e5e7eb}
.tgx-bar input[type=range]{flex:1 1 160px;min-width:120px}
.tgx-status{font-size:14px;min-width:12em}
.tgx-fit{font-size:13px;color:#374151}
.tgx-help{font-size:12px;color:#4b5563;margin:2px 0 6px}
.tgx-frame{overflow:auto;max-height:80vh}
.tgx-frame.fit svg{max-width:100%;height:auto}
.tgx-quiz{margin-top:8px;border-top:1px solid #e5e7eb;padding-top:6px}
.tgx-quiz table{border-collapse:collapse;font-size:14px}
.tgx-quiz td{padding:3px 6px;vertical-align:middle}
.tgx-quiz input{font:inherit;width:16em;padding:2px 4px;border:1px solid #9ca3af;border-radius:4px}
.tgx-quiz input.right{background:#dcfce7;border-color:#16a34a}
.tgx-quiz input.wrong{background:#fee2e2;border-color:#dc2626}
.tgx-mark{font-weight:bold;min-width:6em}
.tgx-mark.right{color:#15803d}.tgx-mark.wrong{color:#b91c1c}
.tgx-score{font-size:14px;margin-top:4px}
"""

_JS = r"""
(function(){
 var root=document.getElementById(%(uid)s);
 var data=JSON.parse(root.querySelector("script.tgx-data").textContent);
 var frames=data.frames, n=frames.length, at=0, timer=null;
 var box=root.querySelector(".tgx-frame"), slider=root.querySelector("input[type=range]");
 var status=root.querySelector(".tgx-status"), play=root.querySelector("[data-act=play]");
 var marks={};
 function paintMarks(){
  for(var id in marks){
   var g=box.querySelector('g.node[id="'+id+'"]'); if(!g) continue;
   var shape=g.querySelector("polygon,path,ellipse");   // the node's filled background
   if(shape) shape.setAttribute("fill",marks[id]?"#86efac":"#fca5a5");
  }
 }
 function show(i){
  at=Math.max(0,Math.min(n-1,i));
  box.innerHTML=frames[at].svg; slider.value=at;
  status.textContent=frames[at].title;
  root.setAttribute("data-frame",at); paintMarks(); reveal(frames[at].focus);
 }
 function reveal(id){   // scroll the frame's box (not the page) to the op being run
  var g=id&&box.querySelector('g[id="'+id+'"]'); if(!g) return;
  var r=g.getBoundingClientRect(), b=box.getBoundingClientRect();
  if(r.top<b.top||r.bottom>b.bottom) box.scrollTop+=r.top-b.top-(b.height-r.height)/2;
  if(r.left<b.left||r.right>b.right) box.scrollLeft+=r.left-b.left-(b.width-r.width)/2;
 }
 function stop(){ if(timer){clearInterval(timer);timer=null;} play.textContent="\u25B6 play"; }
 function start(){
  if(at>=n-1) show(0);
  play.textContent="\u275A\u275A pause";
  timer=setInterval(function(){ if(at>=n-1){stop();return;} show(at+1); },data.ms);
 }
 function act(a){
  if(a==="play"){ timer?stop():start(); return; }
  stop();
  if(a==="first") show(0); else if(a==="prev") show(at-1);
  else if(a==="next") show(at+1); else if(a==="last") show(n-1);
 }
 root.querySelectorAll(".tgx-bar button").forEach(function(b){
  b.addEventListener("click",function(){act(b.getAttribute("data-act"));});
 });
 slider.addEventListener("input",function(){stop();show(+slider.value);});
 root.querySelector(".tgx-fit input").addEventListener("change",function(e){
  box.classList.toggle("fit",e.target.checked);
 });
 var keys={ArrowRight:"next",ArrowLeft:"prev",Home:"first",End:"last"," ":"play"};
 function onKey(e){
  var t=e.target&&e.target.tagName;
  if(t==="INPUT"||t==="TEXTAREA"||t==="BUTTON"&&e.key===" ") return;
  var a=keys[e.key]; if(!a) return;
  e.preventDefault(); act(a);
 }
 root.addEventListener("keydown",function(e){onKey(e);e.stopPropagation();});
 if(data.page){
  document.addEventListener("keydown",function(e){
   if(!root.contains(e.target)) onKey(e);
  });
  root.focus();
 }
 function parse(text){
  var parts=text.replace(/[\[\]()]/g," ").split(/[\s,;]+/).filter(function(s){return s.length;});
  var out=[];
  for(var i=0;i<parts.length;i++){
   var v=Number(parts[i].replace("\u2212","-")); if(!isFinite(v)) return null; out.push(v);
  }
  return out;
 }
 function close(a,t){ return Math.abs(a-t)<=1e-3*Math.abs(t)||Math.abs(a-t)<=1e-12; }
 function check(input){
  var q=data.quiz[+input.getAttribute("data-i")], mark=input.parentNode.nextSibling;
  input.classList.remove("right","wrong"); mark.className="tgx-mark";
  if(!input.value.trim()){ mark.textContent=""; delete marks[q.node]; paintMarks(); score(); return; }
  var got=parse(input.value), ok=got!==null&&got.length===q.grad.length;
  for(var i=0;ok&&i<got.length;i++) ok=close(got[i],q.grad[i]);
  input.classList.add(ok?"right":"wrong"); mark.classList.add(ok?"right":"wrong");
  mark.textContent=ok?"\u2713 right":(got!==null&&got.length!==q.grad.length?
   "\u2717 needs "+q.grad.length+" numbers":"\u2717 wrong");
  marks[q.node]=ok; paintMarks(); score();
 }
 function score(){
  var el=root.querySelector(".tgx-score"); if(!el) return;
  var right=0,done=0; for(var id in marks){done++; if(marks[id]) right++;}
  el.textContent=right+" of "+data.quiz.length+" right"+(done>right?", "+(done-right)+" wrong":"");
 }
 root.querySelectorAll(".tgx-quiz input").forEach(function(inp){
  inp.addEventListener("change",function(){check(inp);});
  inp.addEventListener("keydown",function(e){ if(e.key==="Enter") check(inp); });
 });
 var chk=root.querySelector("[data-act=check]");
 if(chk) chk.addEventListener("click",function(){
  root.querySelectorAll(".tgx-quiz input").forEach(function(inp){check(inp);});
 });
 show(0);
})();
"""


def _json(value: Any) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(value, ensure_ascii=False).replace("</", "<\\/").replace("<!--", "<\\!--")


def fragment(uid: str, title: str, frames: Sequence[dict[str, str]], ms: int,
             quiz: Sequence[dict[str, Any]] | None, page: bool = False) -> str:
    """The player as one element plus its script: `frames` are {"svg", "title", "focus" (the
    id of the node to keep in view)}; `quiz`
    items are {"node", "label", "shape", "grad"} (grad flat, what the page checks against)."""
    e = html.escape
    data = {"frames": list(frames), "ms": int(ms), "quiz": list(quiz or []), "page": page}
    parts = [f'<div class="tgx" id="{e(uid)}" tabindex="0" data-frame="0" '
             f'aria-label="{e(title)}">',
             f"<style>{_CSS}</style>",
             f'<script type="application/json" class="tgx-data">{_json(data)}</script>',
             '<div class="tgx-bar">',
             '<button type="button" data-act="first" title="first frame (Home)">|◀</button>',
             '<button type="button" data-act="prev" title="previous (←)">◀</button>',
             '<button type="button" data-act="play" title="play / pause (space)">▶ play</button>',
             '<button type="button" data-act="next" title="next (→)">▶</button>',
             '<button type="button" data-act="last" title="last frame (End)">▶|</button>',
             f'<input type="range" min="0" max="{len(frames) - 1}" value="0" step="1" '
             'aria-label="frame">',
             '<span class="tgx-status"></span>',
             '<label class="tgx-fit"><input type="checkbox" checked> fit width</label>',
             "</div>",
             f'<div class="tgx-help"><b>{e(title)}</b> · ← → step, space plays (click the '
             "player first) · red: the op backward runs now and the values it sends gradient "
             "to · orange: its output, whose gradient g is the upstream gradient</div>",
             # frame 0 in place, so a viewer that runs no script still shows the forward pass
             f'<div class="tgx-frame fit">{frames[0]["svg"] if frames else ""}</div>']
    if quiz:
        parts.append(_quiz_table(quiz))
    parts.append("</div>")
    parts.append(f"<script>{_JS % {'uid': _json(uid)}}</script>")
    return "\n".join(parts)


def _quiz_table(quiz: Sequence[dict[str, Any]]) -> str:
    e = html.escape
    rows = []
    for i, q in enumerate(quiz):
        shape = q["shape"]
        n = len(q["grad"])
        hint = "a number" if n == 1 else f"{n} numbers"
        if shape:
            hint += f", shape {tuple(shape)}"
        rows.append(f'<tr><td>{e(q["label"])} =</td><td><input type="text" data-i="{i}" '
                    f'data-node="{e(q["node"])}" placeholder="{e(hint)}" '
                    f'aria-label="{e(q["label"])}"></td><td class="tgx-mark"></td></tr>')
    return ('<div class="tgx-quiz"><b>Your gradients</b> (checked to a relative error of '
            "10⁻³; Enter or the button checks)<table>" + "".join(rows) + "</table>"
            '<button type="button" data-act="check">check all</button>'
            '<div class="tgx-score"></div></div>')


def page(body: str, title: str) -> str:
    """A standalone HTML document around a player fragment."""
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title>"
            "<style>body{margin:12px;background:#fff}</style></head>\n<body>\n"
            f"{body}\n</body></html>\n")
