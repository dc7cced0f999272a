"""Atomic writes: a failure mid-write leaves the old file, and JSON is strict."""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from videoadviser.errors import ConfigError, DataError
from videoadviser.utils.io import (
    atomic_open,
    atomic_path,
    check_output_file,
    csv_header,
    current_umask,
    read_json,
    read_user_text,
    staged_folder,
    write_csv,
    write_json,
    write_text,
)
from videoadviser.utils.ownership import STUDENT_MODEL


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "result.json"
    write_json(target, {"ok": 1})
    with pytest.raises(RuntimeError):
        with atomic_open(target) as handle:
            handle.write(b'{"half": ')
            raise RuntimeError("crash mid-write")
    assert read_json(target) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # no temp file left


def test_json_is_strict_and_numpy_aware(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b.json"
    write_json(target, {"x": np.float32(0.5), "y": np.arange(2), "nan": math.nan, "p": tmp_path})
    loaded = json.loads(target.read_text())
    assert loaded == {"x": 0.5, "y": [0, 1], "nan": None, "p": str(tmp_path)}


def test_csv(tmp_path: Path) -> None:
    target = tmp_path / "t.csv"
    write_csv(target, [{"a": 1, "b": np.float64(2.5)}, {"a": 3}], ["a", "b"])
    assert target.read_text() == "a,b\n1,2.5\n3,\n"


@pytest.fixture(params=[0o022, 0o077, 0o002])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """Run the test under this umask, then put the old one back."""
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_umask_is_read_without_changing_it(umask: int) -> None:
    assert current_umask() == umask
    assert current_umask() == umask


def test_files_and_folders_get_the_modes_the_umask_gives(umask: int, tmp_path: Path) -> None:
    write_json(tmp_path / "results.json", {"ok": 1})
    with atomic_path(tmp_path / "features.h5") as tmp:
        tmp.write_bytes(b"data")  # as a library writing by file name would
    with staged_folder(tmp_path / "best", STUDENT_MODEL) as staging:
        write_text(staging / "config.json", "{}")
        (staging / "sub").mkdir()  # what a library makes inside gets its own umask modes
        (staging / "model.safetensors").write_bytes(b"w")
        os.chmod(staging / "model.safetensors", 0o600)  # as safetensors' save_file makes it
    assert _mode(tmp_path / "results.json") == 0o666 & ~umask
    assert _mode(tmp_path / "features.h5") == 0o666 & ~umask
    assert _mode(tmp_path / "best") == 0o777 & ~umask
    assert _mode(tmp_path / "best" / "config.json") == 0o666 & ~umask
    assert _mode(tmp_path / "best" / "sub") == 0o777 & ~umask
    assert _mode(tmp_path / "best" / "model.safetensors") == 0o666 & ~umask
    if umask == 0o022:  # what the issue asked for
        assert (_mode(tmp_path / "results.json"), _mode(tmp_path / "best")) == (0o644, 0o755)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16"])
def test_user_text_in_utf8_with_or_without_a_bom_or_utf16(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "texts.txt"
    path.write_bytes("héllo\r\nwörld\n".encode(encoding))
    assert read_user_text(path) == "héllo\r\nwörld\n"  # line endings kept, no BOM


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_latin1_user_text_names_line_byte_and_the_fix(tmp_path: Path, bom: bytes) -> None:
    path = tmp_path / "recipe.toml"
    path.write_bytes(bom + "a = 1\nname = 'ü café'\n".encode() + "'café'\n".encode("latin-1"))
    byte = len(bom) + len("a = 1\nname = 'ü café'\n'caf".encode())
    with pytest.raises(ConfigError) as caught:
        read_user_text(path, ConfigError)
    message = str(caught.value)
    assert message.startswith(f"{path}:3: not UTF-8 text (byte {byte} is b'\\xe9', column 5 ")
    assert "save the file as UTF-8" in message and "iconv -f latin1 -t utf-8" in message
    path.write_bytes(bom + b"caf\xe9")  # on the first line the mark is no column
    with pytest.raises(DataError, match=rf"recipe.toml:1: .*byte {len(bom) + 3} .*, column 4 of"):
        read_user_text(path)


def test_broken_utf16_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "label.csv"
    path.write_bytes(b"\xff\xfea\x00\x00\xd8")  # a lone surrogate at the end
    with pytest.raises(DataError, match="not valid UTF-16 text"):
        read_user_text(path)


@pytest.mark.parametrize(("text", "line"), [('{"seeds": [1, 2', 1), ("{\n\n  ]\n", 3)])
def test_damaged_json_is_a_data_error_naming_the_line(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "results.json"
    path.write_text(text)
    with pytest.raises(DataError, match=rf"results.json:{line}: not valid JSON .*cut short"):
        read_json(path)


def test_a_file_output_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--out .*: is a folder; give a file path"):
        check_output_file(tmp_path, "--out")
    # a file the command names itself (a run's seed_*/teacher_predictions.csv) is no option's
    with pytest.raises(ConfigError, match=rf"^{tmp_path}: is a folder"):
        check_output_file(tmp_path)


def test_a_file_output_under_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep")
    with pytest.raises(ConfigError, match=r"--json .*notes.txt is a file, not a folder"):
        check_output_file(tmp_path / "notes.txt" / "new" / "out.json", "--json")
    assert (tmp_path / "notes.txt").read_text() == "keep"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to any folder")
def test_a_file_output_in_a_read_only_folder_is_refused(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    try:
        with pytest.raises(ConfigError, match="is not writable"):
            check_output_file(locked / "a" / "predictions.csv")
    finally:
        locked.chmod(0o755)


def test_a_new_file_output_is_accepted_and_nothing_is_created(tmp_path: Path) -> None:
    assert check_output_file(tmp_path / "p.csv") == tmp_path / "p.csv"
    assert check_output_file(tmp_path / "new" / "deeper" / "p.csv").parent.exists() is False


def _ours(path: Path) -> bool:
    return csv_header(path) == ["text", "sentiment"]


def test_an_existing_file_is_replaced_only_if_the_command_wrote_it_and_overwrite_is_given(
    tmp_path: Path,
) -> None:
    # issue 24 re-probe: `predict --out notes.txt` replaced a user's notes silently
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"my notes\n")
    for overwrite in (False, True):
        with pytest.raises(ConfigError, match="notes.txt: exists and is not") as refused:
            check_output_file(notes, kind="predictions CSV", is_kind=_ours, overwrite=overwrite)
        assert "--overwrite" not in str(refused.value)  # no flag would make it replace them
    assert notes.read_bytes() == b"my notes\n"
    # the command's own file (its header row exactly as it writes it): only with overwrite
    own = tmp_path / "scored.csv"
    write_csv(own, [{"text": "hi", "sentiment": 1.5}], ["text", "sentiment"])
    with pytest.raises(ConfigError, match="pass --overwrite to replace it"):
        check_output_file(own, kind="predictions CSV", is_kind=_ours)
    assert check_output_file(own, kind="predictions CSV", is_kind=_ours, overwrite=True) == own
    # a header that is almost the command's (another column, a BOM, CRLF) is a user's file
    for text in ("text,sentiment,mine\n", "\ufefftext,sentiment\n", "text,sentiment\r\n"):
        own.write_bytes(text.encode())
        with pytest.raises(ConfigError, match="exists and is not"):
            check_output_file(own, kind="predictions CSV", is_kind=_ours, overwrite=True)
    # without a recogniser no existing file is the command's
    write_csv(own, [{"text": "hi", "sentiment": 1.5}], ["text", "sentiment"])
    with pytest.raises(ConfigError, match="exists and is not"):
        check_output_file(own, overwrite=True)


def test_a_users_symlink_where_a_file_is_written_is_never_replaced(tmp_path: Path) -> None:
    # issue 24 re-probe: a run rewrites its named files in place; a user's link there was
    # replaced by the new file (the link deleted)
    mine = tmp_path / "mine.json"
    mine.write_text("keep")
    link = tmp_path / "results.json"
    link.symlink_to(mine)
    with pytest.raises(ConfigError, match="results.json: is a symbolic link"):
        write_json(link, {"a": 1})
    with pytest.raises(ConfigError, match="is a symbolic link"), atomic_path(link):
        pass
    assert link.is_symlink() and mine.read_text() == "keep"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_an_output_that_is_an_input_or_a_link_is_always_refused(tmp_path: Path) -> None:
    given = tmp_path / "in.csv"  # the command's own earlier output, given as the input now
    write_csv(given, [{"text": "hi", "sentiment": 1.5}], ["text", "sentiment"])
    inputs = {"--csv": given, "--file": None}
    with pytest.raises(ConfigError, match=r"in\.csv: is also the input --csv"):
        check_output_file(given, kind="k", is_kind=_ours, overwrite=True, inputs=inputs)
    (tmp_path / "sub").mkdir()
    same = tmp_path / "sub" / ".." / "in.csv"  # the same file by another name
    with pytest.raises(ConfigError, match="is also the input --csv"):
        check_output_file(same, kind="k", is_kind=_ours, overwrite=True, inputs=inputs)
    link = tmp_path / "link.csv"
    link.symlink_to(given)
    with pytest.raises(ConfigError, match="link.csv: is a symbolic link"):
        check_output_file(link, kind="k", is_kind=_ours, overwrite=True)
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "nowhere.csv")
    with pytest.raises(ConfigError, match="is a symbolic link"):
        check_output_file(dangling)
    assert link.is_symlink() and dangling.is_symlink()
