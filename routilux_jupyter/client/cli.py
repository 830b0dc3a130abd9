"""``routilux``: list, watch, control and debug jobs of a running Jupyter server from a shell.

Finds the server like :func:`routilux_jupyter.client.connect` (``--url``/``--token``, then
``ROUTILUX_SERVER_URL``/``ROUTILUX_TOKEN``, then ``jupyter server list``). Prints tables by
default, the server's JSON with ``--json``. Exit status: 0 done, 1 the server refused (the one
line on stderr gives its reason) or a watched job did not complete, 2 bad usage, 3 no server
reachable, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from routilux.errors import RoutiluxError
from routilux_jupyter.client import tables
from routilux_jupyter.client.client import Client, connect
from routilux_jupyter.client.errors import ServerNotFoundError, ServerUnreachableError
from routilux_jupyter.client.models import Event

__all__ = ["main"]

EXIT_REFUSED, EXIT_USAGE, EXIT_NO_SERVER, EXIT_INTERRUPTED = 1, 2, 3, 130
_STEPS = {"over": "step_over", "into": "step_into", "out": "step_out", "resume": "resume"}


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _out(args: argparse.Namespace, data: Any, text: Callable[[], str]) -> None:
    """The server's JSON with ``--json``, else the human rendering."""
    if args.json:
        _print_json(data)
    else:
        print(text())


