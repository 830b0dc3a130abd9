"""connect()/discover() find a real server: by argument, environment, runtime dir, or kernel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from routilux_jupyter.client import Client, ServerNotFoundError, connect, discover
from tests.kernel.harness import JupyterServer, Kernel


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("ROUTILUX_SERVER_URL", "ROUTILUX_TOKEN", "JUPYTER_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_explicit_url_and_token(server: JupyterServer, no_env: pytest.MonkeyPatch) -> None:
    client = connect(server.url, server.token)
    assert isinstance(client, Client) and client.info.source == "argument"
    assert client.health().status == "ok"
    # Without the slash, or the scheme, it is the same server.
    bare = server.url.removeprefix("http://").rstrip("/")
    assert connect(bare, server.token).url == server.url


def test_url_alone_borrows_the_token_of_the_running_server(
        server: JupyterServer, no_env: pytest.MonkeyPatch) -> None:
    no_env.setenv("JUPYTER_RUNTIME_DIR", str(server.runtime_dir))
    localhost = server.url.replace("127.0.0.1", "localhost")
    info = discover(localhost)
    assert info.token == server.token
    assert Client(info.url, info.token).health().status == "ok"


def test_environment(server: JupyterServer, no_env: pytest.MonkeyPatch) -> None:
    no_env.setenv("ROUTILUX_SERVER_URL", server.url)
    no_env.setenv("ROUTILUX_TOKEN", server.token)
    client = connect()
    assert client.info.source == "environment" and client.url == server.url
    assert client.health().status == "ok"
    # An explicit argument wins over the environment.
    assert connect("http://127.0.0.1:9/", "t").url == "http://127.0.0.1:9/"


def test_jupyter_server_list(server: JupyterServer, no_env: pytest.MonkeyPatch,
                             tmp_path: Path) -> None:
    # Beside the live server: a dead one's info file (its pid is not running) and a live one
    # whose token the API refuses; discovery skips both.
    info = json.loads(next(server.runtime_dir.glob("jpserver-*.json")).read_text())
    (tmp_path / "jpserver-1.json").write_text(json.dumps({**info, "pid": 2**22 + 7}))
    (tmp_path / "jpserver-2.json").write_text(json.dumps({**info, "token": "wrong"}))
    (tmp_path / "jpserver-3.json").write_text(json.dumps(info))
    no_env.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    client = connect()
    assert client.info.source == "jupyter server list" and client.url == server.url
    assert client.info.token == server.token


def test_running_servers_that_refuse_are_named(server: JupyterServer,
                                               no_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    info = json.loads(next(server.runtime_dir.glob("jpserver-*.json")).read_text())
    (tmp_path / f"jpserver-{info['pid']}.json").write_text(json.dumps({**info, "token": "wrong"}))
    no_env.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    with pytest.raises(ServerNotFoundError) as err:
        connect()
    assert server.url in str(err.value) and "--url" in str(err.value)


def test_nothing_running_says_how_to_fix(no_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    no_env.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    with pytest.raises(ServerNotFoundError, match="No running Jupyter server was found") as err:
        connect()
    assert "ROUTILUX_SERVER_URL" in str(err.value) and "jupyter server list" in str(err.value)


def test_inside_a_kernel_it_finds_its_own_server(server: JupyterServer, kernel: Kernel) -> None:
    """The kernel sees the server's runtime dir (inherited) and picks the server running it."""
    found = kernel.value(
        "(lambda c: [c.info.source, c.url, c.health().status])"
        "(__import__('routilux_jupyter.client', fromlist=['connect']).connect())")
    assert found == ["kernel", server.url, "ok"]


def test_inside_a_kernel_no_owner_is_a_clear_error(server: JupyterServer, kernel: Kernel,
                                                   tmp_path: Path) -> None:
    kernel.run(f"import os; _saved = os.environ.get('JUPYTER_RUNTIME_DIR'); "
               f"os.environ['JUPYTER_RUNTIME_DIR'] = {str(tmp_path)!r}")
    try:
        run = kernel.run(
            "from routilux_jupyter.client import connect, ServerNotFoundError\n"
            "try:\n    connect()\nexcept ServerNotFoundError as e:\n    print(e)\n")
    finally:
        kernel.run("os.environ['JUPYTER_RUNTIME_DIR'] = _saved")
    assert "No running Jupyter server owns this kernel" in run.stdout
    assert kernel.kernel_id in run.stdout
