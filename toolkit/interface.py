"""The toolkit's public Python interface: the CLI is a thin layer over these functions.

Each function does the work and raises ``toolkit.errors.ToolkitError`` subclasses on failure;
none prints. Results are plain dataclasses with a ``to_json()`` for ``--json`` output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.errors import BadInput
from toolkit.spec import LoadedSpec, SpecIssue, load_spec
from toolkit.targets import ProvisionResult

if TYPE_CHECKING:
    from toolkit.data import Verification
    from toolkit.data.replication import ReplicationResult
    from toolkit.discovery import Discovery
    from toolkit.dns.cutover import Outcome as DnsOutcome
    from toolkit.dns.world import DnsWorld
    from toolkit.drills.drill import DrillOutcome
    from toolkit.lockin import LockinReport
    from toolkit.migration.planning import MigrationPlan
    from toolkit.parity import ParityReport
    from toolkit.reports import RunReport
    from toolkit.runs import Listener, RunInfo

# Heavy modules (Pulumi, ansible-runner, the lab) are imported inside the functions that need
# them, so that `toolkit validate` starts fast.


@dataclass
class ValidationResult:
    spec_path: Path
    loaded: LoadedSpec
    warnings: list[SpecIssue] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        spec = self.loaded.spec
        return {
            "ok": True,
            "spec": str(self.spec_path),
            "service": spec.service.name,
            "targets": [name for name in ("aws", "baremetal") if getattr(spec.targets, name)],
            "warnings": [w.to_json() for w in self.warnings],
            "errors": [],
        }


def validate(spec_path: Path | str | None = None) -> ValidationResult:
    """Validate a spec: schema, semantics, files and secret references. Raises ``SpecError``."""
    loaded = load_spec(spec_path)
    return ValidationResult(spec_path=loaded.path, loaded=loaded, warnings=loaded.warnings)


def provision(target: str, spec_path: Path | str | None = None, *, check: bool = False,
              standby: bool = False, listeners: list[Listener] | None = None) -> ProvisionResult:
    """Provision ``target`` ("baremetal" or "aws") from the spec; ``check`` changes nothing.

    ``listeners`` receive the run's events (see ``toolkit.runs``); the CLI draws them.
    """
    loaded = load_spec(spec_path)
    if target == "baremetal":
        from toolkit.targets.baremetal.provision import provision_baremetal

        return provision_baremetal(loaded, check=check, standby=standby, listeners=listeners or [])
    if target == "aws":
        if standby:
            raise BadInput("--standby applies to --target baremetal only")
        from toolkit.targets.aws.provision import provision_aws

        return provision_aws(loaded, check=check, show_progress=bool(listeners))
    raise BadInput(f"unknown target {target!r} (baremetal or aws)")


def aws_migration_ingress_open(cidr: str, spec_path: Path | str | None = None, *, check: bool = False,
                               stack: str | None = None) -> ProvisionResult:
    """Open the AWS database to the bare-metal subscriber at ``cidr`` (before replication)."""
    from toolkit.targets.aws.ingress import open_ingress

    return open_ingress(load_spec(spec_path), cidr, check=check, stack=stack)


def aws_migration_ingress_close(spec_path: Path | str | None = None, *, check: bool = False,
                                stack: str | None = None) -> ProvisionResult:
    """Close the AWS database to the subscriber again (after the cutover or a rollback)."""
    from toolkit.targets.aws.ingress import close_ingress

    return close_ingress(load_spec(spec_path), check=check, stack=stack)


def parity(spec_path: Path | str | None = None, *, playbooks_dir: Path | None = None) -> ParityReport:
    """Compare the AWS and bare-metal realizations of the spec; ``report.ok`` is the verdict."""
    from toolkit.parity import run_parity

    return run_parity(load_spec(spec_path), playbooks_dir=playbooks_dir)


def lockin(spec_path: Path | str | None = None, resource_types: list[str] | None = None) -> LockinReport:
    """Lint AWS resource types (default: those the AWS program declares) and the spec for lock-in."""
    from toolkit.lockin import AwsResource, lint
    from toolkit.targets.aws.offline import run_offline
    from toolkit.targets.aws.program import StackConfig

    loaded = load_spec(spec_path)
    if resource_types is not None:
        return lint(resource_types, loaded.spec)
    run = run_offline(StackConfig.from_spec(loaded))
    return lint([AwsResource(r.type, r.name, r.inputs) for r in run.resources if r.custom], loaded.spec)


def discover(source: str = "aws", *, spec_path: Path | str | None = None, regions: list[str] | None = None,
             endpoint: str | None = None, output: Path | str | None = None, bandwidth: str = "1Gbit/s",
             page_size: int | None = None, storage_metrics: bool = False,
             listeners: list[Listener] | None = None) -> Discovery:
    """Read a live AWS account (read-only), write a draft spec beside ``output`` and report the lock-in.

    The account is reached as the spec's ``targets.aws`` says (``spec_path``), else with boto3's
    own credentials and ``$AWS_ENDPOINT_URL``. ``output`` (default: the spec, else ``./service.yaml``)
    is never overwritten: a taken name gets ``.discovered`` before its suffix. A run of its own (kind
    ``discover``): one step per service family; its directory keeps the result as JSON.
    """
    from toolkit.discovery import run_discovery

    if source != "aws":
        raise BadInput(f"--from {source!r}: only aws can be discovered")
    loaded = load_spec(spec_path, check_environment=False) if spec_path is not None else None
    default = loaded.path if loaded is not None else Path.cwd() / "service.yaml"  # the draft goes beside
    return run_discovery(loaded, regions=regions, endpoint=endpoint,
                         output=Path(output) if output is not None else default,
                         bandwidth=bandwidth, page_size=page_size, storage_metrics=storage_metrics,
                         listeners=listeners or [])


def iam_policy(command: str, spec_path: Path | str | None = None) -> dict[str, Any]:
    """The least-privilege IAM policy ``command`` ("discover" or "migrate") needs, as policy JSON."""
    from toolkit.discovery import iam

    if command not in iam.POLICIES:
        raise BadInput(f"no IAM policy for {command!r} (one of: {', '.join(iam.POLICIES)})")
    spec = load_spec(spec_path, check_environment=False).spec if spec_path is not None else None
    return iam.policy_document(command, spec)


def lab_up(name: str = "default", hosts: int = 5, *, drill_hosts: int = 0,
           listeners: list[Listener] | None = None) -> dict[str, Any]:
    """Bring the lab ``name`` up (or return its status if it already is); see ``toolkit.lab``.

    ``drill_hosts`` more bare-metal hosts follow the ``hosts`` production ones, for ``toolkit drill``.
    A run of its own (kind ``lab-up``): each phase is a step that ``listeners`` see.
    """
    from toolkit.lab import api
    from toolkit.runs import Run
    from toolkit.runs.sequence import StepSequence

    meta = {"lab": name, "hosts": hosts, "drill_hosts": drill_hosts}
    with Run.start("lab-up", listeners=listeners or [], meta=meta) as run, StepSequence(run) as step:
        return api.up(name, hosts, drill_hosts=drill_hosts, progress=step)


def lab_status(name: str = "default") -> dict[str, Any]:
    """The lab's paths, endpoints and hosts with a health probe per service."""
    from toolkit.lab import api

    return api.status(name)


