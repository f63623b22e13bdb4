"""HTTP routes of the reference service (Flask; served by gunicorn, see `refservice.wsgi`)."""

from __future__ import annotations

import base64
import binascii
import logging

from flask import Flask, Response, jsonify, request

from refservice.config import Settings
from refservice.db import Database
from refservice.errors import BadRequest, RefserviceError, Unavailable
from refservice.notes import NoteInput, Notes
from refservice.objects import ObjectStore

log = logging.getLogger(__name__)

MAX_LIMIT = 1000


def _note_input() -> NoteInput:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    title, body = data.get("title"), data.get("body")
    if not isinstance(title, str) or not isinstance(body, str):
        raise BadRequest("title and body must be strings")
    if isinstance(data.get("file"), str):
        try:
            content = base64.b64decode(data["file"], validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("file must be base64") from None
    elif isinstance(data.get("content"), str):
        content = data["content"].encode()
    else:
        raise BadRequest("give the file as base64 in 'file' or as text in 'content'")
    return NoteInput(title=title, body=body, content=content)


def _int_arg(name: str, default: int) -> int:
    raw = request.args.get(name, "")
    if raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None


def create_app(settings: Settings | None = None, notes: Notes | None = None) -> Flask:
    """Build the app; nothing touches the database or the bucket until a request arrives."""
    if notes is None:
        settings = settings or Settings.from_env()
        notes = Notes(Database(settings), ObjectStore(settings))
    svc = notes
    app = Flask("refservice")
    app.config["MAX_CONTENT_LENGTH"] = 32 * 1024 * 1024

    @app.errorhandler(RefserviceError)
    def _domain_error(exc: RefserviceError) -> tuple[Response, int]:
        if exc.code >= 500:
            log.warning("%s: %s", exc.public, exc)
        return jsonify({"error": exc.public, "reason": str(exc)}), exc.code

    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        try:
            svc.health()
        except Unavailable as exc:
            return jsonify({"status": "unavailable", "reason": str(exc)}), 503
        return jsonify({"status": "ok"}), 200

    @app.post("/notes")
    def create_note() -> tuple[Response, int]:
        return jsonify(svc.create(_note_input())), 201

    @app.get("/notes")
    def list_notes() -> Response:
        limit = _int_arg("limit", 100)
        if not 1 <= limit <= MAX_LIMIT:
            raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}")
        return jsonify(svc.list(_int_arg("after", 0), limit))

    @app.get("/notes/<int:note_id>")
    def get_note(note_id: int) -> Response:
        return jsonify(svc.get(note_id))

    @app.put("/notes/<int:note_id>")
    def update_note(note_id: int) -> Response:
        return jsonify(svc.update(note_id, _note_input()))

    @app.delete("/notes/<int:note_id>")
    def delete_note(note_id: int) -> tuple[Response, int]:
        svc.delete(note_id)
        return jsonify({"id": note_id, "deleted": True}), 200

    @app.get("/digest")
    def digest() -> Response:
        return jsonify(svc.digest())

    return app
