"""label.csv reading: the happy path and every error names the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from videoadviser.data.mmsa_raw import read_label_csv
from videoadviser.errors import DataError

HEADER = "video_id,clip_id,text,label,annotation,mode\n"


def _write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "label.csv").write_text(header + body, encoding="utf-8")
    return tmp_path


def test_reads_rows_in_order_with_paths(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        'vidA,1,"hello, world",1.4,Positive,train\n'
        "vidA,2,so bad,-2.0,Negative,valid\n"
        "vidB,1,okay then,0,Neutral,test\n",
    )
    records = read_label_csv(root)
    assert [r.uid for r in records] == ["vidA$_$1", "vidA$_$2", "vidB$_$1"]
    assert records[0].text == "hello, world" and records[0].label == 1.4
    assert [r.split for r in records] == ["train", "valid", "test"]
    assert records[2].video_path == str(root / "Raw" / "vidB" / "1.mp4")
    assert records[0].extra == {"annotation": "Positive"}


def test_mosei_extra_label_columns_are_kept(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        "v,1,text here,0.6,Positive,train,1,0.2,0.4\n",
        header="video_id,clip_id,text,label,annotation,mode,label_T,label_A,label_V\n",
    )
    (record,) = read_label_csv(root)
    assert record.extra["label_V"] == "0.4"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("v,1,text,nan,x,train\n", "label is NaN"),
        ("v,1,text,good,x,train\n", "'good' is not a number"),
        ("v,1,text,3.2,x,train\n", "3.2 is outside"),
        ("v,1,text,,x,train\n", "'' is not a number"),
        ("v,1,text,1,x,dev\n", "mode 'dev'"),
        ("v,1,,1,x,train\n", "empty text"),
        (",1,text,1,x,train\n", "empty video_id"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path: Path, row: str, message: str) -> None:
    root = _write(tmp_path, "ok,1,fine text,0.2,x,train\n" + row)
    with pytest.raises(DataError) as info:
        read_label_csv(root)
    text = str(info.value)
    assert f"{root / 'label.csv'}:3" in text
    assert message in text


@pytest.mark.parametrize("end", ["\n", "\r\n"])
def test_row_numbers_are_the_lines_an_editor_shows(tmp_path: Path, end: str) -> None:
    # issue 24: label.csv:16 was reported for a row that wc and grep -n put at line 12: lone
    # CRs inside quoted text were counted as line breaks
    body = end.join(
        [
            'a,1,"one\rtwo\rthree\rfour",0.2,x,train',
            'b,1,"two""\nlines",0.2,x,train',
            "",
            'c,1,"x\ry",0.1,x,train',
            "d,1,text,9,x,train",
            'e,1,"cr\r\r",bad,x,train',
            "",
        ]
    )
    root = _write(tmp_path, HEADER.replace("\n", end) + body, header="")
    raw = (root / "label.csv").read_bytes()
    lines = [raw[: raw.index(row)].count(b"\n") + 1 for row in (b"d,1,", b"e,1,")]
    assert lines == [7, 8]  # what grep -n says
    with pytest.raises(DataError) as info:
        read_label_csv(root)
    text = str(info.value)
    assert "label.csv:7: label 9 is outside" in text
    assert "label.csv:8: label 'bad' is not a number" in text


@pytest.mark.parametrize(
    ("body", "line"),
    [
        # issue 24 (re-probe): a lone CR outside quotes started a new row number that grep -n
        # and wc -l never show; rows after it were reported lines too far
        ("a,1,t,0,x,train\rb,1,t,7,x,train\n", 2),
        ('a,1,"t\r",0,x,train\r\nb,1,"t",0,x,train\rc,1,t,7,x,train\n', 3),  # after quotes
        ("a,1,t,0,x,train\n\rb,1,t,7,x,train\n", 3),  # a blank line of a lone CR
    ],
)
def test_a_lone_cr_that_ends_a_row_is_refused_naming_its_grep_line(
    tmp_path: Path, body: str, line: int
) -> None:
    root = _write(tmp_path, body)
    path = root / "label.csv"
    with pytest.raises(DataError) as info:
        read_label_csv(root)
    text = str(info.value)
    assert path.read_bytes().split(b"\n")[line - 1].count(b"\r")  # grep's line of the CR
    assert text.startswith(f"{path}:{line}: a carriage return (\\r) not followed by a line feed")
    assert "grep -n and wc -l see no line end there" in text
    assert f"perl -pe 's/\\r\\n?/\\n/g' {path} > {root / 'label-lf.csv'}" in text


@pytest.mark.parametrize(
    ("body", "line"),
    [
        ("a,1,t,0,x,train\n\r\nb,1,t,7,x,train\n", 4),  # a CRLF blank line: no lone CR
        ("a,1,t,0,x,train\nb,1,t,7,x,train\r", 3),  # a lone CR at the very end: nothing follows
        ('a,1,"t\r\r",0,x,train\nb,1,"x\ry",7,x,train\n', 3),  # CRs inside quotes are text
    ],
)
def test_crs_that_part_no_rows_from_lines_are_read(tmp_path: Path, body: str, line: int) -> None:
    root = _write(tmp_path, body)
    with pytest.raises(DataError, match=rf"label.csv:{line}: label 7 is outside"):
        read_label_csv(root)


def test_a_file_with_old_mac_line_ends_is_refused_at_its_first_line(tmp_path: Path) -> None:
    root = _write(tmp_path, HEADER.replace("\n", "\r") + "a,1,t,0,x,train\r\rb,1,t,7,x,train\r", "")
    with pytest.raises(DataError, match=r"label.csv:1: a carriage return"):
        read_label_csv(root)


def test_every_bad_row_is_listed(tmp_path: Path) -> None:
    root = _write(tmp_path, "a,1,t,9,x,train\nb,1,t,ok,x,train\nc,1,t,1,x,train\n")
    with pytest.raises(DataError, match=r"2 bad rows") as info:
        read_label_csv(root)
    assert ":2" in str(info.value) and ":3" in str(info.value)


def test_missing_column(tmp_path: Path) -> None:
    root = _write(tmp_path, "v,1,text,1,train\n", header="video_id,clip_id,text,label,split\n")
    with pytest.raises(DataError, match=r"missing column\(s\) mode"):
        read_label_csv(root)


def test_duplicate_ids(tmp_path: Path) -> None:
    root = _write(tmp_path, "v,1,one,1,x,train\nv,2,two,1,x,train\nv,1,again,1,x,test\n")
    with pytest.raises(DataError, match=r"duplicate clip 'v\$_\$1'") as info:
        read_label_csv(root)
    assert "label.csv:4" in str(info.value) and "label.csv:2" in str(info.value)


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="make-demo"):
        read_label_csv(tmp_path)


ROWS = "vidA,1,héllo wörld,3,Positive,train\nvidA,2,so bad,-3.0,Negative,valid\n"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_a_byte_order_mark_or_utf16_reads_the_same(tmp_path: Path, encoding: str) -> None:
    (tmp_path / "label.csv").write_text(HEADER + ROWS, encoding=encoding)
    records = read_label_csv(tmp_path)
    assert [r.video_id for r in records] == ["vidA", "vidA"]
    assert records[0].text == "héllo wörld"
    assert [r.label for r in records] == [3.0, -3.0]  # the range's ends are labels too


def test_another_encoding_is_a_clear_error(tmp_path: Path) -> None:
    filler = "".join(f"v{i},1,plain text,0,Neutral,train\n" for i in range(600))  # > 8 KiB
    text = HEADER + filler + ROWS
    (tmp_path / "label.csv").write_bytes(text.encode("latin-1"))
    offset = len((HEADER + filler + "vidA,1,h").encode())
    with pytest.raises(DataError, match=rf"label.csv:602: not UTF-8 text \(byte {offset} is ") as e:
        read_label_csv(tmp_path)
    assert "column 9 of that line" in str(e.value) and "iconv -f latin1 -t utf-8" in str(e.value)


@pytest.mark.parametrize(
    ("video_id", "clip_id"),
    [("..", "1"), ("../../etc", "passwd"), ("vid", "../x"), ("/etc", "1"), ("a\\b", "1")],
)
def test_ids_that_leave_the_dataset_folder_are_refused(
    tmp_path: Path, video_id: str, clip_id: str
) -> None:
    root = _write(tmp_path, f'"{video_id}","{clip_id}",text,1,Positive,train\n')
    with pytest.raises(DataError, match=r"label.csv:2: (video|clip)_id .* is not a plain name"):
        read_label_csv(root)


def test_a_video_that_links_outside_the_dataset_folder_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.mp4"
    outside.write_bytes(b"not really a video")
    root = _write(tmp_path / "data", "vidA,1,text,1,Positive,train\n")
    (root / "Raw" / "vidA").mkdir(parents=True)
    (root / "Raw" / "vidA" / "1.mp4").symlink_to(outside)
    with pytest.raises(DataError, match=r"label.csv:2: .*1.mp4 links to .*elsewhere.mp4, outside"):
        read_label_csv(root)
    # a link that stays inside, and a dataset folder that is itself a link, are fine
    (root / "Raw" / "vidA" / "1.mp4").unlink()
    (root / "Raw" / "vidA" / "1.mp4").symlink_to(root / "label.csv")
    (tmp_path / "alias").symlink_to(root)
    assert len(read_label_csv(tmp_path / "alias")) == 1


def test_rows_with_more_fields_than_the_header_are_refused_by_line(tmp_path: Path) -> None:
    root = _write(tmp_path, "v,1,good, not quoted,1,x,train\nv,2,fine,1,x,train\n")
    with pytest.raises(DataError, match=r"1 rows with more fields than the header in .*"):
        read_label_csv(root)
    with pytest.raises(DataError, match=rf"{root / 'label.csv'}:2: 7 fields, but the header has 6"):
        read_label_csv(root)


def test_a_field_over_the_csv_limit_is_an_error_naming_its_line(tmp_path: Path) -> None:
    from videoadviser.data.records import FIELD_LIMIT

    long_text = " ".join(["word"] * 40_000)  # over the csv module's 128 KiB: it reads
    root = _write(tmp_path, f'v,1,"{long_text}",1,x,train\n')
    assert read_label_csv(root)[0].text == long_text
    root = _write(tmp_path, f'v,1,fine,1,x,train\nv,2,"{"x" * (FIELD_LIMIT + 1)}",1,x,train\n')
    with pytest.raises(DataError, match=r"label.csv:3: not readable as CSV: a field is longer"):
        read_label_csv(root)
