"""``ChangeFeed``: the source buckets' change events, so that a pass need not list every object.

Listing the buckets is what a pass costs before any byte moves, and it grows with the number of
objects (moto: about 0.5 s per 1,000 keys; S3: a request per 1,000 keys). Inside the cutover
window that would make the objects' final pass grow with the data. So the follower lists once,
after this feed is open, and afterwards copies only the keys that S3 names in its event
notifications (``s3:ObjectCreated:*``, ``s3:ObjectRemoved:*``) sent to a queue of ours.

On the source it creates two things, both named for the service and removed by ``close`` (the
migration's clean-up and ``replicate --stop`` call it; a second call finds nothing):
- the SQS queue ``toolkit-<service>-objects``, whose policy lets only S3, for these buckets,
  send to it;
- in each bucket's notification configuration, one entry with the Id ``toolkit-<service>-objects``;
  the bucket's other entries are kept as they are.

What it proves and what it does not: an event names a key that changed, never its content (the
copy reads the object as it is then). S3 delivers events at least once and asynchronously, so
the final drain waits until the queue has stayed empty for ``SETTLE_S``; an emulator that sends
them within the write (moto) is drained at once. What an event delivered later still reaches the
target through the listing pass after the window (``ObjectMover.reconcile``).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from toolkit.spec import LoadedSpec
from toolkit.targets.aws.clients import AwsAccess

log = logging.getLogger(__name__)

EVENTS = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
SETTLE_S = 0.3  # the final drain ends after this long without a message
BATCH = 10  # SQS's most messages per receive


@dataclass(frozen=True)
class Change:
    bucket: str
    key: str


class ChangeFeed:
    def __init__(self, loaded: LoadedSpec) -> None:
        self.access = AwsAccess.from_spec(loaded)
        self.buckets = [bucket.name for bucket in loaded.spec.buckets]
        self.name = f"toolkit-{loaded.spec.service.name}-objects"
        self._s3: Any = None
        self._sqs: Any = None
        self.queue_url: str | None = None

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = self.access.client("s3")
        return self._s3

    @property
    def sqs(self) -> Any:
        if self._sqs is None:
            self._sqs = self.access.client("sqs")
        return self._sqs

    def open(self) -> str:
        """The queue and each bucket's notification entry, made or found; returns the queue's URL."""
        url = self.sqs.create_queue(QueueName=self.name)["QueueUrl"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        arn = attributes["Attributes"]["QueueArn"]
        policy = {"Version": "2012-10-17", "Statement": [{
            "Sid": "S3SendsTheBucketsChanges", "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": arn,
            "Condition": {"ArnLike": {"aws:SourceArn": [f"arn:aws:s3:::{b}" for b in self.buckets]}}}]}
        self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
        for bucket in self.buckets:
            config = self._configuration(bucket)
            queues = [q for q in config.get("QueueConfigurations", []) if q.get("Id") != self.name]
            queues.append({"Id": self.name, "QueueArn": arn, "Events": EVENTS})
            self.s3.put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration={**config, "QueueConfigurations": queues})
        self.queue_url = url
        return url

    def receive(self, wait_s: float = 0.0) -> list[Change]:
        """Changes waiting in the queue (at most ``BATCH`` messages' worth), deleted from it once read."""
        assert self.queue_url is not None
        answer = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=BATCH,
                                          WaitTimeSeconds=int(wait_s))
        messages = answer.get("Messages", [])
        changes = [change for message in messages for change in _changes(message.get("Body", ""))]
        if messages:
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
        return changes

    def drain(self) -> list[Change]:
        """Every change the queue holds, until it stayed empty for ``SETTLE_S``."""
        found: list[Change] = []
        quiet_since = time.monotonic()
        while True:
            batch = self.receive()
            if batch:
                found += batch
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= SETTLE_S:
                return found
            else:
                time.sleep(0.05)

    def close(self) -> list[str]:
        """Remove the buckets' entries and the queue; returns what was removed, named."""
        removed = []
        for bucket in self.buckets:
            try:
                config = self._configuration(bucket)
            except ClientError as error:
                log.warning("feed: s3://%s: %s", bucket, error)
                continue
            queues = config.get("QueueConfigurations", [])
            kept = [q for q in queues if q.get("Id") != self.name]
            if len(kept) != len(queues):
                self.s3.put_bucket_notification_configuration(
                    Bucket=bucket, NotificationConfiguration={**config, "QueueConfigurations": kept})
                removed.append(f"s3://{bucket}: notification {self.name}")
        try:
            url = self.sqs.get_queue_url(QueueName=self.name)["QueueUrl"]
        except ClientError:
            url = None  # never made, or removed already
        if url:
            self.sqs.delete_queue(QueueUrl=url)
            removed.append(f"SQS queue {self.name}")
        self.queue_url = None
        return removed

    def _configuration(self, bucket: str) -> dict[str, Any]:
        config = self.s3.get_bucket_notification_configuration(Bucket=bucket)
        return {k: v for k, v in config.items() if k != "ResponseMetadata"}


def _changes(body: str) -> list[Change]:
    """The keys an S3 event message names (S3's own test event names none)."""
    try:
        records = json.loads(body).get("Records", [])
    except (ValueError, AttributeError):
        return []
    # Event keys are URL-encoded, spaces as "+".
    return [Change(r["s3"]["bucket"]["name"], unquote_plus(r["s3"]["object"]["key"]))
            for r in records if "s3" in r]
