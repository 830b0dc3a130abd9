"""The ExtensionApp: auto-enable file, config traits, route prefix, flows_dir, core routes intact."""

from __future__ import annotations

import gc
import json
import re
import sys
from pathlib import Path

import pytest
from api_routines import SUM_SPEC, SUM_YAML

import routilux_jupyter
from routilux_jupyter.server.extension import RoutiluxExtension
from routilux_jupyter.server.handlers import rest_routes
from routilux_jupyter.server.websockets import ws_routes

# Core Jupyter API paths (and a few of their sub-paths) that must keep their own handlers.
CORE_PATHS = [
    "api", "api/status", "api/me", "api/spec.yaml", "api/kernels", "api/kernels/abc",
    "api/kernels/abc/channels", "api/kernelspecs", "api/sessions", "api/sessions/abc",
    "api/contents", "api/contents/a/b.ipynb", "api/contents/a/checkpoints", "api/config/x",
    "api/events", "api/events/subscribe", "api/nbconvert", "api/security/csp-report",
    "api/shutdown", "api/terminals", "api/terminals/1", "api/extensions",
]


def test_the_install_enables_the_extension():
    enable_file = Path(sys.prefix, "etc", "jupyter", "jupyter_server_config.d", "routilux.json")
    assert enable_file.is_file(), "pip install did not place the auto-enable file"
    config = json.loads(enable_file.read_text())
    assert config["ServerApp"]["jpserver_extensions"]["routilux_jupyter"] is True
    (point,) = routilux_jupyter._jupyter_server_extension_points()
    assert point["app"] is RoutiluxExtension


def test_every_config_trait_is_documented():
    traits = RoutiluxExtension.class_own_traits(config=True)
    assert {"prefix", "max_events_per_job", "history_db", "flows_dir", "routine_modules"} <= set(
        traits
    )
    for name, trait in traits.items():
        assert len(trait.help) > 40, f"RoutiluxExtension.{name} needs a real help="


@pytest.mark.parametrize("prefix", ["api", "routilux/api"])
def test_no_route_pattern_matches_a_core_path(prefix):
    patterns = [p for p, _, _ in rest_routes(prefix) + ws_routes(prefix)]
    for path in CORE_PATHS:
        for pattern in patterns:
            assert not re.fullmatch(pattern, path), f"{pattern} would shadow /{path}"


async def test_core_routes_still_answer(jp_fetch, api):
    await api("POST", "flows", body={"spec": SUM_SPEC}, expect=201)  # our routes are live
    status = json.loads((await jp_fetch("api", "status")).body)
    assert "started" in status and "kernels" in status
    assert isinstance(json.loads((await jp_fetch("api", "kernels")).body), list)
    assert isinstance(json.loads((await jp_fetch("api", "sessions")).body), list)
    contents = json.loads((await jp_fetch("api", "contents")).body)
    assert contents["type"] == "directory"
    assert "identity" in json.loads((await jp_fetch("api", "me")).body)
    assert "version" in json.loads((await jp_fetch("api")).body)
    assert "kernelspecs" in json.loads((await jp_fetch("api", "kernelspecs")).body)


@pytest.fixture
def prefixed(jp_server_config):
    jp_server_config.RoutiluxExtension.prefix = "/routilux/api/"
    return jp_server_config


async def test_the_prefix_is_configurable(prefixed, jp_fetch):
    response = await jp_fetch("routilux", "api", "health")
    assert json.loads(response.body)["status"] == "ok"
    missing = await jp_fetch("api", "health", raise_error=False)
    assert missing.code == 404


@pytest.fixture
def with_flows_dir(jp_server_config, tmp_path):
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "from_json.json").write_text(json.dumps({**SUM_SPEC, "flow_id": None}))
    (folder / "from_yaml.yaml").write_text(SUM_YAML)
    (folder / "broken.yml").write_text("routines: {a: {class: Missing}}")
    (folder / "notes.txt").write_text("not a spec")
    jp_server_config.RoutiluxExtension.flows_dir = str(folder)
    return jp_server_config


async def test_flows_dir_specs_load_at_start_and_broken_ones_are_skipped(with_flows_dir, api):
    flows = await api("GET", "flows")
    # The JSON spec has no flow_id, so it takes its file name; the YAML one names itself.
    assert sorted(f["flow_id"] for f in flows["flows"]) == ["from_json", "sum_yaml"]


@pytest.fixture
def thawed():
    """Start from, and leave, an unfrozen GC: these tests look at the process's freeze count."""
    gc.unfreeze()
    yield
    gc.unfreeze()


@pytest.fixture
def freezing(jp_server_config, thawed):
    jp_server_config.RoutiluxExtension.freeze_gc_at_start = True
    return jp_server_config


async def test_a_started_server_moves_its_start_up_heap_out_of_gc_passes(freezing, jp_fetch):
    await jp_fetch("api", "health")  # the loop has run the scheduled freeze by now
    assert gc.get_freeze_count() > 0


async def test_the_gc_is_left_alone_when_configured_off(thawed, jp_fetch):
    await jp_fetch("api", "health")
    assert gc.get_freeze_count() == 0
