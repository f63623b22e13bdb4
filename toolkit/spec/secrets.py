"""Secret references: a credential is named by where it lives, never written in the spec."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from toolkit.errors import BadInput


class Secret:
    """A resolved secret value that refuses to show itself in logs, reprs and reports."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


class SecretRef(BaseModel):
    """``{env: NAME}`` or ``{file: PATH}`` (relative paths are relative to the spec's folder)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = None
    file: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _refuse_literals(cls, value: Any) -> Any:
        if isinstance(value, str | int | float | bytes):
            raise PydanticCustomError(
                "literal_secret",
                "a credential must not be written in the spec; reference it as "
                "{env: VARIABLE} or {file: PATH}",
            )
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise PydanticCustomError("invalid_secret_ref",
                                      "a secret reference needs exactly one of env: or file:")
        if self.env is not None and not self.env.strip():
            raise PydanticCustomError("invalid_secret_ref", "env: must name a variable")
        if self.file is not None and not self.file.strip():
            raise PydanticCustomError("invalid_secret_ref", "file: must name a path")
        return self

    def describe(self) -> str:
        return f"environment variable {self.env}" if self.env else f"file {self.file}"

    def path(self, base_dir: Path) -> Path | None:
        if self.file is None:
            return None
        path = Path(self.file).expanduser()
        return path if path.is_absolute() else base_dir / path

    def problem(self, base_dir: Path) -> str | None:
        """Why this reference cannot be resolved right now, or None if it can."""
        if self.env is not None:
            return None if self.env in os.environ else f"environment variable {self.env} is not set"
        path = self.path(base_dir)
        assert path is not None
        if not path.is_file():
            return f"secret file {path} does not exist"
        if not os.access(path, os.R_OK):
            return f"secret file {path} is not readable"
        return None

    def readable_by_others(self, base_dir: Path) -> bool:
        path = self.path(base_dir)
        return path is not None and path.is_file() and bool(path.stat().st_mode & 0o077)

    def resolve(self, base_dir: Path) -> Secret:
        problem = self.problem(base_dir)
        if problem is not None:
            raise BadInput(f"cannot resolve secret: {problem}")
        if self.env is not None:
            return Secret(os.environ[self.env])
        path = self.path(base_dir)
        assert path is not None
        return Secret(path.read_text().rstrip("\r\n"))
