"""The least-privilege IAM policies of ``discover`` and ``migrate``, and API calls as IAM actions.

``discover`` only reads, over the whole account, so its actions apply to every resource.
``migrate`` reads the source and changes one thing on AWS, the service's DNS records; when a spec
is given its statements are scoped to the spec's buckets, hosted zone and database instance.

``CODE`` names the packages whose AWS calls each policy must cover: a test finds every call
in them (and records every call discovery makes against moto) and fails on one the policy lacks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from toolkit.spec import Spec

# boto3 service name -> IAM service prefix, where they differ.
IAM_PREFIX = {
    "elbv2": "elasticloadbalancing",
    "elb": "elasticloadbalancing",
    "stepfunctions": "states",
    "apigatewayv2": "apigateway",
    "efs": "elasticfilesystem",
    "resourcegroupstaggingapi": "tag",
}
# (service, API operation) -> IAM action, where the action is not named after the operation.
ACTION_OF = {
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "ListObjectVersions"): "s3:ListBucketVersions",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3", "GetBucketNotificationConfiguration"): "s3:GetBucketNotification",
    ("s3", "PutBucketNotificationConfiguration"): "s3:PutBucketNotification",
    ("sqs", "DeleteMessageBatch"): "sqs:DeleteMessage",
    ("apigateway", "GetRestApis"): "apigateway:GET",
    ("apigatewayv2", "GetApis"): "apigateway:GET",
}

DISCOVER_ACTIONS = (
    "acm:ListCertificates",
    "apigateway:GET",
    "autoscaling:DescribeAutoScalingGroups",
    "cloudfront:ListDistributions",
    "cloudwatch:GetMetricStatistics",
    "cloudwatch:ListMetrics",
    "cognito-idp:DescribeUserPool",
    "cognito-idp:ListUserPools",
    "dynamodb:DescribeTable",
    "dynamodb:ListTables",
    "ec2:DescribeInstances",
    "ec2:DescribeSecurityGroups",
    "elasticache:DescribeCacheClusters",
    "elasticfilesystem:DescribeFileSystems",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeTargetGroups",
    "kinesis:ListStreams",
    "kms:DescribeKey",
    "kms:ListKeys",
    "lambda:ListFunctions",
    "rds:DescribeDBClusters",
    "rds:DescribeDBInstances",
    "route53:ListHealthChecks",
    "route53:ListHostedZones",
    "route53:ListResourceRecordSets",
    "s3:GetBucketLocation",
    "s3:GetBucketVersioning",
    "s3:GetEncryptionConfiguration",
    "s3:ListAllMyBuckets",
    "s3:ListBucket",
    "secretsmanager:ListSecrets",
    "sns:ListTopics",
    "sqs:GetQueueAttributes",
    "sqs:ListQueues",
    "states:ListStateMachines",
    "sts:GetCallerIdentity",
    "tag:GetResources",
)


@dataclass(frozen=True)
class Grant:
    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...] = ("*",)


def _migrate_grants(spec: Spec | None) -> list[Grant]:
    aws = spec.targets.aws if spec is not None else None
    buckets = [b.name for b in spec.buckets] if spec is not None else []
    zone = aws.resources.hosted_zone_id if aws is not None else None
    db = aws.resources.db_instance if aws is not None else None
    region = aws.region if aws is not None else "*"
    service = spec.service.name if spec is not None else "*"
    bucket_arns = tuple(arn for name in buckets for arn in (f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"))
    return [
        Grant(
            "ReadTheDatabaseInstance",
            ("rds:DescribeDBInstances",),
            (f"arn:aws:rds:{region}:*:db:{db}",) if db else ("*",),
        ),
        # A way back that needs no toolkit: a snapshot of the source before anything changes.
        Grant(
            "SnapshotTheDatabase",
            ("rds:CreateDBSnapshot", "rds:DescribeDBSnapshots", "rds:AddTagsToResource"),
            (f"arn:aws:rds:{region}:*:db:{db}", f"arn:aws:rds:{region}:*:snapshot:toolkit-*")
            if db else ("*",),
        ),
        Grant("CopyTheObjects", ("s3:ListBucket", "s3:GetObject"), bucket_arns or ("*",)),
        # The copy's change feed (toolkit/data/objects/feed.py): the buckets' events to a queue of ours.
        Grant("FollowTheBucketsChanges", ("s3:GetBucketNotification", "s3:PutBucketNotification"),
              tuple(f"arn:aws:s3:::{name}" for name in buckets) or ("*",)),
        Grant("QueueTheChanges",
              ("sqs:CreateQueue", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes", "sqs:GetQueueUrl",
               "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:DeleteQueue"),
              (f"arn:aws:sqs:{region}:*:toolkit-{service}-objects",)),
        Grant(
            "SwitchTheRecords",
            ("route53:ListResourceRecordSets", "route53:ChangeResourceRecordSets"),
            (f"arn:aws:route53:::hostedzone/{zone}",) if zone else ("*",),
        ),
        # Waiting until a change is INSYNC on every Route53 server before the cutover goes on.
        Grant("WaitForTheChange", ("route53:GetChange",), ("arn:aws:route53:::change/*",)),
    ]


POLICIES = ("discover", "migrate")
# Packages whose AWS calls each policy must cover (those that exist are scanned by the tests);
# In them, calls on a client named ``target`` go to
# the bare-metal object store, not to AWS.
CODE: dict[str, tuple[str, ...]] = {
    "discover": ("toolkit/discovery",),
    "migrate": ("toolkit/migration", "toolkit/data", "toolkit/dns", "toolkit/targets/aws/snapshots.py"),
}


def grants(command: str, spec: Spec | None = None) -> list[Grant]:
    if command == "discover":
        return [Grant("ReadTheWholeAccount", DISCOVER_ACTIONS)]
    if command == "migrate":
        return _migrate_grants(spec)
    raise ValueError(f"no IAM policy for {command!r} (one of: {', '.join(POLICIES)})")


def actions(command: str) -> set[str]:
    return {action for grant in grants(command) for action in grant.actions}


def policy_document(command: str, spec: Spec | None = None) -> dict[str, Any]:
    """The IAM policy JSON: attach it to the role or user the command runs as."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": g.sid,
                "Effect": "Allow",
                "Action": sorted(g.actions),
                "Resource": g.resources[0] if len(g.resources) == 1 else list(g.resources),
            }
            for g in grants(command, spec)
        ],
    }


def policy_text(command: str, spec: Spec | None = None) -> str:
    return json.dumps(policy_document(command, spec), indent=2)


def iam_action(service: str, operation: str) -> str:
    """``("elbv2", "DescribeLoadBalancers")`` -> ``"elasticloadbalancing:DescribeLoadBalancers"``."""
    return ACTION_OF.get((service, operation), f"{IAM_PREFIX.get(service, service)}:{operation}")
