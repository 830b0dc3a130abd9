"""``%routilux flows|jobs|status|debug JOB``: what this kernel holds, in plain text.

Bad input raises IPython's ``UsageError``, which IPython shows as one line, without a traceback.
"""

from __future__ import annotations

import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class

from routilux_jupyter.kernel.session import KernelSession, current_session

__all__ = ["USAGE", "RoutiluxMagics"]

USAGE = """\
%routilux flows        flows registered in this kernel
%routilux jobs         jobs of this kernel (newest first)
%routilux status       monitoring, kernel identity and the server bridge
%routilux debug JOB    debugger state of one job (a unique prefix of its id is enough)"""


def _table(head: list[str], rows: list[list[Any]]) -> str:
    cells = [head, *[[("" if c is None else str(c)) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


@magics_class
class RoutiluxMagics(Magics):
    """The ``%routilux`` line magic."""

    @line_magic
    def routilux(self, line: str) -> None:
        """Show routilux flows, jobs, status or one job's debugger state; see ``%routilux?``."""
        try:
            args = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"%routilux: {exc}.\n{USAGE}") from None
        if not args:
            raise UsageError(f"%routilux needs a command.\n{USAGE}")
        command, rest = args[0], args[1:]
        session = current_session()
        if session is None:
            raise UsageError("routilux is not loaded in this kernel; run %load_ext routilux.")
        if command in ("flows", "jobs", "status"):
            if rest:
                raise UsageError(f"%routilux {command} takes no arguments.\n{USAGE}")
            print(getattr(self, f"_{command}")(session))
        elif command == "debug":
            if len(rest) != 1:
                raise UsageError(f"%routilux debug needs exactly one job id.\n{USAGE}")
            self._debug(session, rest[0])
        else:
            raise UsageError(f"Unknown %routilux command {command!r}.\n{USAGE}")

    # -- commands -------------------------------------------------------------------------------

    @staticmethod
    def _flows(session: KernelSession) -> str:
        flows = session.owner.flows.list_all()
        if not flows:
            return "No flows in this kernel yet: build a Flow(...) in a cell."
        rows = [
            [f.flow_id, len(f.routines), len(f.connections), f.execution_strategy,
             len(f.live_jobs())]
            for f in sorted(flows, key=lambda f: f.flow_id)
        ]
        return _table(["flow_id", "routines", "connections", "strategy", "live jobs"], rows)

    @staticmethod
    def _jobs(session: KernelSession) -> str:
        jobs = session.owner.list_jobs(None, None)
        if not jobs:
            return "No jobs in this kernel yet: flow.start(...) or flow.execute(...) runs one."
        jobs.sort(key=lambda j: j.get("created_at") or "", reverse=True)
        rows = [[j["job_id"], j.get("flow_id"), j.get("status"), j.get("created_at"),
                 j.get("error")] for j in jobs]
        return _table(["job_id", "flow_id", "status", "created_at", "error"], rows)

    @staticmethod
    def _status(session: KernelSession) -> str:
        from routilux.monitoring import MonitoringRegistry

        ident = session.identity
        owner = session.owner
        agent = session.agent
        notebook = (agent.notebook_path if agent is not None else None) or ident.notebook_path
        lines = [
            f"monitoring:    {'on' if MonitoringRegistry.is_enabled() else 'off'}",
            f"registration:  {'on' if session.registration.installed else 'off'}",
            f"kernel id:     {ident.kernel_id}",
            f"notebook:      {notebook or '(unknown)'}",
            f"flows / jobs:  {len(owner.flows)} / {len(owner.jobs)}",
        ]
        if agent is None:
            why = ("no bridge in this kernel's environment (not started by a Jupyter server "
                   "with the routilux extension)" if not session.bridge_url else "stopped")
            lines.append(f"server bridge: {why}")
        else:
            st = agent.status()
            state = "connected" if st.connected else "connecting"
            lines.append(f"server bridge: {state} to {st.url}")
            lines.append(f"  events sent {st.events_sent}, dropped {st.events_dropped}, "
                         f"requests answered {st.requests_answered}, connections "
                         f"{st.connections}")
            if st.last_error:
                lines.append(f"  last problem: {st.last_error}")
        return "\n".join(lines)

    def _debug(self, session: KernelSession, wanted: str) -> None:
        owner = session.owner
        ids = [job.job_id for job in owner.jobs.list_all()]
        matches = [i for i in ids if i == wanted] or [i for i in ids if i.startswith(wanted)]
        if not matches:
            raise UsageError(f"No job {wanted!r} in this kernel; %routilux jobs lists them.")
        if len(matches) > 1:
            raise UsageError(
                f"{wanted!r} matches {len(matches)} jobs ({', '.join(sorted(matches)[:5])}); "
                "give more of the id."
            )
        job_id = matches[0]
        state = owner.debug_session(job_id)
        out = [f"job {job_id}: {state['status']}"]
        at = state.get("paused_at")
        if at:
            where = ".".join(x for x in (at.get("routine_id"), at.get("slot_name") or
                                         at.get("event_name")) if x)
            line = f" line {at['line']}" if at.get("line") else ""
            out.append(f"paused at {where}{line}")
            variables = owner.get_variables(job_id)["variables"]
            for scope in ("local", "shared"):
                values = variables.get(scope) or {}
                shown = ", ".join(f"{k}={v!r}" for k, v in values.items()) or "(none)"
                out.append(f"{scope}: {shown}")
            out.append("call stack (innermost first):")
            for frame in owner.get_call_stack(job_id)["frames"]:
                place = ".".join(x for x in (frame.get("routine_id"), frame.get("slot_name")) if x)
                fn = frame.get("function")
                out.append(f"  {place}" + (f" in {fn}()" if fn else "")
                           + (f" line {frame['line']}" if frame.get("line") else ""))
        print("\n".join(out))
        if getattr(self.shell, "kernel", None) is not None:  # a real kernel: show the debugger
            job = owner.jobs.get(job_id)
            try:
                from IPython.display import display

                from routilux_jupyter.widgets import JobView

                display(JobView(job))
            except Exception:  # widgets are an extra; the text above is the answer
                pass
