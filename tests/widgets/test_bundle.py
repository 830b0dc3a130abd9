"""The ES-module joiner: one self-contained module per view, refusing imports it cannot ship."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from routilux_jupyter.widgets._bundle import STATIC, BundleError, bundle


@pytest.mark.parametrize("entry", ["flow_view.js", "job_view.js"])
def test_entry_bundles_into_one_module_without_imports(entry: str) -> None:
    text = bundle(entry)
    assert not re.search(r"^\s*import\b", text, re.M), "a relative import survived the join"
    # The SVG namespace is the only URL: nothing is fetched from a CDN.
    assert re.findall(r"https?://[^\s\"']+", text) == ["http://www.w3.org/2000/svg"]
    assert text.count("export default") == 1
    # every static module the views need is inlined once
    for name in ("util.js", "layout.js", "graph.js", "views.js"):
        assert text.count(f"// ---- {name}") == 1


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (the browser tests cover this)")
@pytest.mark.parametrize("entry", ["flow_view.js", "job_view.js"])
def test_bundle_is_valid_javascript(entry: str, tmp_path: Path) -> None:
    path = tmp_path / "bundle.mjs"
    path.write_text(bundle(entry))
    result = subprocess.run(["node", "--check", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_package_and_url_imports_are_refused(tmp_path: Path) -> None:
    (tmp_path / "entry.js").write_text('import * as d3 from "https://cdn.example/d3.js";\nexport default {};\n')
    with pytest.raises(BundleError, match="work offline"):
        bundle("entry.js", tmp_path)
    (tmp_path / "dyn.js").write_text('const m = await import("./x.js");\nexport default {};\n')
    with pytest.raises(BundleError):
        bundle("dyn.js", tmp_path)


def test_cycles_and_missing_modules_are_reported(tmp_path: Path) -> None:
    (tmp_path / "a.js").write_text('import { b } from "./b.js";\nexport const a = 1;\n')
    (tmp_path / "b.js").write_text('import { a } from "./a.js";\nexport const b = 2;\n')
    (tmp_path / "entry.js").write_text('import { a } from "./a.js";\nexport default { a };\n')
    with pytest.raises(BundleError, match="cycle"):
        bundle("entry.js", tmp_path)
    (tmp_path / "lost.js").write_text('import { z } from "./missing.js";\nexport default {};\n')
    with pytest.raises(BundleError, match="missing.js"):
        bundle("lost.js", tmp_path)


def test_renamed_imports_become_destructuring(tmp_path: Path) -> None:
    (tmp_path / "lib.js").write_text("export function f() { return 1; }\nexport const k = 2;\n")
    (tmp_path / "entry.js").write_text('import { f as g, k } from "./lib.js";\nexport default { g, k };\n')
    text = bundle("entry.js", tmp_path)
    assert "const { f: g, k } = __rx_lib;" in text
    assert "return { f, k };" in text


def test_static_files_ship_with_the_package() -> None:
    names = {p.name for p in STATIC.iterdir()}
    assert {"flow_view.js", "job_view.js", "routilux.css"} <= names
