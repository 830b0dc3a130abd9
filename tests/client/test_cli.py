"""The ``routilux`` console script against a real server with a kernel-owned job."""

from __future__ import annotations

import json
import os

from tests.client.cells import start_gated_job
from tests.client.conftest import Run, run_cli
from tests.kernel.harness import JupyterServer, Kernel, wait_for


def cli(server: JupyterServer, *args: str) -> Run:
    return run_cli("--url", server.url, "--token", server.token, *args)


def ok(server: JupyterServer, *args: str) -> str:
    run = cli(server, *args)
    assert run.code == 0 and run.err == "", (args, run)
    return run.out


def status(server: JupyterServer, job_id: str) -> str:
    return json.loads(ok(server, "job", job_id, "--json"))["status"]


def test_full_debug_session(server: JupyterServer, kernel: Kernel, gated_job: str) -> None:
    job_id = gated_job
    added = ok(server, "break", job_id, "sink", "--slot", "inp", "--condition", "x == 2")
    assert added.startswith("breakpoint ") and "at sink.inp if x == 2" in added
    listing = ok(server, "breakpoints", job_id)
    assert listing.splitlines()[0].split() == ["ID", "TYPE", "WHERE", "CONDITION", "ENABLED",
                                               "HITS", "SCOPE"]
    assert "sink.inp" in listing and "x == 2" in listing

    kernel.run("gate.set()")
    wait_for(lambda: status(server, job_id) == "paused", 15, "the breakpoint to pause the job")
    shown = ok(server, "job", job_id)
    fields = {line[:10].strip(): line[10:].strip() for line in shown.splitlines()[:9]}
    assert fields["status"] == "paused" and fields["paused at"] == "sink.inp (breakpoint)"

    variables = ok(server, "vars", job_id)
    rows = [line.split() for line in variables.splitlines()]
    assert rows[0] == ["SCOPE", "NAME", "VALUE"]
    assert ["local", "x", "2"] in rows and ["shared", "total", "1"] in rows
    assert json.loads(ok(server, "vars", job_id, "--json")) == {
        "variables": {"local": {"x": 2}, "shared": {"total": 1}}}

    stack = ok(server, "stack", job_id)
    first = stack.splitlines()[1].split()
    assert first[:3] == ["0", "sink", "inp"] and "src" in stack

    assert ok(server, "set-var", job_id, "x", "100").strip() == "local x = 100"

    stepped = ok(server, "step", job_id, "over")  # waits for the next pause and says where
    assert stepped.strip() == f"{job_id}: paused at sink.inp (step)"
    assert ["local", "x", "3"] in [line.split() for line in ok(server, "vars", job_id).splitlines()]

    bp_id = json.loads(ok(server, "breakpoints", job_id, "--json"))["breakpoints"][0]["breakpoint_id"]
    assert ok(server, "unbreak", job_id, bp_id).strip() == f"breakpoint {bp_id} removed"
    assert ok(server, "resume", job_id).strip() == f"{job_id}: running"

    watched = ok(server, "watch", job_id, "--timeout", "15")
    assert watched.splitlines()[-1].split()[1] == "job_completed"
    assert status(server, job_id) == "completed"
    assert json.loads(ok(server, "vars", job_id, "--json"))["variables"]["shared"] == {
        "total": 0 + 1 + 100 + 3 + 4}


def test_pause_resume_and_watch_as_json_lines(server: JupyterServer, kernel: Kernel,
                                              gated_job: str) -> None:
    job_id = gated_job
    assert ok(server, "pause", job_id).strip() == f"{job_id}: paused"
    kernel.run("gate.set()")
    wait_for(lambda: "routine_complete" in ok(server, "trace", job_id), 15, "the source to end")
    assert status(server, job_id) == "paused"
    ok(server, "resume", job_id)
    lines = ok(server, "watch", job_id, "--json", "--timeout", "15").splitlines()
    events = [json.loads(line) for line in lines]
    assert events[0]["event_type"] == "job_start" and events[-1]["event_type"] == "job_completed"
    assert [e["event_type"] for e in events].count("job_paused") == 1


