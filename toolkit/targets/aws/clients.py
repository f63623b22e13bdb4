"""The one way the toolkit creates boto3 clients: region, endpoint, credentials, retries.

``AwsAccess`` carries what a spec's ``targets.aws`` says about reaching the AWS APIs (or what
the command line gives instead). Credentials stay ``Secret``s until the client is created; with
none, boto3's own chain applies (environment, profile, instance role). Throttling is retried
by botocore's "standard" mode: exponential backoff with jitter, ``max_attempts`` in all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from toolkit.spec import LoadedSpec, Secret

DEFAULT_ATTEMPTS = 5


@dataclass(frozen=True)
class AwsAccess:
    region: str
    endpoint: str | None = None  # an emulator or a private endpoint; None: AWS itself
    access_key_id: Secret | None = None
    secret_access_key: Secret | None = None
    max_attempts: int = DEFAULT_ATTEMPTS  # in all, the first one included

    @classmethod
    def from_spec(
        cls, loaded: LoadedSpec, *, region: str | None = None, endpoint: str | None = None
    ) -> AwsAccess:
        """From ``targets.aws``; ``region``/``endpoint`` given here win over the spec's."""
        from toolkit.errors import BadInput

        aws = loaded.spec.targets.aws
        if aws is None:
            raise BadInput(f"{loaded.path}: the spec has no targets.aws section")
        key = secret = None
        if aws.credentials is not None:
            key = aws.credentials.access_key_id.resolve(loaded.base_dir)
            secret = aws.credentials.secret_access_key.resolve(loaded.base_dir)
        return cls(
            region=region or aws.region,
            endpoint=endpoint or aws.endpoint,
            access_key_id=key,
            secret_access_key=secret,
        )

    def session(self) -> Any:
        """A fresh boto3 session (its own event system: hooks registered on it stay on it)."""
        import boto3

        if self.access_key_id is None or self.secret_access_key is None:
            return boto3.session.Session(region_name=self.region)
        return boto3.session.Session(
            region_name=self.region,
            aws_access_key_id=self.access_key_id.reveal(),
            aws_secret_access_key=self.secret_access_key.reveal(),
        )

    def client(self, service: str, *, region: str | None = None, session: Any = None) -> Any:
        from botocore.config import Config

        config = Config(
            retries={"mode": "standard", "total_max_attempts": self.max_attempts},
            # An emulator or private endpoint has no per-bucket host names.
            s3={"addressing_style": "path"} if self.endpoint else {},
            user_agent_extra="toolkit",
        )
        return (session or self.session()).client(
            service, region_name=region or self.region, endpoint_url=self.endpoint, config=config
        )
