"""How discovery reaches the account, and how the draft will: from the user's spec, or from boto3's
own settings (its credential chain, ``$AWS_REGION``, ``$AWS_ENDPOINT_URL``)."""

from __future__ import annotations

import os

from toolkit.discovery.draft import Wiring
from toolkit.spec import LoadedSpec
from toolkit.targets.aws.clients import AwsAccess


def connect(
    loaded: LoadedSpec | None, *, region: str | None, endpoint: str | None
) -> tuple[AwsAccess, Wiring]:
    endpoint = endpoint or os.environ.get("AWS_ENDPOINT_URL") or None
    credentials: dict[str, dict[str, str]] | None = None
    if loaded is not None:
        access = AwsAccess.from_spec(loaded, region=region, endpoint=endpoint)
        aws = loaded.spec.targets.aws
        if aws is not None and aws.credentials is not None:
            pairs = (
                ("access_key_id", aws.credentials.access_key_id),
                ("secret_access_key", aws.credentials.secret_access_key),
            )
            # File references are relative to the user's spec; the draft may live elsewhere.
            credentials = {
                key: {"file": str(ref.path(loaded.base_dir))} if ref.file else {"env": str(ref.env)}
                for key, ref in pairs
            }
    else:
        default = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        access = AwsAccess(region=region or default, endpoint=endpoint)
        if os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY"):
            credentials = {
                "access_key_id": {"env": "AWS_ACCESS_KEY_ID"},
                "secret_access_key": {"env": "AWS_SECRET_ACCESS_KEY"},
            }
    wiring = Wiring(
        region=access.region,
        endpoint=access.endpoint,
        credentials=credentials,
        user_spec=loaded.spec if loaded is not None else None,
    )
    return access, wiring
