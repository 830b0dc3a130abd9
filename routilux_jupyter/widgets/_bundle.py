"""Join the views' hand-written ES modules into the single module anywidget loads.

anywidget imports ``_esm`` from a blob URL, where relative imports cannot resolve, and we ship no
Node build. The modules in ``static/`` therefore follow a small convention this joiner relies on:

* dependencies are imported only as ``import { a, b as c } from "./file.js";`` (one statement per
  line, at top level); any other import (a bare package name, a URL) is refused, so no CDN import
  can sneak in;
* a dependency exports with ``export function|class|const|let|async function NAME``;
* only the entry module has ``export default``.

Each dependency becomes a function scope returning its exports, emitted once, in dependency order;
the entry module keeps its ``export default``.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

__all__ = ["STATIC", "bundle"]

STATIC = Path(__file__).parent / "static"

_IMPORT = re.compile(r'^import\s*\{([^}]*)\}\s*from\s*"\./([\w.-]+\.js)";[ \t]*$', re.M)
_ANY_IMPORT = re.compile(r"^\s*import\b|\bimport\s*\(", re.M)
_EXPORT = re.compile(r"^export\s+(?:async\s+)?(?:function\*?|class|const|let)\s+([A-Za-z_$][\w$]*)", re.M)
_EXPORT_KEYWORD = re.compile(r"^export\s+(?=(?:async\s+)?(?:function|class|const|let)\b)", re.M)


class BundleError(ValueError):
    """A static module breaks the joiner's convention (says which file and what to change)."""


def _var(name: str) -> str:
    return "__rx_" + re.sub(r"\W", "_", name[:-3])


def _destructure(spec: str, module: str, source_file: str) -> str:
    parts = []
    for item in (p.strip() for p in spec.split(",")):
        if not item:
            continue
        pieces = item.split()
        if len(pieces) == 1:
            parts.append(pieces[0])
        elif len(pieces) == 3 and pieces[1] == "as":
            parts.append(f"{pieces[0]}: {pieces[2]}")
        else:
            raise BundleError(f"{source_file}: cannot read the import list {{{spec}}}")
    return f"const {{ {', '.join(parts)} }} = {_var(module)};"


def _rewrite(name: str, source: str, static: Path) -> tuple[str, list[str]]:
    deps: list[str] = []

    def replace(match: re.Match[str]) -> str:
        dep = match.group(2)
        if not (static / dep).is_file():
            raise BundleError(f"{name} imports ./{dep}, which is not in {static}")
        deps.append(dep)
        return _destructure(match.group(1), dep, name)

    body = _IMPORT.sub(replace, source)
    if _ANY_IMPORT.search(body):
        raise BundleError(
            f"{name}: only `import {{ ... }} from \"./file.js\";` lines are allowed "
            "(no package, URL or dynamic imports: the views must work offline)"
        )
    return body, deps


@functools.lru_cache(maxsize=None)
def bundle(entry: str, static: Path = STATIC) -> str:
    """The entry module with its local dependencies inlined, as one ES module's text."""
    order: list[str] = []
    bodies: dict[str, str] = {}
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in bodies:
            return
        if name in visiting:
            raise BundleError(f"import cycle through {name}; move the shared code to its own module")
        visiting.add(name)
        body, deps = _rewrite(name, (static / name).read_text(encoding="utf-8"), static)
        for dep in deps:
            visit(dep)
        visiting.discard(name)
        bodies[name] = body
        order.append(name)

    visit(entry)
    chunks = [f"// routilux views: {entry} and its modules, joined by routilux_jupyter.widgets._bundle"]
    for name in order[:-1]:
        body = bodies[name]
        if re.search(r"^export\s+default\b", body, re.M):
            raise BundleError(f"{name} is imported, so it must not have `export default`")
        exports = _EXPORT.findall(body)
        body = _EXPORT_KEYWORD.sub("", body)
        chunks.append(
            f"// ---- {name}\nconst {_var(name)} = (() => {{\n{body}\n"
            f"return {{ {', '.join(exports)} }};\n}})();"
        )
    chunks.append(f"// ---- {entry}\n{bodies[entry]}")
    return "\n".join(chunks) + "\n"
