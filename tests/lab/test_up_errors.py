"""A failing ``lab up`` adds what it left behind to the error, and keeps the error as it was.

No root needed: everything before the build is replaced, and the build itself raises.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from toolkit.cli import main
from toolkit.errors import BadInput, CheckFailed, EnvironmentNotReady, ToolkitError
from toolkit.lab import api
from toolkit.spec import IssueKind, SpecError, SpecIssue
from toolkit.ssh import HostKeyRejected
from toolkit.targets.baremetal.preflight import PreflightFailed

LAB = "unit-up-fails"
SPEC_ISSUES = [
    SpecIssue(IssueKind.INVALID_VALUE, "must be <= 65535 (got 99999)", "service.yaml", 12, 9, "app.port"),
    SpecIssue(IssueKind.UNKNOWN_FIELD, "unknown field 'helth_path'", "service.yaml", 15, 3, "app.helth_path"),
]

# Every kind of error the build can raise, with the lines the user must see.
ERRORS: dict[str, tuple[Callable[[], BaseException], list[str]]] = {
    "BadInput": (lambda: BadInput("bad input here"), ["error: bad input here"]),
    "CheckFailed": (lambda: CheckFailed("moto did not answer"), ["error: moto did not answer"]),
    "EnvironmentNotReady": (lambda: EnvironmentNotReady("no image"), ["error: no image"]),
    "HostKeyRejected": (lambda: HostKeyRejected("bm1: host key changed"), ["error: bm1: host key changed"]),
    # A message of several lines, which type(exc)(message) turned into one character per line.
    "SpecError": (lambda: SpecError(SPEC_ISSUES), [str(issue) for issue in SPEC_ISSUES]),
    # A constructor that takes no message, which type(exc)(message) could not even call.
    "PreflightFailed": (lambda: PreflightFailed({"bm2": "connection refused", "bm1": "no sudo"}),
                        ["error: preflight failed, no host was changed:", "  bm1: no sudo",
                         "  bm2: connection refused"]),
}


@pytest.fixture
def failing_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[BaseException], None]:
    """``api.up`` runs without root or tools up to ``_build``, which raises the given error."""
    monkeypatch.setenv("TOOLKIT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(api, "_preflight", lambda name: None)
    monkeypatch.setattr(api, "_leftovers", lambda names, directory: False)
    monkeypatch.setattr(api.image, "ensure_image", lambda: tmp_path / "rootfs")
    monkeypatch.setattr(api.image, "cached_binary", lambda name: tmp_path / name)
    monkeypatch.setattr(api.network, "links", lambda: [])
    monkeypatch.setattr(api.network, "addresses_in_reserved_range", lambda: [])

    def arm(error: BaseException) -> None:
        def build(*args: object) -> None:
            raise error

        monkeypatch.setattr(api, "_build", build)

    return arm


def hint(note: str) -> bool:
    return f"lab {LAB} is left as it is" in note and f"toolkit lab down --name {LAB}" in note


@pytest.mark.parametrize("kind", list(ERRORS))
def test_the_same_error_comes_out_with_a_note(kind: str,
                                              failing_build: Callable[[BaseException], None]) -> None:
    make, _ = ERRORS[kind]
    error, fresh = make(), make()
    failing_build(error)
    with pytest.raises(ToolkitError) as caught:
        api.up(LAB, 1)
    assert caught.value is error
    assert str(caught.value) == str(fresh)  # the message is untouched
    if isinstance(error, SpecError):
        assert caught.value.issues == SPEC_ISSUES  # type: ignore[attr-defined]
    if isinstance(error, PreflightFailed):
        assert caught.value.problems == {"bm2": "connection refused", "bm1": "no sudo"}  # type: ignore[attr-defined]
    [note] = caught.value.__notes__
    assert hint(note)


@pytest.mark.parametrize("kind", list(ERRORS))
def test_the_cli_shows_the_message_then_the_note(kind: str, failing_build: Callable[[BaseException], None],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    make, expected = ERRORS[kind]
    error = make()
    failing_build(error)
    with pytest.raises(SystemExit) as exit_info:
        main(["lab", "up", "--name", LAB, "--hosts", "1", "--json"])
    assert exit_info.value.code == error.exit_code  # type: ignore[attr-defined]
    # Progress lines come first (plain, off a terminal); the error and its note follow them.
    lines = [line for line in capsys.readouterr().err.splitlines()
             if not line.endswith(": started") and ": done in " not in line and ": FAILED: " not in line]
    assert lines[:len(expected)] == expected
    assert len(lines) == len(expected) + 1 and lines[-1].startswith("note: ") and hint(lines[-1])
    assert "Traceback" not in "\n".join(lines)


def test_an_unexpected_error_keeps_its_traceback_and_gets_the_note(
        failing_build: Callable[[BaseException], None]) -> None:
    error = OSError(28, "No space left on device")
    failing_build(error)
    with pytest.raises(OSError) as caught:
        api.up(LAB, 1)
    assert caught.value is error and caught.value.errno == 28
    assert hint(caught.value.__notes__[0])
