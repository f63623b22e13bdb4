"""The migration engine with small steps of the tests' own: order, resume, gates, rollback."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from toolkit.errors import CheckFailed
from toolkit.migration.context import MigrationContext
from toolkit.migration.engine import GateFailed, RollbackRefused, execute, plan, rollback
from toolkit.migration.step import Step
from toolkit.runs import Run
from toolkit.spec import LoadedSpec


class World:
    """What the steps change, so that a test can see what a rollback put back."""

    def __init__(self) -> None:
        self.frozen = False
        self.dns = "source"
        self.calls: list[str] = []
        self.fail: set[str] = set()


class Recorded(Step):
    name: ClassVar[str] = "?"

    def __init__(self, world: World) -> None:
        self.world = world

    def run(self, ctx: MigrationContext) -> None:
        self.world.calls.append(self.name)
        if self.name in self.world.fail:
            raise RuntimeError(f"{self.name} broke")
        self.change(True)

    def undo(self, ctx: MigrationContext) -> None:
        self.world.calls.append(f"undo {self.name}")
        self.change(False)

    def change(self, forward: bool) -> None:
        pass

    def plan(self, ctx: MigrationContext) -> dict[str, Any]:
        return {"does": self.name}


class Copy(Recorded):
    name = "copy"


class Freeze(Recorded):
    name = "freeze"
    in_window = True

    def change(self, forward: bool) -> None:
        self.world.frozen = forward


class Verify(Recorded):
    name = "verify"
    in_window = True


class SwitchDns(Recorded):
    name = "switch-dns"
    in_window = True

    def change(self, forward: bool) -> None:
        self.world.dns = "target" if forward else "source"


class OpenWrites(Recorded):
    name = "open-writes"
    in_window = True
    opens_writes = True


class Report(Recorded):
    name = "report"
    gate = False


STEPS = (Copy, Freeze, Verify, SwitchDns, OpenWrites, Report)


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MigrationContext:
    monkeypatch.setenv("TOOLKIT_STATE_DIR", str(tmp_path))
    loaded: Any = LoadedSpec.__new__(LoadedSpec)  # the engine never reads the spec
    return MigrationContext(loaded=loaded, run=Run.start("migrate", subject="svc"))


def steps(world: World) -> list[Step]:
    return [cls(world) for cls in STEPS]


def test_all_steps_run_in_order(world: World, context: MigrationContext) -> None:
    execute(steps(world), context)
    assert world.calls == ["copy", "freeze", "verify", "switch-dns", "open-writes", "report"]
    assert (world.frozen, world.dns) == (True, "target")


def test_a_resumed_run_skips_what_ended(world: World, context: MigrationContext) -> None:
    execute(steps(world)[:2], context)  # copy and freeze end; then the process "dies"
    world.calls.clear()
    resumed = MigrationContext(loaded=context.loaded, run=Run.resume(context.run.id))
    execute(steps(world), resumed)
    assert world.calls == ["verify", "switch-dns", "open-writes", "report"]


def test_a_failed_gate_rolls_back_every_started_step_newest_first(world: World,
                                                                 context: MigrationContext) -> None:
    world.fail = {"verify"}
    with pytest.raises(GateFailed, match="gate verify failed \\(verify broke\\); rolled back") as failed:
        execute(steps(world), context)
    assert failed.value.rolled_back
    assert world.calls == ["copy", "freeze", "verify", "undo verify", "undo freeze", "undo copy"]
    assert (world.frozen, world.dns) == (False, "source")
    assert context.run.measured("rollback")["reason"] == "gate verify failed: verify broke"
    with pytest.raises(CheckFailed, match="was rolled back; start a new migration"):
        execute(steps(world), context)


def test_a_failure_in_the_dns_switch_puts_dns_back(world: World, context: MigrationContext) -> None:
    class HalfSwitch(SwitchDns):
        def run(self, ctx: MigrationContext) -> None:
            self.change(True)  # one provider switched, then the other fails
            raise RuntimeError("provider timeout")

    chain = steps(world)
    chain[3] = HalfSwitch(world)
    with pytest.raises(GateFailed):
        execute(chain, context)
    assert (world.frozen, world.dns) == (False, "source")


def test_after_writes_open_rollback_is_refused(world: World, context: MigrationContext) -> None:
    world.fail = {"report"}
    with pytest.raises(RuntimeError, match="report broke"):
        execute(steps(world), context)  # not a gate, and writes are open: no rollback
    assert world.dns == "target"
    with pytest.raises(RollbackRefused, match="opened writes on the target \\(open-writes\\)"):
        rollback(steps(world), context, "by hand")
    assert world.dns == "target"


def test_an_undo_that_fails_does_not_stop_the_others(world: World, context: MigrationContext) -> None:
    class StuckDns(SwitchDns):
        def undo(self, ctx: MigrationContext) -> None:
            raise RuntimeError("API down")

    chain = steps(world)[:4]
    chain[3] = StuckDns(world)
    execute(chain, context)
    with pytest.raises(CheckFailed, match=r"rollback of run .* incomplete: switch-dns: API down"):
        rollback(chain, context, "by hand")
    assert world.frozen is False  # the freeze was still undone


def test_plan_calls_no_run(world: World, context: MigrationContext) -> None:
    planned = plan(steps(world), context)
    assert planned[0].to_json() == {"name": "copy", "estimate_seconds": 1.0, "plan": {"does": "copy"}}
    assert world.calls == []