def test_watch_of_a_failed_job_exits_1_with_its_error(server: JupyterServer,
                                                     kernel: Kernel) -> None:
    job_id = kernel.run("gate = threading.Event(); gate.set()\n"
                        "print(make_failing_flow('fails').start('src', {'n': 5}).job_id)"
                        ).stdout.split()[-1]
    wait_for(lambda: server.call("GET", f"api/jobs/{job_id}")[0] == 200, 10, "the job")
    run = cli(server, "watch", job_id, "--timeout", "15")
    assert run.code == 1, run
    assert "job_failed" in run.out.splitlines()[-1]
    assert run.err.count("\n") == 1
    assert run.err.startswith(f"routilux: job {job_id} ended with job_failed: ")
    assert "cannot take 3" in run.err


def test_watch_of_a_long_finished_job_exits_0(server: JupyterServer, kernel: Kernel) -> None:
    job_id = kernel.run(start_gated_job("long_cli", n=150) + "\ngate.set()\njob.wait(30)"
                        ).stdout.split()[0]
    wait_for(lambda: status(server, job_id) == "completed", 15, "the job to end")
    run = cli(server, "watch", job_id)
    assert run.code == 0 and run.err == "", run
    assert run.out.splitlines()[-1].split()[1] == "job_completed"
    trace = ok(server, "trace", job_id).splitlines()
    shown, total = map(int, trace[-1].strip("()").split()[::2][:2])
    assert len(trace) - 2 == shown == total > 450  # every buffered event, and the count


def test_watch_timeout_is_one_line(server: JupyterServer, kernel: Kernel, gated_job: str) -> None:
    run = cli(server, "watch", gated_job, "--timeout", "0.5")  # the job waits at its gate
    assert run.code == 1 and run.out.splitlines()[0].split()[1] == "job_start"
    assert run.err.startswith(f"routilux: error: No event from job '{gated_job}' within 0.5 s")
    assert run.err.count("\n") == 1
    kernel.run("gate.set()")


def test_start_with_a_breakpoint_armed(server: JupyterServer, kernel: Kernel) -> None:
    kernel.run("gate = threading.Event(); gate.set(); cli_started = make_flow('cli_started')")
    wait_for(lambda: "cli_started" in ok(server, "flows"), 15, "the flow to reach the server")
    job_id = ok(server, "start", "cli_started", "src", "--params", '{"n": 4}',
                "--kernel", kernel.kernel_id, "--break", "sink.inp:x == 3").strip()
    assert len(job_id.split()) == 1  # only the id: JOB=$(routilux start ...) works
    wait_for(lambda: status(server, job_id) == "paused", 15, "the armed breakpoint")
    rows = [line.split() for line in ok(server, "vars", job_id).splitlines()]
    assert ["local", "x", "3"] in rows
    bps = json.loads(ok(server, "breakpoints", job_id, "--json"))["breakpoints"]
    assert [(b["routine_id"], b["slot_name"], b["condition"]) for b in bps] == [
        ("sink", "inp", "x == 3")]
    ok(server, "resume", job_id)
    assert "job_completed" in ok(server, "watch", job_id, "--timeout", "15").splitlines()[-1]

    bad = cli(server, "start", "cli_started", "src", "--params", "[1]")
    assert bad.code == 2 and "must be a JSON object" in bad.err and bad.err.count("\n") == 1
    unknown = cli(server, "start", "no_such_flow", "src")
    assert unknown.code == 1 and unknown.err.startswith("routilux: error 404: Flow 'no_such_flow'")


