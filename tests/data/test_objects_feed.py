"""The source buckets' change feed against moto over HTTP: events name the keys written, the
bucket's other notifications survive, and ``close`` removes exactly what ``open`` made."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.moto import moto_client
from toolkit.data.objects.feed import Change, ChangeFeed
from toolkit.data.objects.remote.manifest import Entry, Listed, plan
from toolkit.spec import load_spec
from toolkit.targets.aws.clients import AwsAccess


def test_the_feed_names_written_keys_and_leaves_no_trace(spec_dir: Path, moto_server: str) -> None:
    feed = ChangeFeed(load_spec(spec_dir / "service.yaml"))
    feed.access = AwsAccess(region="us-east-1", endpoint=moto_server)
    s3, sqs = moto_client(moto_server, "s3"), moto_client(moto_server, "sqs")
    theirs = sqs.create_queue(QueueName="the-services-own")["QueueUrl"]
    their_arn = sqs.get_queue_attributes(QueueUrl=theirs, AttributeNames=["QueueArn"])["Attributes"]
    their_arn = their_arn["QueueArn"]
    bucket = feed.buckets[0]
    s3.create_bucket(Bucket=bucket)
    theirs_config = {"Id": "theirs", "QueueArn": their_arn, "Events": ["s3:ObjectCreated:*"],
                     "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}}}
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [theirs_config]})

    feed.open()
    feed.open()  # a resumed run opens it again: still one entry of ours
    entries = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert sorted(e["Id"] for e in entries) == ["theirs", feed.name]
    feed.drain()  # S3's test event, if the store sends one
    for key in ("a b+c/ü.txt", "plain", "plain"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    changes = feed.drain()
    assert sorted(set(changes), key=lambda c: c.key) == [Change(bucket, "a b+c/ü.txt"),
                                                         Change(bucket, "plain")]
    assert feed.drain() == []  # read once: deleted from the queue

    removed = feed.close()
    assert removed == [f"s3://{bucket}: notification {feed.name}", f"SQS queue {feed.name}"]
    entries = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert [e["Id"] for e in entries] == ["theirs"]
    assert feed.name not in str(sqs.list_queues().get("QueueUrls", []))
    assert feed.close() == []  # twice is safe


def entry(key: str, size: int = 1, etag: str = "t") -> Entry:
    return Entry("b", key, size, "0" * 64, "", source_etag="s", source_last_modified="m", target_etag=etag)


def listed(key: str, size: int = 1, etag: str = "s") -> Listed:
    return Listed("b", key, size, etag, "m")


def test_a_plan_after_writes_opened_spares_what_the_target_wrote() -> None:
    known = {("b", k): entry(k) for k in ("same", "rewritten-there", "deleted-here", "deleted-both")}
    source = [listed("same"), listed("rewritten-there", etag="s2"), listed("new-here"), listed("clash")]
    target = [Listed("b", "same", 1, "t", ""), Listed("b", "rewritten-there", 9, "t9", ""),
              Listed("b", "deleted-here", 1, "t", ""), Listed("b", "clash", 5, "x", "")]
    spared = plan(source, known, target, spare_target=True)
    assert [item.key for item in spared.copy] == ["new-here"]
    assert [e.key for e in spared.gone] == ["deleted-here"]  # "deleted-both" is gone from the target already
    everything = plan(source, known, target)
    assert sorted(item.key for item in everything.copy) == ["clash", "new-here", "rewritten-there"]
