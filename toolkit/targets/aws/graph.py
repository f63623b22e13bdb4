"""The resource graph of a program run, for people (a tree) and machines (JSON).

Only *key inputs* are shown: what a reviewer checks (ports, versions, encryption, exposure),
never secrets (the recorder already replaced them) nor bulky values like user data.
"""

from __future__ import annotations

from typing import Any

from toolkit.targets.aws.offline import RecordedResource

_RULE_INPUTS = ("securityGroupId", "ipProtocol", "fromPort", "toPort", "cidrIpv4",
                "referencedSecurityGroupId")

KEY_INPUTS: dict[str, tuple[str, ...]] = {
    "pulumi:providers:aws": ("region",),
    "aws:ec2/vpc:Vpc": ("cidrBlock",),
    "aws:ec2/subnet:Subnet": ("cidrBlock", "availabilityZone"),
    "aws:ec2/routeTable:RouteTable": ("routes",),
    "aws:ec2/securityGroup:SecurityGroup": ("description",),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _RULE_INPUTS,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _RULE_INPUTS,
    "aws:rds/parameterGroup:ParameterGroup": ("family", "parameters"),
    "aws:rds/instance:Instance": (
        "identifier",
        "engine",
        "engineVersion",
        "instanceClass",
        "port",
        "dbName",
        "storageEncrypted",
        "backupRetentionPeriod",
        "publiclyAccessible",
        "multiAz",
        "parameterGroupName",
        "deletionProtection",
    ),
    "aws:s3/bucket:Bucket": ("bucket",),
    "aws:s3/bucketVersioning:BucketVersioning": ("versioningConfiguration",),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": ("rules",),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": (
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ),
    "aws:s3/bucketObjectv2:BucketObjectv2": ("key",),
    "aws:ssm/parameter:Parameter": ("name", "type"),
    "aws:ec2/instance:Instance": ("instanceType", "subnetId", "vpcSecurityGroupIds", "metadataOptions"),
    "aws:lb/loadBalancer:LoadBalancer": ("loadBalancerType", "internal", "securityGroups"),
    "aws:lb/targetGroup:TargetGroup": ("port", "protocol", "healthCheck"),
    "aws:ec2/launchTemplate:LaunchTemplate": ("instanceType", "imageId", "metadataOptions"),
    "aws:autoscaling/group:Group": (
        "minSize", "maxSize", "desiredCapacity", "healthCheckType", "instanceRefresh", "targetGroupArns"
    ),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("serviceName", "vpcEndpointType"),
    "aws:ec2/natGateway:NatGateway": ("subnetId",),
    "aws:lb/listener:Listener": ("port", "protocol", "sslPolicy", "defaultActions"),
    "aws:acm/certificate:Certificate": ("certificateBody", "privateKey"),
    "aws:route53/zone:Zone": ("name",),
    "aws:route53/record:Record": ("name", "type", "ttl", "records", "aliases"),
}


def key_inputs(resource: RecordedResource) -> dict[str, Any]:
    keys = KEY_INPUTS.get(resource.type, ())
    shown = {key: resource.inputs[key] for key in keys if key in resource.inputs}
    if "certificateBody" in shown:
        shown["certificateBody"] = "(imported PEM)"
    return shown


def graph_json(resources: list[RecordedResource]) -> list[dict[str, Any]]:
    return [
        {
            "type": r.type,
            "name": r.name,
            "parent": r.parent,
            "component": r.component,
            "inputs": key_inputs(r),
        }
        for r in ordered(resources)
    ]


def ordered(resources: list[RecordedResource]) -> list[RecordedResource]:
    """Depth-first from the stack's children, each parent before its children."""
    children: dict[str | None, list[RecordedResource]] = {}
    for resource in resources:
        children.setdefault(resource.parent, []).append(resource)
    result: list[RecordedResource] = []

    def walk(parent: str | None) -> None:
        for child in sorted(children.get(parent, []), key=lambda r: (r.custom, r.type, r.name)):
            result.append(child)
            walk(child.key)

    walk(None)
    return result


def depth(resource: RecordedResource, by_key: dict[str, RecordedResource]) -> int:
    level, parent = 0, resource.parent
    while parent is not None and parent in by_key:
        level, parent = level + 1, by_key[parent].parent
    return level


def tree_lines(resources: list[RecordedResource]) -> list[str]:
    by_key = {r.key: r for r in resources}
    lines = []
    for resource in ordered(resources):
        indent = "  " * depth(resource, by_key)
        inputs = ", ".join(f"{k}={_short(v)}" for k, v in key_inputs(resource).items())
        lines.append(f"{indent}{resource.type}  {resource.name}" + (f"  [{inputs}]" if inputs else ""))
    return lines


def _short(value: Any, limit: int = 90) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
