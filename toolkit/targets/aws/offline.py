"""Run the AWS Pulumi program offline, under Pulumi's mock runtime, and record what it declares.

No Pulumi CLI, provider plugin or cloud is involved: ``pulumi.runtime.set_mocks`` replaces the
engine, and ``RecordingMocks.new_resource`` sees every resource's type, name and inputs. Each
run happens in a fresh ``contextvars.Context``, so Pulumi's process-global settings (mocks,
config, the root stack) never leak from one run into the next.

Secret inputs (passwords, the TLS key, SSM values) are replaced by ``[secret]`` as they are
recorded: a record can be printed, logged or written to JSON safely.
"""

from __future__ import annotations

import contextvars
import logging
import runpy
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

from toolkit.errors import BadInput
from toolkit.targets.aws.program import PROJECT, StackConfig, importable, stack_dir

log = logging.getLogger(__name__)

SECRET = "[secret]"
COMPUTED = "(computed)"
MOCK_ACCOUNT = "123456789012"


@dataclass(frozen=True)
class RecordedResource:
    """One resource the program declared: its type token, logical name, inputs and parent."""

    type: str
    name: str
    inputs: dict[str, Any]
    custom: bool
    parent: str | None = None  # the parent's key (see ``key``); None for the stack's children
    dependencies: tuple[str, ...] = ()  # keys of the resources it waits for (inputs, depends_on)

    @property
    def component(self) -> bool:
        return not self.custom

    @property
    def key(self) -> str:
        """``type::name``: unique in a stack (a name alone is not: a component and its child
        resource may share one)."""
        return f"{self.type}::{self.name}"


