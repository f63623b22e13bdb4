"""Seeds for a moto account: a service the toolkit can carry, beside services it cannot.

``seed_account`` makes the shop service (an ALB in front of EC2 app servers in an Auto Scaling
group, RDS for PostgreSQL, S3 buckets, a Route53 zone whose apex is an alias to the ALB) and next
to it DynamoDB, SQS, SNS, Lambda, Cognito, ElastiCache, CloudFront, KMS (a bucket encrypted with
it), Secrets Manager, an Aurora cluster, a MySQL instance and an EventBridge bus (a service no reader
knows, found through the tagging API). It returns what it made.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from tests.fixtures.moto import moto_client

REGION = "us-east-1"
ZONE = "shop.example."
SECRET_VALUE = "secretsmanager-value-never-read"
UNSUPPORTED = ("DynamoDB", "SQS", "SNS", "Lambda", "Cognito")
ALTERNATIVES = ("ElastiCache", "CloudFront", "KMS", "Secrets Manager", "Aurora", "RDS (other)")


def seed_account(endpoint: str) -> dict[str, Any]:
    def client(service: str) -> Any:
        return moto_client(endpoint, service, REGION)

    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.40.{i}.0/24", AvailabilityZone=f"{REGION}{z}")["Subnet"][
            "SubnetId"
        ]
        for i, z in ((1, "a"), (2, "b"))
    ]
    group = ec2.create_security_group(GroupName="shop-app", Description="app servers", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8001, "IpRanges": [{"CidrIp": "10.40.0.0/16"}]}
        ],
    )
    image = ec2.describe_images()["Images"][0]["ImageId"]
    ec2.run_instances(
        ImageId=image,
        MinCount=2,
        MaxCount=2,
        InstanceType="t3.small",
        SubnetId=subnets[0],
        SecurityGroupIds=[group],
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "shop-app"}]}],
    )

    elbv2 = client("elbv2")
    alb = elbv2.create_load_balancer(Name="shop-alb", Subnets=subnets, Type="application")["LoadBalancers"][0]
    elbv2.create_target_group(
        Name="shop-app", Protocol="HTTP", Port=8000, VpcId=vpc, HealthCheckPath="/health"
    )
    autoscaling = client("autoscaling")
    autoscaling.create_launch_configuration(
        LaunchConfigurationName="shop-app", ImageId=image, InstanceType="t3.small"
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="shop-app",
        LaunchConfigurationName="shop-app",
        MinSize=0,
        MaxSize=4,
        DesiredCapacity=0,
        AvailabilityZones=[f"{REGION}a"],
    )

    kms = client("kms")
    key = kms.create_key(Description="shop data")["KeyMetadata"]["KeyId"]
    rds = client("rds")
    rds.create_db_instance(
        DBInstanceIdentifier="shop-db",
        Engine="postgres",
        EngineVersion="15.4",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        DBName="shop",
        MasterUsername="shop_admin",
        MasterUserPassword="never-read-1234",
        Port=5432,
    )
    rds.create_db_instance(
        DBInstanceIdentifier="legacy-mysql",
        Engine="mysql",
        EngineVersion="8.0.35",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=5,
        MasterUsername="admin",
        MasterUserPassword="never-read-1234",
    )
    rds.create_db_cluster(
        DBClusterIdentifier="analytics",
        Engine="aurora-postgresql",
        EngineVersion="15.4",
        MasterUsername="analytics",
        MasterUserPassword="never-read-1234",
    )

    s3 = client("s3")
    objects = {"shop-files": [b"x" * 1000, b"y" * 2345], "shop-private": [b"z" * 4096]}
    for bucket, bodies in objects.items():
        s3.create_bucket(Bucket=bucket)
        for index, body in enumerate(bodies):
            s3.put_object(Bucket=bucket, Key=f"objects/{index}", Body=body)
    s3.put_bucket_versioning(Bucket="shop-files", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket="shop-private",
        ServerSideEncryptionConfiguration={
            "Rules": [
                {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}
            ]
        },
    )

    route53 = client("route53")
    zone_id = route53.create_hosted_zone(Name=ZONE, CallerReference="shop")["HostedZone"]["Id"].split("/")[-1]
    changes = [
        {
            "Name": ZONE,
            "Type": "A",
            "AliasTarget": {
                "HostedZoneId": alb["CanonicalHostedZoneId"],
                "DNSName": alb["DNSName"],
                "EvaluateTargetHealth": False,
            },
        },
        {"Name": f"www.{ZONE}", "Type": "CNAME", "TTL": 300, "ResourceRecords": [{"Value": ZONE}]},
        {"Name": ZONE, "Type": "MX", "TTL": 3600, "ResourceRecords": [{"Value": f"10 mail.{ZONE}"}]},
        {"Name": ZONE, "Type": "TXT", "TTL": 3600, "ResourceRecords": [{"Value": '"v=spf1 -all"'}]},
        {"Name": f"mail.{ZONE}", "Type": "A", "TTL": 600, "ResourceRecords": [{"Value": "192.0.2.25"}]},
    ]
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": c} for c in changes]},
    )

    dynamodb = client("dynamodb")
    dynamodb.create_table(
        TableName="shop-carts",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for index in range(3):
        dynamodb.put_item(TableName="shop-carts", Item={"id": {"S": f"cart-{index}"}})
    queue = client("sqs").create_queue(QueueName="shop-orders")["QueueUrl"]
    client("sqs").send_message(QueueUrl=queue, MessageBody="order 1")
    client("sns").create_topic(Name="shop-events")
    role = client("iam").create_role(
        RoleName="shop-lambda",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sts:AssumeRole",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    client("lambda").create_function(
        FunctionName="shop-resize",
        Runtime="python3.12",
        Role=role,
        Handler="main.handler",
        Code={"ZipFile": _zip("def handler(e, c): pass\n")},
        Environment={"Variables": {"API_TOKEN": SECRET_VALUE}},
    )
    client("cognito-idp").create_user_pool(PoolName="shop-users")
    client("elasticache").create_cache_cluster(
        CacheClusterId="shop-cache", Engine="redis", CacheNodeType="cache.t3.micro", NumCacheNodes=1
    )
    client("cloudfront").create_distribution(
        DistributionConfig={
            "CallerReference": "shop",
            "Comment": "shop",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "files",
                        "DomainName": "shop-files.s3.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "files",
                "ViewerProtocolPolicy": "redirect-to-https",
                "MinTTL": 0,
                "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                "TrustedSigners": {"Enabled": False, "Quantity": 0},
            },
        }
    )
    client("events").create_event_bus(Name="shop-bus", Tags=[{"Key": "service", "Value": "shop"}])
    client("secretsmanager").create_secret(Name="shop/api", SecretString=SECRET_VALUE)
    return {
        "zone_id": zone_id,
        "alb": alb["DNSName"],
        "kms_key": key,
        "bucket_bytes": {b: sum(map(len, bodies)) for b, bodies in objects.items()},
    }


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("main.py", source)
    return buffer.getvalue()
