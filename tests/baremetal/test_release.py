"""The app's code as one archive: source files only, reproducible, owned by root."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

from toolkit.targets.baremetal.release import FIXED_MTIME, build_release


def source_tree(root: Path) -> Path:
    app = root / "app"
    (app / "pkg" / "__pycache__").mkdir(parents=True)
    (app / "__init__.py").write_text("")
    (app / "main.py").write_text("print('hello')\n")
    (app / "pkg" / "module.py").write_text("VALUE = 1\n")
    (app / "pkg" / "module.pyc").write_bytes(b"\x00stale")
    (app / "pkg" / "__pycache__" / "module.cpython-311.pyc").write_bytes(b"\x00stale")
    (app / "templates").mkdir()
    (app / "templates" / "page.html").write_text("<p>hi</p>\n")
    os.symlink("/etc/passwd", app / "link")
    (app / "main.py").chmod(0o700)
    return app


def test_source_files_only_owned_by_root_with_fixed_modes(tmp_path: Path) -> None:
    release = build_release(source_tree(tmp_path), tmp_path)
    with tarfile.open(release.path) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert sorted(members) == ["__init__.py", "main.py", "pkg", "pkg/module.py", "templates",
                                   "templates/page.html"]
        assert all(m.uid == 0 and m.gid == 0 and m.uname == "root" for m in members.values())
        assert all(m.mtime == FIXED_MTIME for m in members.values())
        modes = {m.name: oct(m.mode) for m in members.values()}
        assert {name: modes[name] for name in ("pkg", "templates")} == {"pkg": "0o755", "templates": "0o755"}
        assert {oct(m.mode) for m in members.values() if m.isfile()} == {"0o644"}
        extracted = tar.extractfile("main.py")
        assert extracted is not None and extracted.read() == b"print('hello')\n"
    assert release.files == 4
    assert release.path.name == "app.tar.gz"


def test_same_content_same_bytes(tmp_path: Path) -> None:
    app = source_tree(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = build_release(app, tmp_path / "a")
    os.utime(app / "main.py", (1, 1))  # a fresh checkout: other times, same content
    second = build_release(app, tmp_path / "b")
    assert first.sha256 == second.sha256
    assert first.path.read_bytes() == second.path.read_bytes()
    (app / "main.py").write_text("print('changed')\n")
    (tmp_path / "c").mkdir()
    assert build_release(app, tmp_path / "c").sha256 != first.sha256
