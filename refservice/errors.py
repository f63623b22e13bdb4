"""Errors of the reference service; each carries the HTTP status it maps to."""


class RefserviceError(Exception):
    """Base class of the reference service's errors."""

    code = 500
    public = "internal error"


class ConfigError(RefserviceError):
    """The environment does not describe a usable configuration."""


class BadRequest(RefserviceError):
    """The request body or parameters are invalid."""

    code = 400
    public = "bad request"


class NotFound(RefserviceError):
    """The note does not exist."""

    code = 404
    public = "not found"


class WritesRefused(RefserviceError):
    """A write was not applied: the database is read-only, frozen or unreachable, or S3 failed first."""

    code = 503
    public = "writes refused"


class OutcomeUnknown(RefserviceError):
    """The connection broke while committing, so the write may or may not have been applied."""

    code = 503
    public = "outcome unknown"


class Unavailable(RefserviceError):
    """A read could not be served because a backing store is unreachable."""

    code = 503
    public = "unavailable"