def _value(text: str) -> Any:
    """A ``set-var`` VALUE: JSON when it parses (``42``, ``"x"``, ``[1, 2]``), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


# -- commands (each: client, args -> exit status) --------------------------------------------

def cmd_health(client: Client, args: argparse.Namespace) -> int:
    h = client.health()
    _out(args, h.raw, lambda: f"{client.url}: routilux {h.version}, {h.flows} flows, {h.jobs} "
         f"jobs, owners: {', '.join(map(str, h.owners))}")
    return 0


def cmd_flows(client: Client, args: argparse.Namespace) -> int:
    flows = client.flows()
    _out(args, flows.raw, lambda: tables.flows_table(flows.items))
    return 0


def cmd_jobs(client: Client, args: argparse.Namespace) -> int:
    jobs = client.jobs(flow_id=args.flow, status=args.status, limit=args.limit)
    _out(args, jobs.raw, lambda: tables.jobs_table(jobs.items)
         + (f"\n({len(jobs)} of {jobs.total} jobs)" if jobs.total > len(jobs) else ""))
    return 0


def cmd_job(client: Client, args: argparse.Namespace) -> int:
    job = client.job(args.job_id)
    if args.json:
        _print_json(job.raw)
        return 0
    metrics = client.metrics(args.job_id)
    session = None if job.is_terminal else client.debug_session(args.job_id)
    print(tables.job_text(job, session, metrics))
    return 0


def cmd_trace(client: Client, args: argparse.Namespace) -> int:
    trace = client.trace(args.job_id, limit=args.limit)
    _out(args, trace.raw, lambda: tables.trace_table(trace))
    return 0


def cmd_watch(client: Client, args: argparse.Namespace) -> int:
    end: Event | None = None
    with client.watch(args.job_id, timeout=args.timeout) as events:
        for item in events:
            if args.json:
                print(json.dumps(item.raw, default=str), flush=True)  # JSON lines
            else:
                print(tables.event_line(item), flush=True)
            if isinstance(item, Event) and item.is_terminal:
                end = item
    if end is None:  # the stream ended without saying how (a cut replay): ask the job
        job = client.job(args.job_id)
        outcome, reason = f"job_{job.status}", job.error
    else:
        outcome, reason = end.event_type, end.get("error") or end.data.get("error")
    if outcome != "job_completed":
        _fail(f"job {args.job_id} ended with {outcome}" + (f": {reason}" if reason else ""))
        return EXIT_REFUSED
    return 0


def _breakpoint_spec(text: str) -> dict[str, Any]:
    """``ROUTINE[.SLOT][:CONDITION]`` as a breakpoint body (the condition may hold ``.`` / ``:``)."""
    where, _, condition = text.partition(":")
    routine, _, slot = where.strip().partition(".")
    if not routine:
        raise argparse.ArgumentTypeError(
            f"{text!r} names no routine; use ROUTINE[.SLOT][:CONDITION], e.g. 'charge:amount > 30'")
    spec: dict[str, Any] = {"routine_id": routine}
    if slot:
        spec["slot_name"] = slot
    if condition.strip():
        spec["condition"] = condition.strip()
    return spec


def _params(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError('must be a JSON object, e.g. \'{"count": 5}\'')
    return value


def cmd_start(client: Client, args: argparse.Namespace) -> int:
    job = client.start_job(args.flow, args.entry, args.params, entry_slot=args.slot,
                           breakpoints=args.breakpoints or None, kernel_id=args.kernel)
    if args.wait:  # scripts can act on the pause right away
        client.wait_paused(job.job_id, timeout=args.timeout)
    # Only the id on stdout, so `JOB=$(routilux start ...)` works.
    _out(args, job.raw, lambda: job.job_id)
    return 0


def _control(action: str) -> Callable[[Client, argparse.Namespace], int]:
    def command(client: Client, args: argparse.Namespace) -> int:
        result = getattr(client, action)(args.job_id)
        _out(args, result.raw, lambda: f"{result.job_id}: {result.status}")
        return 0
    return command


def cmd_breakpoints(client: Client, args: argparse.Namespace) -> int:
    bps = client.breakpoints(args.job_id)
    _out(args, bps.raw, lambda: tables.breakpoints_table(bps.items))
    return 0


def cmd_break(client: Client, args: argparse.Namespace) -> int:
    bp = client.add_breakpoint(args.job_id, args.routine, slot_name=args.slot,
                               event_name=args.event, condition=args.condition)
    _out(args, bp.raw, lambda: f"breakpoint {bp.breakpoint_id} at {bp.location}"
         + (f" if {bp.condition}" if bp.condition else ""))
    return 0


def cmd_unbreak(client: Client, args: argparse.Namespace) -> int:
    client.remove_breakpoint(args.job_id, args.breakpoint_id)
    _out(args, {"breakpoint_id": args.breakpoint_id, "removed": True},
         lambda: f"breakpoint {args.breakpoint_id} removed")
    return 0


def cmd_vars(client: Client, args: argparse.Namespace) -> int:
    variables = client.variables(args.job_id)
    _out(args, variables.raw, lambda: tables.variables_table(variables))
    return 0


def cmd_stack(client: Client, args: argparse.Namespace) -> int:
    stack = client.call_stack(args.job_id)
    _out(args, stack.raw, lambda: tables.stack_table(stack))
    return 0


def cmd_session(client: Client, args: argparse.Namespace) -> int:
    session = client.debug_session(args.job_id)
    _out(args, session.raw, lambda: tables.session_line(session))
    return 0


def cmd_step(client: Client, args: argparse.Namespace) -> int:
    before = client.debug_session(args.job_id).pause_count
    result = client.step(args.job_id, _STEPS[args.kind])
    if args.no_wait or args.kind == "resume":
        _out(args, result.raw, lambda: f"{result.job_id}: {result.status}")
        return 0
    # Report where the step landed: the next pause, or the job's end.
    session = client.wait_paused(args.job_id, after=before, timeout=args.timeout)
    _out(args, session.raw, lambda: tables.session_line(session))
    return 0


def cmd_set_var(client: Client, args: argparse.Namespace) -> int:
    change = client.set_variable(args.job_id, args.name, _value(args.value), scope=args.scope)
    _out(args, change.raw, lambda: f"{change.scope} {change.name} = "
         f"{json.dumps(change.value, default=str)}")
    return 0


# -- parser -----------------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line too (like every other error of the command)."""

    def error(self, message: str) -> NoReturn:
        _fail(f"error: {message} (see `{self.prog} --help`)")
        sys.exit(EXIT_USAGE)