def lab_down(name: str = "default") -> dict[str, Any]:
    """Remove the lab ``name`` entirely; safe to repeat and after a killed ``lab_up``."""
    from toolkit.lab import api

    return api.down(name)


def lab_snapshot(name: str, label: str) -> dict[str, Any]:
    """Save the lab's bare-metal disks as snapshot ``label`` (the hosts reboot)."""
    from toolkit.lab import api

    return api.snapshot(name, label)


def lab_restore(name: str, label: str = "booted") -> dict[str, Any]:
    """Return the lab's bare-metal hosts to snapshot ``label`` (``booted``: blank, as ``up`` made them)."""
    from toolkit.lab import api

    return api.restore(name, label)


def lab_image() -> dict[str, Any]:
    """Build the lab image if it is not cached; return its path and whether it was cached."""
    from toolkit.lab import api

    return api.build_image()


def runs() -> list[RunInfo]:
    """Past and current runs under the state directory, newest first."""
    from toolkit.runs import list_runs

    return list_runs()


def replicate(target: str, spec_path: Path | str | None = None, *,
              listeners: list[Listener] | None = None,
              replica_identity_full: bool = False) -> ReplicationResult:
    """Start or continue replication to ``target``; return once it is caught up and streaming.

    ``replica_identity_full`` lets the database mover set REPLICA IDENTITY FULL on source tables
    without a primary key (preflight refuses them otherwise).
    """
    from toolkit.data.mover import MoverOptions
    from toolkit.data.replication import replicate as run_replication

    return run_replication(load_spec(spec_path), target, listeners=listeners or [],
                           options=MoverOptions(replica_identity_full=replica_identity_full))