@dataclass
class OfflineRun:
    """What one mocked run of the program produced."""

    config: StackConfig
    resources: list[RecordedResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    invokes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def of_type(self, type_: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_]

    def types(self) -> list[str]:
        return sorted({r.type for r in self.resources})


def scrub(value: Any) -> Any:
    """Inputs as plain JSON-able data: secrets hidden, unknowns named, whole floats as ints."""
    if isinstance(value, dict):
        sig = value.get(rpc._special_sig_key)
        if sig == rpc._special_secret_sig:
            return SECRET
        if sig == rpc._special_archive_sig or sig == rpc._special_asset_sig:
            return {"path": value.get("path")} if value.get("path") else {"asset": True}
        return {str(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, pulumi.Output) or type(value).__name__ == "Unknown":
        return COMPUTED
    if isinstance(value, pulumi.Resource):
        return f"<{type(value).__name__}>"
    if isinstance(value, pulumi.Archive | pulumi.Asset):
        return {"path": getattr(value, "path", None)}
    return value


def mock_id(name: str) -> str:
    """Mock ids are derived from the logical name, so references can be traced back."""
    return f"{name}-id"


def name_from_id(value: object) -> str | None:
    return value.removesuffix("-id") if isinstance(value, str) and value.endswith("-id") else None


class RecordingMocks(pulumi.runtime.Mocks):
    """Pulumi mocks that record every resource and answer with plausible computed outputs."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.records: list[tuple[str, str, dict[str, Any], bool]] = []
        self.invokes: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        inputs = dict(args.inputs)
        self.records.append((args.typ, args.name, scrub(inputs), bool(args.custom)))
        state = {**inputs, **self._computed(args.typ, args.name, inputs)}
        return mock_id(args.name), state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]]]:
        self.invokes.append(args.token)
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {"names": [f"{self.region}a", f"{self.region}b"], "zoneIds": ["use1-az1", "use1-az2"]}, []
        if args.token == "aws:ssm/getParameter:getParameter":
            return {"name": args.args.get("name"), "value": "ami-00000000000000000", "type": "String"}, []
        return {}, []

    def _computed(self, typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        """Outputs the provider would compute; every output the program reads must be here."""
        short = typ.rsplit(":", 1)[-1].lower()
        out: dict[str, Any] = {
            "arn": f"arn:aws:{short}:{self.region}:{MOCK_ACCOUNT}:{name}",
            "name": inputs.get("name") or name,
            "tagsAll": inputs.get("tags") or {},
        }
        if typ == "aws:s3/bucket:Bucket":
            bucket = inputs.get("bucket") or f"{name}-0000000"
            out.update(
                bucket=bucket,
                arn=f"arn:aws:s3:::{bucket}",
                bucketRegionalDomainName=f"{bucket}.s3.{self.region}.amazonaws.com",
            )
        elif typ == "aws:rds/instance:Instance":
            identifier = inputs.get("identifier") or name
            address = f"{identifier}.mock.{self.region}.rds.amazonaws.com"
            out.update(
                identifier=identifier,
                address=address,
                port=inputs.get("port", 5432),
                endpoint=f"{address}:{int(inputs.get('port', 5432))}",
            )
        elif typ == "aws:lb/loadBalancer:LoadBalancer":
            out.update(dnsName=f"{name}.{self.region}.elb.amazonaws.com", zoneId="Z35SXDOTRQ7X7K")
        elif typ == "aws:route53/zone:Zone":
            out.update(
                zoneId=f"Z{zlib.crc32(name.encode()):012d}",
                nameServers=[f"ns-{i}.awsdns-mock.net" for i in range(1, 5)],
            )
        elif typ == "aws:ec2/instance:Instance":
            out.update(privateIp="10.40.10.10")
        elif typ == "aws:ssm/parameter:Parameter":
            parameter = inputs.get("name") or f"/{name}"
            out.update(arn=f"arn:aws:ssm:{self.region}:{MOCK_ACCOUNT}:parameter{parameter}")
        elif typ == "aws:ec2/launchTemplate:LaunchTemplate":
            out.update(latestVersion=1, defaultVersion=1)
        return out


def run_offline(config: StackConfig) -> OfflineRun:
    """Execute ``stacks/aws/__main__.py`` under the mock runtime; return what it declared."""
    program = stack_dir()
    importable(program)
    # A fresh context: Pulumi keeps its settings, config and root stack in context variables.
    return contextvars.Context().run(_run, config, program)


def _run(config: StackConfig, program: Any) -> OfflineRun:
    mocks = RecordingMocks(config.region)
    monitor = _ParentRecordingMonitor(mocks)
    warnings = _WarningCollector()
    pulumi.runtime.set_mocks(
        mocks, project=PROJECT, stack=config.stack, preview=True, logger=warnings, monitor=monitor
    )
    pulumi.runtime.set_all_config(config.values())
    outputs: dict[str, Any] = {}

    def program_run() -> pulumi.Output[Any]:
        runpy.run_path(str(program / "__main__.py"), run_name="__main__")
        root = pulumi.runtime.get_root_resource()
        exported: dict[str, Any] = dict(getattr(root, "outputs", {}) or {})
        # One output at a time: an unknown one must not hide the others.
        return pulumi.Output.all(
            *[pulumi.Output.from_input(value).apply(_keep(outputs, key)) for key, value in exported.items()]
        )

    try:
        pulumi.runtime.test(program_run)()
    except pulumi.RunError as exc:
        raise BadInput(f"the AWS program failed: {exc}") from exc
    except ValueError as exc:  # StackConfigError and spec errors inside the program
        raise BadInput(f"the AWS program rejected its config: {exc}") from exc
    run = OfflineRun(
        config=config,
        invokes=list(mocks.invokes),
        outputs=dict(sorted(outputs.items())),
        warnings=list(warnings.seen),
    )
    for typ, name, inputs, custom in mocks.records:
        run.resources.append(
            RecordedResource(
                type=typ,
                name=name,
                inputs=inputs,
                custom=custom,
                parent=monitor.parents.get((typ, name)),
                dependencies=monitor.dependencies.get((typ, name), ()),
            )
        )
    log.info("run_offline: %d resources, %d outputs", len(run.resources), len(run.outputs))
    return run


def _keep(outputs: dict[str, Any], key: str) -> Callable[[Any], None]:
    def keep(resolved: Any) -> None:
        outputs[key] = scrub(resolved)

    return keep


class _ParentRecordingMonitor(MockMonitor):
    """The mock monitor, also noting each resource's parent and dependencies (the mocks are told
    neither)."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.parents: dict[tuple[str, str], str | None] = {}
        self.dependencies: dict[tuple[str, str], tuple[str, ...]] = {}

    def RegisterResource(self, request: Any) -> Any:
        parent = _key_of_urn(request.parent) if request.parent else None
        self.parents[(request.type, request.name)] = parent
        self.dependencies[(request.type, request.name)] = tuple(
            key for urn in request.dependencies if (key := _key_of_urn(urn)) is not None
        )
        return super().RegisterResource(request)


def _key_of_urn(urn: str) -> str | None:
    """``type::name`` of a resource's URN; None for the stack itself."""
    *_, type_chain, name = urn.split("::")
    type_ = type_chain.rsplit("$", 1)[-1]
    return None if type_ == "pulumi:pulumi:Stack" else f"{type_}::{name}"


class _WarningCollector(logging.Logger):
    """Receives the program's ``pulumi.log`` messages; warnings are kept for the report."""

    def __init__(self) -> None:
        super().__init__("toolkit.targets.aws.program")
        self.seen: list[str] = []

    def warning(self, msg: object, *args: object, **kwargs: Any) -> None:
        self.seen.append(str(msg))
