"""MonitoringHooks: what it asks of the engine depends on what there is to steer."""

from __future__ import annotations

from routilux.monitoring import MonitoringRegistry


def test_monitoring_asks_before_activations_only_while_it_has_something_to_steer(
    registry: MonitoringRegistry,
) -> None:
    hooks = registry.hooks
    assert hooks.gates_activations is False
    bp = registry.breakpoint_manager.set_breakpoint(job_id="any", routine_id="r1")
    assert hooks.gates_activations is True
    registry.breakpoint_manager.remove_breakpoint(bp.breakpoint_id)
    assert hooks.gates_activations is False