def replication_status(target: str, spec_path: Path | str | None = None) -> dict[str, Any]:
    """Lag, per-table state, retained WAL and the object pass's state; changes nothing."""
    from toolkit.data.replication import replication_status as status

    return status(load_spec(spec_path), target)


def stop_replication(target: str, spec_path: Path | str | None = None) -> dict[str, list[str]]:
    """Stop replication and remove what it made on both sides; safe to repeat."""
    from toolkit.data.replication import stop_replication as stop

    return stop(load_spec(spec_path), target)


def verify_data(target: str, spec_path: Path | str | None = None) -> list[Verification]:
    """Compare the source's data with the target's; each result names its differences."""
    from toolkit.data.replication import verify

    return verify(load_spec(spec_path), target)


def report(run_id: str, html_path: Path | None = None) -> RunReport:
    """The report of run ``run_id`` from its journal; with ``html_path``, also written as HTML."""
    from toolkit.reports import build_report
    from toolkit.reports.html import render_html

    built = build_report(run_id)
    if html_path is not None:
        html_path.write_text(render_html(built), encoding="utf-8")
    return built

def dns_plan(target: str, spec_path: Path | str | None = None) -> dict[str, Any]:
    """The zone sync diff per target, the records that switch with their TTLs, and the timeline."""
    from toolkit.dns import cutover

    return cutover.plan(_dns_world(target, spec_path))


def dns_apply(target: str, spec_path: Path | str | None = None, *, listeners: list[Listener] | None = None,
              force: bool = False, checksum: str | None = None, max_wait: float | None = None,
              delegation_moved: bool = False) -> DnsOutcome:
    """Perform the cutover steps that are due (a resumable run); returns where it stands."""
    from toolkit.dns import cutover

    return cutover.apply(_dns_world(target, spec_path), listeners=listeners or [], force=force,
                         checksum=checksum, delegation_moved=delegation_moved,
                         max_wait=cutover.DEFAULT_MAX_WAIT if max_wait is None else max_wait)


def dns_verify(spec_path: Path | str | None = None) -> dict[str, Any]:
    """Answers of every authoritative server, by address, and of the resolver; ``ok`` if they agree."""
    from toolkit.dns import cutover

    return cutover.verify(_dns_world("baremetal", spec_path))


def dns_rollback(spec_path: Path | str | None = None, *,
                 listeners: list[Listener] | None = None) -> DnsOutcome:
    """Restore every provider and the delegation to what the latest cutover run saved."""
    from toolkit.dns import cutover

    return cutover.rollback(_dns_world("baremetal", spec_path), listeners=listeners or [])


def _dns_world(target: str, spec_path: Path | str | None) -> DnsWorld:
    if target != "baremetal":
        raise BadInput(f"unknown target {target!r} (baremetal)")
    from toolkit.dns.world import load_world

    return load_world(load_spec(spec_path))


def run_dir(run_id: str) -> Path:
    from toolkit.runs.run import runs_root

    return runs_root() / run_id


def plan_migration(target: str, spec_path: Path | str | None = None, *, deadline: str | None = None,
                   listeners: list[Listener] | None = None) -> MigrationPlan:
    """The dry run of ``migrate``: steps, estimates, DNS changes, Ansible's check mode; changes nothing."""
    from toolkit.migration.deadline import parse_deadline
    from toolkit.migration.migrate import plan_migration as plan

    when = parse_deadline(deadline) if deadline else None
    return plan(load_spec(spec_path), target, deadline=when, listeners=listeners or [])


