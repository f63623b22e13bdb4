"""Managed services the toolkit cannot carry: each is listed, with its data volume where told.

Each ``Listing`` names one list call and where its items are; ``detail`` hooks add sizes and
encryption from a describe call. Everything found here goes to the lock-in report; none of it
goes into the draft spec, because no bare-metal role realizes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from toolkit.discovery.base import Reader
from toolkit.discovery.inventory import Resource


@dataclass(frozen=True)
class Listing:
    service: str
    operation: str
    type: str  # CloudFormation type
    items: str  # key of the list in each page
    name: Callable[[Any], str]
    params: tuple[tuple[str, Any], ...] = ()
    is_global: bool = False


def _key(name: str) -> Callable[[Any], str]:
    return lambda item: str(item[name])


LISTINGS: tuple[Listing, ...] = (
    Listing("dynamodb", "list_tables", "AWS::DynamoDB::Table", "TableNames", str),
    Listing("sqs", "list_queues", "AWS::SQS::Queue", "QueueUrls", lambda url: str(url).rsplit("/", 1)[-1]),
    Listing(
        "sns", "list_topics", "AWS::SNS::Topic", "Topics", lambda t: str(t["TopicArn"]).rsplit(":", 1)[-1]
    ),
    Listing("lambda", "list_functions", "AWS::Lambda::Function", "Functions", _key("FunctionName")),
    Listing(
        "cognito-idp",
        "list_user_pools",
        "AWS::Cognito::UserPool",
        "UserPools",
        _key("Id"),
        params=(("MaxResults", 60),),
    ),
    Listing(
        "elasticache",
        "describe_cache_clusters",
        "AWS::ElastiCache::CacheCluster",
        "CacheClusters",
        _key("CacheClusterId"),
    ),
    Listing("kms", "list_keys", "AWS::KMS::Key", "Keys", _key("KeyId")),
    Listing(
        "acm",
        "list_certificates",
        "AWS::CertificateManager::Certificate",
        "CertificateSummaryList",
        _key("DomainName"),
    ),
    Listing("secretsmanager", "list_secrets", "AWS::SecretsManager::Secret", "SecretList", _key("Name")),
    Listing("efs", "describe_file_systems", "AWS::EFS::FileSystem", "FileSystems", _key("FileSystemId")),
    Listing("kinesis", "list_streams", "AWS::Kinesis::Stream", "StreamNames", str),
    Listing(
        "stepfunctions",
        "list_state_machines",
        "AWS::StepFunctions::StateMachine",
        "stateMachines",
        _key("name"),
    ),
    Listing("apigateway", "get_rest_apis", "AWS::ApiGateway::RestApi", "items", _key("name")),
    Listing("apigatewayv2", "get_apis", "AWS::ApiGatewayV2::Api", "Items", _key("Name")),
)
CLOUDFRONT = Listing(
    "cloudfront", "list_distributions", "AWS::CloudFront::Distribution", "Items", _key("Id"), is_global=True
)


class ManagedServicesReader(Reader):
    SUBJECT = "managed services"

    def populate(self, region: str) -> None:
        for listing in LISTINGS:
            with self.tolerate(listing.type.split("::")[1] + " resources", region):
                self._list(listing, region)

    def _list(self, listing: Listing, region: str) -> None:
        pages = self.pages(listing.service, listing.operation, region, **dict(listing.params))
        for page in pages:
            for item in _items(page, listing):
                # Only chosen fields are kept: a listing can carry secrets (Lambda's environment).
                resource = Resource(listing.type, listing.name(item), region)
                detail = DETAILS.get(listing.type)
                if detail is not None:
                    with self.tolerate(f"{listing.type} {resource.name}", region):
                        if not detail(self, resource, item):
                            continue  # not the account's own (an AWS-managed key)
                self.inventory.add(resource)


class CloudFrontReader(ManagedServicesReader):
    SUBJECT = "CloudFront distributions"
    GLOBAL = True

    def populate(self, region: str) -> None:
        self._list(CLOUDFRONT, region)


def _items(page: dict[str, Any], listing: Listing) -> list[Any]:
    if listing.service == "cloudfront":
        page = page.get("DistributionList", {})
    return list(page.get(listing.items, []) or [])


def _dynamodb(reader: Reader, resource: Resource, name: Any) -> bool:
    table = (reader.call("dynamodb", "describe_table", resource.region, TableName=name) or {}).get(
        "Table", {}
    )
    resource.bytes, resource.items = int(table.get("TableSizeBytes", 0)), int(table.get("ItemCount", 0))
    resource.size_source = "DescribeTable (updated about every six hours)"
    sse = table.get("SSEDescription") or {}
    resource.properties = {"kms_key": sse.get("KMSMasterKeyArn")} if sse.get("SSEType") == "KMS" else {}
    return True


def _sqs(reader: Reader, resource: Resource, url: Any) -> bool:
    attributes = (
        reader.call(
            "sqs",
            "get_queue_attributes",
            resource.region,
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "KmsMasterKeyId"],
        )
        or {}
    ).get("Attributes", {})
    resource.items = int(attributes.get("ApproximateNumberOfMessages", 0))
    resource.properties = {"url": url, "kms_key": attributes.get("KmsMasterKeyId")}
    return True


def _cognito(reader: Reader, resource: Resource, item: Any) -> bool:
    pool = (
        reader.call("cognito-idp", "describe_user_pool", resource.region, UserPoolId=item["Id"]) or {}
    ).get("UserPool", {})
    resource.items = int(pool.get("EstimatedNumberOfUsers", 0))
    resource.properties = {"name": pool.get("Name", item.get("Name"))}
    return True


def _kms(reader: Reader, resource: Resource, item: Any) -> bool:
    key = (reader.call("kms", "describe_key", resource.region, KeyId=item["KeyId"]) or {}).get(
        "KeyMetadata", {}
    )
    resource.properties = {
        "arn": key.get("Arn"),
        "manager": key.get("KeyManager"),
        "state": key.get("KeyState"),
        "description": key.get("Description", ""),
    }
    return key.get("KeyManager") == "CUSTOMER" and key.get("KeyState") != "PendingDeletion"


def _efs(reader: Reader, resource: Resource, item: Any) -> bool:
    resource.bytes = int((item.get("SizeInBytes") or {}).get("Value", 0))
    resource.size_source = "SizeInBytes"
    resource.properties = {"encrypted": item.get("Encrypted"), "kms_key": item.get("KmsKeyId")}
    return True


def _lambda(reader: Reader, resource: Resource, item: Any) -> bool:
    resource.properties = {"runtime": item.get("Runtime"), "code_size": item.get("CodeSize")}
    return True


def _acm(reader: Reader, resource: Resource, item: Any) -> bool:
    resource.properties = {"Type": item.get("Type", "AMAZON_ISSUED"), "arn": item.get("CertificateArn")}
    return True


DETAILS: dict[str, Callable[[Reader, Resource, Any], bool]] = {
    "AWS::DynamoDB::Table": _dynamodb,
    "AWS::SQS::Queue": _sqs,
    "AWS::Cognito::UserPool": _cognito,
    "AWS::KMS::Key": _kms,
    "AWS::EFS::FileSystem": _efs,
    "AWS::Lambda::Function": _lambda,
    "AWS::CertificateManager::Certificate": _acm,
}
