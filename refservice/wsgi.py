"""The WSGI entry point for gunicorn: `gunicorn refservice.wsgi:app` (configuration from the environment)."""

import logging

from refservice.app import create_app

# Under gunicorn, route our log records to its error log handlers.
_gunicorn_error = logging.getLogger("gunicorn.error")
if _gunicorn_error.handlers:
    logging.getLogger("refservice").handlers = _gunicorn_error.handlers
    logging.getLogger("refservice").setLevel(_gunicorn_error.level)

app = create_app()
