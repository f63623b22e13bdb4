"""Discovery's one door to the AWS APIs: clients, pages, and errors turned into ``Unreadable``.

Every call a reader makes goes through ``call`` or ``pages`` here (clients come from
``toolkit.targets.aws.clients``, the toolkit's one way to create them). Each logical call is
recorded in ``calls`` as (service, operation), before it is sent, so a test can hold the calls
against the IAM policy. Throttling is retried by botocore's standard mode (backoff with
jitter); what still fails becomes ``Unreadable``, which readers turn into a named gap.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any

from toolkit.discovery.iam import iam_action
from toolkit.discovery.inventory import Gap
from toolkit.errors import EnvironmentNotReady
from toolkit.targets.aws.clients import AwsAccess

log = logging.getLogger(__name__)

DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthorizationError",
    "Forbidden",
    "UnauthorizedException",
    "NotAuthorized",
    "AuthorizationErrorException",
}
THROTTLED = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "SlowDown",
    "RequestThrottled",
    "RequestThrottledException",
    "ProvisionedThroughputExceededException",
    "PriorRequestNotComplete",
}


class Unreadable(Exception):
    """A call that could not be answered: denied, throttled past the retries, unreachable."""

    def __init__(self, service: str, operation: str, kind: str, message: str) -> None:
        super().__init__(f"{service} {operation}: {kind}: {message}")
        self.service, self.operation, self.kind, self.message = service, operation, kind, message

    def gap(self, subject: str, region: str) -> Gap:
        return Gap(
            self.service,
            self.operation,
            iam_action(self.service, self.operation),
            subject,
            region,
            self.kind,
            self.message,
        )


class DiscoverySession:
    def __init__(self, access: AwsAccess, *, page_size: int | None = None) -> None:
        self.access = access
        self.page_size = page_size  # None: each API's own default page size
        self.boto = access.session()
        self.calls: Counter[tuple[str, str]] = Counter()
        self._clients: dict[tuple[str, str], Any] = {}
        self.events.register("provide-client-params", self._record)

    @property
    def events(self) -> Any:
        """botocore's event system for every client of this session (tests add hooks here)."""
        return self.boto.events

    def _record(self, model: Any, **_: Any) -> None:
        self.calls[(model.service_model.service_name, model.name)] += 1

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = self.access.client(service, region=region, session=self.boto)
        return self._clients[key]

    def call(
        self, service: str, operation: str, region: str, *, absent: tuple[str, ...] = (), **params: Any
    ) -> dict[str, Any] | None:
        """One call; ``None`` if it failed with an error code in ``absent`` (the thing is not there)."""
        client = self.client(service, region)
        api_name = client.meta.method_to_api_mapping.get(operation, operation)
        try:
            return dict(getattr(client, operation)(**params))
        except Exception as exc:  # classified below; anything unknown re-raised
            code = _code(exc)
            if code is not None and code in absent:
                return None
            unreadable = _unreadable(service, api_name, exc)
            if unreadable is None:
                raise
            raise unreadable from exc

    def pages(self, service: str, operation: str, region: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every page of a paginated call (``page_size`` per page where the API takes a limit)."""
        client = self.client(service, region)
        api_name = client.meta.method_to_api_mapping.get(operation, operation)
        paginator = client.get_paginator(operation)
        config = {}
        if self.page_size and paginator._pagination_cfg.get("limit_key"):
            config["PageSize"] = self.page_size
        try:
            yield from paginator.paginate(**params, PaginationConfig=config)
        except Exception as exc:
            unreadable = _unreadable(service, api_name, exc)
            if unreadable is None:
                raise
            raise unreadable from exc

    def account(self, region: str) -> str | None:
        """The account id; fails the run when no credentials or no endpoint answer at all."""
        try:
            reply = self.call("sts", "get_caller_identity", region)
        except Unreadable as exc:
            if exc.kind in ("no credentials", "unreachable"):
                raise EnvironmentNotReady(f"cannot reach the AWS APIs: {exc.message}") from exc
            log.info("account: %s", exc)
            return None
        return str(reply["Account"]) if reply else None


def _code(exc: Exception) -> str | None:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "")
    return None


def _unreadable(service: str, operation: str, exc: Exception) -> Unreadable | None:
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "")
        message = f"{code}: {error.get('Message') or 'no message'}"
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in DENIED or status == 403:
            return Unreadable(service, operation, "denied", message)
        if code in THROTTLED:
            retries = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
            return Unreadable(service, operation, "throttled", f"{message} (after {retries} retries)")
        return Unreadable(service, operation, "failed", message)
    if isinstance(exc, NoCredentialsError):
        return Unreadable(service, operation, "no credentials", str(exc))
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        return Unreadable(service, operation, "unreachable", str(exc))
    if isinstance(exc, ReadTimeoutError | BotoCoreError):
        return Unreadable(service, operation, "failed", str(exc))
    return None
