"""The texts `predict` scores: one output row per input row, empty texts refused by row."""

from __future__ import annotations

from pathlib import Path

import pytest

from videoadviser.errors import DataError
from videoadviser.student.texts import read_texts


def test_every_line_of_a_file_is_one_row_in_order(tmp_path: Path) -> None:
    path = tmp_path / "texts.txt"
    path.write_bytes("\ufefffirst one\r\n  second  \nthird".encode())  # BOM, CRLF, no last EOL
    given = read_texts(file=path)
    assert given.texts == ["first one", "second", "third"]
    assert given.rows == [{"text": t} for t in given.texts]


def test_blank_lines_in_a_file_are_refused_by_line_not_dropped(tmp_path: Path) -> None:
    path = tmp_path / "texts.txt"
    path.write_text("good\n\nalso good\n   \nlast\n")
    with pytest.raises(DataError) as caught:
        read_texts(file=path)
    message = str(caught.value)
    assert message.startswith(f"2 empty texts:\n  {path}:2\n  {path}:4\n")
    assert "one output row each" in message


def test_empty_csv_cells_are_refused_by_their_line(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text('id,text\n1,great\n2,""\n3,"two\nlines"\n4, \n5\n')
    with pytest.raises(DataError, match=rf"3 empty texts:\n  {path}:3\n  {path}:6\n  {path}:7"):
        read_texts(csv_file=path)


def test_csv_rows_keep_their_columns(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text('id,utterance\n1,great\n2,"two\nlines"\n')
    given = read_texts(csv_file=path, text_column="utterance")
    assert given.texts == ["great", "two\nlines"]
    assert [r["id"] for r in given.rows] == ["1", "2"]
    with pytest.raises(DataError, match=r"no column 'text' \(found id, utterance\)"):
        read_texts(csv_file=path)


def test_an_empty_text_argument_is_refused_by_position() -> None:
    with pytest.raises(DataError, match="1 empty texts:\n  text argument 2"):
        read_texts(["fine", " "])
    assert read_texts(["fine"]).texts == ["fine"]


def test_one_input_only_and_not_none(tmp_path: Path) -> None:
    path = tmp_path / "texts.txt"
    path.write_text("hello\n")
    with pytest.raises(DataError, match="not more than one \\(got TEXT and --file\\)"):
        read_texts(["hello"], file=path)
    with pytest.raises(DataError, match="give text to score"):
        read_texts()
    path.write_text("")
    with pytest.raises(DataError, match="no text to score"):
        read_texts(file=path)
    with pytest.raises(DataError, match="missing.csv: no such file"):
        read_texts(csv_file=tmp_path / "missing.csv")


def test_a_latin1_file_names_line_and_byte(tmp_path: Path) -> None:
    path = tmp_path / "texts.txt"
    path.write_bytes("fine\nvery nice café\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"texts.txt:2: not UTF-8 text \(byte 18 is b'\\xe9'"):
        read_texts(file=path)


def test_blank_lines_in_a_csv_are_rows_refused_by_line_not_dropped(tmp_path: Path) -> None:
    # issue 24 (re-probe): predict --csv dropped blank lines, so its rows no longer matched
    # the input's (predict --file refused them by line)
    path = tmp_path / "in.csv"
    path.write_text("id,text\n1,great\n\n3,fine\n\n")
    with pytest.raises(DataError) as caught:
        read_texts(csv_file=path)
    assert str(caught.value).startswith(f"2 empty texts:\n  {path}:3\n  {path}:5\n")
    path.write_text("text\ngreat\n\nfine\n")  # one column: a blank line is an empty cell
    with pytest.raises(DataError, match=rf"1 empty texts:\n  {path}:3\n"):
        read_texts(csv_file=path)
    path.write_text("text\ngreat\nfine\n")
    assert read_texts(csv_file=path).texts == ["great", "fine"]  # one row each, no more


def test_csv_lines_are_numbered_as_grep_numbers_them(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(b'id,text\r\n1,"one\rtwo"\r\n2,\r\n')  # a CR inside quotes is no line end
    with pytest.raises(DataError, match=rf"1 empty texts:\n  {path}:3\n"):
        read_texts(csv_file=path)
    path.write_bytes(b"id,text\n1,one\r2,two\n")  # a lone CR outside quotes: no rows by line
    with pytest.raises(DataError, match=rf"^{path}:2: a carriage return \(\\r\) not followed"):
        read_texts(csv_file=path)


def test_a_csv_row_with_more_fields_than_the_header_is_refused_not_cut(tmp_path: Path) -> None:
    # issue 24 re-probe: an unquoted comma in the text made predict --csv score its first part
    path = tmp_path / "in.csv"
    path.write_text('id,text\n1,"fine, quoted"\n2,good, but not quoted\n3,"x"\n4,a,b,c\n')
    with pytest.raises(DataError) as caught:
        read_texts(csv_file=path)
    message = str(caught.value)
    assert message.startswith(f"2 rows with more fields than the header in {path}:\n")
    assert f"{path}:3: 3 fields, but the header has 2" in message
    assert f"{path}:5: 4 fields, but the header has 2" in message
    assert "double quotes" in message


def test_a_long_csv_field_reads_and_one_over_the_limit_names_its_line(tmp_path: Path) -> None:
    # issue 24 re-probe: a field over 128 KiB was a raw `_csv.Error` traceback
    from videoadviser.data.records import FIELD_LIMIT

    path = tmp_path / "in.csv"
    long_text = " ".join(["word"] * 40_000)  # 200 KB, a long transcript: it reads
    path.write_text(f'id,text\n1,hi\n2,"{long_text}"\n')
    assert read_texts(csv_file=path).texts == ["hi", long_text]
    path.write_text(f'id,text\n1,hi\n2,"{"x" * (FIELD_LIMIT + 1)}"\n')
    with pytest.raises(DataError, match=rf"^{path}:3: not readable as CSV: a field is longer"):
        read_texts(csv_file=path)
    path.write_text('id,text\n1,hi\n2,"a quote never closed\n' + "x\n" * 10)
    assert read_texts(csv_file=path).texts[1].startswith("a quote never closed")
