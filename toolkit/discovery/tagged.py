"""Every other service in use: resources the tagging API knows, of services no reader covers.

The Resource Groups Tagging API lists tagged resources of almost every service in one paginated
call. A resource of a service that has no reader here (EventBridge, OpenSearch, ECS, ...) is
added under a type made from its ARN, which the lock-in table does not know: the report lists it
for review. Untagged resources of such services stay unseen; the report says so.
"""

from __future__ import annotations

import re

from toolkit.discovery.base import Reader
from toolkit.discovery.inventory import Resource

# ARN service names that the other readers read in full.
READ_ELSEWHERE = {
    "ec2",
    "autoscaling",
    "elasticloadbalancing",
    "rds",
    "s3",
    "route53",
    "dynamodb",
    "sqs",
    "sns",
    "lambda",
    "cognito-idp",
    "elasticache",
    "cloudfront",
    "kms",
    "acm",
    "secretsmanager",
    "elasticfilesystem",
    "kinesis",
    "states",
    "apigateway",
}


class TaggedResourcesReader(Reader):
    SUBJECT = "other tagged resources"

    def populate(self, region: str) -> None:
        for page in self.pages("resourcegroupstaggingapi", "get_resources", region):
            for mapping in page.get("ResourceTagMappingList", []):
                resource = from_arn(str(mapping["ResourceARN"]), region)
                if resource is not None:
                    self.inventory.add(resource)


def from_arn(arn: str, region: str) -> Resource | None:
    """``arn:aws:events:r:a:event-bus/shop`` -> ``AWS::events::EventBus`` named ``shop``."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[2] in READ_ELSEWHERE:
        return None
    service, rest = parts[2], parts[5]
    match = re.match(r"^(?P<kind>[^/:]+)[/:](?P<name>.+)$", rest)
    kind, name = (match["kind"], match["name"]) if match else (rest, rest)
    camel = "".join(word.capitalize() for word in re.split(r"[^A-Za-z0-9]+", kind) if word) or "Resource"
    service_token = re.sub(r"[^A-Za-z0-9]", "", service)
    return Resource(f"AWS::{service_token}::{camel}", name or rest, parts[3] or region, {"arn": arn})