def _common() -> _Parser:
    # SUPPRESS defaults let the options go before or after the command without one position
    # overwriting what the other set.
    common = _Parser(add_help=False)
    common.add_argument("--url", default=argparse.SUPPRESS,
                        help="server URL (default: $ROUTILUX_SERVER_URL, else `jupyter server "
                             "list`)")
    common.add_argument("--token", default=argparse.SUPPRESS,
                        help="Jupyter token (default: $ROUTILUX_TOKEN, else the server's own)")
    common.add_argument("--prefix", default=argparse.SUPPRESS,
                        help="routilux API prefix (c.RoutiluxExtension.prefix; default: api)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print the server's JSON instead of a table")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = _Parser(
        prog="routilux", parents=[common],
        description="Watch, control and debug routilux jobs through a running Jupyter server.",
        epilog="Exit status: 0 ok, 1 refused by the server (reason on stderr) or watched job "
               "not completed, 2 usage, 3 no server reachable.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, fn: Callable[[Client, argparse.Namespace], int], help: str,
            job: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help, description=help)
        if job:
            p.add_argument("job_id", metavar="ID", help="job id")
        p.set_defaults(fn=fn)
        return p

    add("health", cmd_health, "the server's routilux version, counts and owners", job=False)
    add("flows", cmd_flows, "list flows (server and kernels)", job=False)
    p = add("jobs", cmd_jobs, "list jobs", job=False)
    p.add_argument("--flow", help="only jobs of this flow")
    p.add_argument("--status", help="only jobs with this status (running, paused, ...)")
    p.add_argument("--limit", type=int, help="at most this many (server default 100)")
    p = add("start", cmd_start, "start a job of a flow and print its id", job=False)
    p.add_argument("flow", metavar="FLOW", help="flow id")
    p.add_argument("entry", metavar="ENTRY", help="entry routine id")
    p.add_argument("--params", type=_params, default={},
                   help="entry payload as a JSON object, e.g. '{\"count\": 5}'")
    p.add_argument("--slot", default="trigger", help="entry slot (default: trigger)")
    p.add_argument("--kernel", help="kernel id, when several kernels hold a flow of that id")
    p.add_argument("--break", dest="breakpoints", type=_breakpoint_spec, action="append",
                   metavar="ROUTINE[.SLOT][:CONDITION]",
                   help="arm a breakpoint before the first activation (repeatable)")
    p.add_argument("--wait", action="store_true",
                   help="return once the job has paused (or ended)")
    p.add_argument("--timeout", type=float, default=30.0,
                   help="seconds --wait waits (default 30)")
    add("job", cmd_job, "a job's status, where it is paused, and its metrics")
    p = add("trace", cmd_trace, "a job's execution trace")
    p.add_argument("--limit", type=int, help="only the last N events")
    p = add("watch", cmd_watch, "stream a job's events until it ends")
    p.add_argument("--timeout", type=float, default=None,
                   help="give up after this many seconds without an event")
    for action in ("pause", "resume", "cancel"):
        add(action, _control(action), f"{action} a job")
    add("breakpoints", cmd_breakpoints, "list a job's breakpoints")
    p = add("break", cmd_break, "add a breakpoint to a job")
    p.add_argument("routine", metavar="ROUTINE", help="routine id to stop at")
    p.add_argument("--slot", help="stop only when this slot is called")
    p.add_argument("--event", help="stop when the routine emits this event")
    p.add_argument("--condition", help="stop only when this expression over the payload is "
                                       "true, e.g. 'amount > 30'")
    p = add("unbreak", cmd_unbreak, "remove a breakpoint")
    p.add_argument("breakpoint_id", metavar="BREAKPOINT", help="breakpoint id")
    add("session", cmd_session, "where a job is paused in the debugger")
    add("vars", cmd_vars, "variables of a paused job (payload or locals, and shared data)")
    add("stack", cmd_stack, "call stack of a paused job")
    p = add("step", cmd_step, "step a paused job and show where it pauses next")
    p.add_argument("kind", nargs="?", default="over", choices=list(_STEPS),
                   help="over (default), into, out, or resume (run to the next breakpoint)")
    p.add_argument("--no-wait", action="store_true", help="do not wait for the next pause")
    p.add_argument("--timeout", type=float, default=30.0,
                   help="seconds to wait for the next pause (default 30)")
    p = add("set-var", cmd_set_var, "change a variable of a paused job")
    p.add_argument("name", metavar="NAME")
    p.add_argument("value", metavar="VALUE", help="JSON (42, \"text\", [1, 2]); else taken as "
                                                  "a string")
    p.add_argument("--scope", choices=["local", "shared"], default=None,
                   help="local (payload / frame local, default) or shared data")
    return parser


def _fail(message: str) -> None:
    print(f"routilux: {' '.join(str(message).split())}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (the console script exits with it)."""
    args = build_parser().parse_args(argv)
    args.json = getattr(args, "json", False)
    try:
        client = connect(getattr(args, "url", None), getattr(args, "token", None),
                         prefix=getattr(args, "prefix", "api"))
        return int(args.fn(client, args))
    except (ServerNotFoundError, ServerUnreachableError) as exc:
        _fail(f"error: {exc}")
        return EXIT_NO_SERVER
    except RoutiluxError as exc:
        status = getattr(exc, "status", None)
        _fail(f"error{f' {status}' if status else ''}: {exc}")
        return EXIT_REFUSED
    except TimeoutError as exc:
        _fail(f"error: {exc}")
        return EXIT_REFUSED
    except ImportError as exc:  # websocket-client missing: the message says what to install
        _fail(f"error: {exc}")
        return EXIT_REFUSED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `routilux watch ID | head`: the reader left, not an error
        # Python flushes stdout again at exit, which would report the same broken pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