def test_listing_commands(server: JupyterServer, kernel: Kernel, gated_job: str) -> None:
    kernel.run("gate.set()")
    ok(server, "watch", gated_job, "--timeout", "15")
    flows = ok(server, "flows").splitlines()
    assert flows[0].split() == ["FLOW", "ROUTINES", "STRATEGY", "OWNER"]
    assert any(line.split()[0].startswith("test_listing_commands") and "nb/client.ipynb" in line
               for line in flows[1:])
    jobs = ok(server, "jobs", "--status", "completed")
    assert jobs.splitlines()[0].split() == ["JOB", "FLOW", "STATUS", "STARTED", "OWNER"]
    assert gated_job in jobs
    assert json.loads(ok(server, "jobs", "--json", "--limit", "1"))["jobs"].__len__() == 1
    trace = ok(server, "trace", gated_job, "--limit", "3").splitlines()
    assert trace[0].split() == ["SEQ", "TIME", "EVENT", "ROUTINE", "DATA"]
    assert trace[-1].startswith("(3 of ") and "job_completed" in trace[-2]
    shown = ok(server, "job", gated_job)
    assert "completed" in shown and "sink" in shown  # status and per-routine metrics
    health = ok(server, "health")
    assert server.url in health and "routilux" in health


def test_errors_are_one_line_with_the_reason_and_a_nonzero_exit(
        server: JupyterServer, kernel: Kernel, gated_job: str) -> None:
    cases = [
        (["job", "no-such-job"], "error 404: Job 'no-such-job' does not exist"),
        (["break", gated_job, "sink", "--condition", "().__class__"], "error 400: "),
        (["step", gated_job], "error 409: "),  # running, not paused
        (["vars", "no-such-job"], "error 404: "),
    ]
    for args, start in cases:
        run = cli(server, *args)
        assert run.code == 1, (args, run)
        assert run.out == "" and run.err.count("\n") == 1, (args, run.err)
        assert run.err.startswith(f"routilux: {start}"), (args, run.err)
        assert "Traceback" not in run.err
    # The reason is the server's own message, not a generic status text.
    bad = cli(server, "break", gated_job, "sink", "--condition", "().__class__").err
    assert "attribute access (.__class__) is not allowed" in bad
    kernel.run("gate.set()")

    refused = run_cli("--url", server.url, "--token", "wrong", "jobs")
    assert refused.code == 1 and refused.err.count("\n") == 1
    assert refused.err.startswith("routilux: error 403: ") and "--token" in refused.err

    nothing = run_cli("--url", "http://127.0.0.1:9", "--token", "x", "flows")
    assert nothing.code == 3 and nothing.err.count("\n") == 1
    assert "Cannot reach http://127.0.0.1:9/" in nothing.err

    usage = run_cli("step", gated_job, "sideways")
    assert usage.code == 2 and usage.err.count("\n") == 1
    assert usage.err.startswith("routilux: error: argument kind: invalid choice: 'sideways'")
    assert "routilux step --help" in usage.err


def test_finds_the_server_through_jupyter_server_list_and_env(server: JupyterServer,
                                                              kernel: Kernel) -> None:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("ROUTILUX_SERVER_URL", "ROUTILUX_TOKEN", "JUPYTER_TOKEN")}
    listed = run_cli("health", "--json", env={**clean, "JUPYTER_RUNTIME_DIR": str(server.runtime_dir)})
    assert listed.code == 0, listed
    assert any(o["kernel_id"] == kernel.kernel_id for o in json.loads(listed.out)["owners"])

    by_env = run_cli("flows", "--json", env={**clean, "ROUTILUX_SERVER_URL": server.url,
                                             "ROUTILUX_TOKEN": server.token})
    assert by_env.code == 0 and "flows" in json.loads(by_env.out)

    empty = server.root / "no-servers-here"
    empty.mkdir(exist_ok=True)
    none = run_cli("flows", env={**clean, "JUPYTER_RUNTIME_DIR": str(empty)})
    assert none.code == 3 and none.err.count("\n") == 1
    assert "No running Jupyter server was found" in none.err and "--url" in none.err