def migrate(target: str, spec_path: Path | str | None = None, *, resume: str | None = None,
            deadline: str | None = None, load_journal: Path | None = None, load_url: str | None = None,
            resolve_with: str | None = None, listeners: list[Listener] | None = None) -> RunReport:
    """Migrate the service to ``target`` (or resume run ``resume``); returns the run's report."""
    from toolkit.migration.deadline import parse_deadline
    from toolkit.migration.migrate import LoadWatch
    from toolkit.migration.migrate import migrate as run_migration

    load = LoadWatch(load_journal, load_url, resolve_with) if load_journal and load_url else None
    when = parse_deadline(deadline) if deadline else None
    return run_migration(load_spec(spec_path), target, resume=resume, deadline=when, load=load,
                         listeners=listeners or [])


def rollback_migration(run_id: str, spec_path: Path | str | None = None, *,
                       listeners: list[Listener] | None = None) -> RunReport:
    """Roll migration ``run_id`` back by hand (refused once writes opened on the target)."""
    from toolkit.migration.migrate import rollback_migration as undo

    return undo(load_spec(spec_path), run_id, listeners=listeners or [])


def drill(target: str, spec_path: Path | str | None = None, *, keep: bool = False,
          load_journal: Path | None = None, load_url: str | None = None, resolve_with: str | None = None,
          listeners: list[Listener] | None = None) -> DrillOutcome:
    """Rehearse the migration into the drill's environment, measure it, tear it down."""
    from toolkit.drills.drill import drill as run_drill
    from toolkit.migration.migrate import LoadWatch

    load = LoadWatch(load_journal, load_url, resolve_with) if load_journal and load_url else None
    return run_drill(load_spec(spec_path), target, keep=keep, load=load, listeners=listeners or [])


def drill_cleanup(spec_path: Path | str | None = None, *,
                  listeners: list[Listener] | None = None) -> str | None:
    """Tear down what a drill that is not running left; the run it belonged to, or None."""
    from toolkit.drills.drill import cleanup

    return cleanup(load_spec(spec_path), listeners=listeners or [])


def backup(target: str, spec_path: Path | str | None = None, *, kind: str = "full") -> dict[str, Any]:
    """Take a backup of the target's database now (the unit the timers start); what it made."""
    from toolkit.backups.repository import Repository

    _baremetal_only(target)
    return Repository(load_spec(spec_path)).backup(kind).to_json()


def backup_status(target: str, spec_path: Path | str | None = None) -> dict[str, Any]:
    """The last full backup and its age, the recovery window, the WAL archiver's health; ``ok``."""
    from toolkit.backups.status import backup_status as status

    _baremetal_only(target)
    return status(load_spec(spec_path))


def restore(target: str, spec_path: Path | str | None = None, *, time: str | None = None, keep: bool = False,
            port: int | None = None) -> dict[str, Any]:
    """A point in time (``time``, ISO 8601; the latest without) restored into a scratch cluster on
    the database host and verified table by table; removed unless ``keep``."""
    from toolkit.backups.restore import ScratchRestore, parse_time

    _baremetal_only(target)
    moment = parse_time(time) if time else None
    return ScratchRestore(load_spec(spec_path)).run(moment, keep=keep, port=port).to_json()


def restore_in_place(target: str, spec_path: Path | str | None = None, *,
                     time: str | None = None) -> dict[str, Any]:
    """The live database replaced by a point in time; its data directory is kept aside. The CLI
    asks for confirmation first."""
    from toolkit.backups.restore import parse_time
    from toolkit.backups.restore import restore_in_place as in_place

    _baremetal_only(target)
    return in_place(load_spec(spec_path), parse_time(time) if time else None)


def _baremetal_only(target: str) -> None:
    if target != "baremetal":
        raise BadInput(f"--to {target}: backups are managed by the toolkit on baremetal only "
                       "(on AWS, RDS's automated backups)")
