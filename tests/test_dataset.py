"""Fixed datasets: .npy, .jsonl and .csv files, their hash, and full batches."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest

from benchtrail.bench.dataset import Dataset, file_sha256, load_dataset
from benchtrail.errors import DatasetError


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def refusal(path: Path) -> tuple[str, ...]:
    with pytest.raises(DatasetError) as caught:
        load_dataset(path)
    return caught.value.problems


# --- loading ---------------------------------------------------------------------


def test_npy(tmp_path: Path) -> None:
    array = np.arange(24, dtype=np.float32).reshape(6, 4)
    path = write(tmp_path / "inputs.npy", npy_bytes(array))
    dataset = load_dataset(path)
    assert isinstance(dataset.rows, np.ndarray)
    np.testing.assert_array_equal(dataset.rows, array)
    assert dataset.rows.dtype == np.float32
    assert len(dataset) == 6
    assert dataset.path == path
    assert [row for batch in dataset.json_batches(1) for row in batch] == array.tolist()


def test_jsonl(tmp_path: Path) -> None:
    path = write(tmp_path / "rows.jsonl", b'{"text": "caf\xc3\xa9"}\r\n\n[1, 2.5]\n  \n"plain"\n7')
    dataset = load_dataset(str(path))
    assert dataset.rows == [{"text": "café"}, [1, 2.5], "plain", 7]  # blank lines skipped
    assert [row for batch in dataset.json_batches(1) for row in batch] == dataset.rows


def test_csv_numbers_are_parsed_and_text_stays_text(tmp_path: Path) -> None:
    path = write(
        tmp_path / "rows.csv",
        b"id,label,score,exp,neg,under,nan,spaced,big\n"
        b'1,"a, quoted",0.5,1e-3,-2,1_000,nan, 7,' + b"9" * 5000 + b"\n"
        b"2,b,.25,2E+2,+3,x,inf,8 ,12\n",
    )
    rows = load_dataset(path).rows
    assert rows[0] == {
        "id": 1, "label": "a, quoted", "score": 0.5, "exp": 0.001, "neg": -2,
        "under": "1_000", "nan": "nan", "spaced": " 7", "big": "9" * 5000,
    }
    assert rows[1] == {
        "id": 2, "label": "b", "score": 0.25, "exp": 200.0, "neg": 3,
        "under": "x", "nan": "inf", "spaced": "8 ", "big": 12,
    }
    assert isinstance(rows[0]["id"], int) and isinstance(rows[1]["exp"], float)


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    assert load_dataset(write(tmp_path / "excel.csv", b"\xef\xbb\xbfid,x\r\n1,2\r\n")).rows == [{"id": 1, "x": 2}]
    assert load_dataset(write(tmp_path / "bom.jsonl", b"\xef\xbb\xbf1\n2\n")).rows == [1, 2]


def test_sha256_is_that_of_the_file_bytes(tmp_path: Path) -> None:
    data = b"".join(b'{"row": %d, "pad": "%s"}\n' % (i, b"x" * 300) for i in range(5000))
    path = write(tmp_path / "rows.jsonl", data)  # larger than one read chunk
    expected = hashlib.sha256(data).hexdigest()
    assert load_dataset(path).sha256 == expected == file_sha256(path)
    path.write_bytes(data.replace(b'"row": 42,', b'"row": 43,'))
    assert load_dataset(path).sha256 != expected


# --- batches -----------------------------------------------------------------------


def test_batches_cover_every_row_and_wrap_to_full_batches() -> None:
    dataset = Dataset(path=Path("rows.jsonl"), sha256="0" * 64, rows=list(range(10)))
    assert dataset.batches(1) == [[i] for i in range(10)]
    assert dataset.batches(5) == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    assert dataset.batches(4) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 1]]
    assert dataset.batches(16) == [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5]]
    for size in range(1, 25):
        batches = dataset.batches(size)
        assert all(len(batch) == size for batch in batches)
        assert {row for batch in batches for row in batch} == set(range(10))


def test_numpy_batches_are_arrays_that_wrap(tmp_path: Path) -> None:
    array = np.arange(20).reshape(10, 2)
    dataset = load_dataset(write(tmp_path / "x.npy", npy_bytes(array)))
    batches = dataset.batches(4)
    assert len(batches) == 3
    assert all(isinstance(batch, np.ndarray) and batch.shape == (4, 2) for batch in batches)
    np.testing.assert_array_equal(batches[2], array[[8, 9, 0, 1]])
    np.testing.assert_array_equal(dataset.batches(32)[0][:10], array)


def test_a_batch_size_below_one_is_a_bug_of_the_caller() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        Dataset(path=Path("x.jsonl"), sha256="0" * 64, rows=[1]).batches(0)


# --- problems, each naming the file -------------------------------------------------


@pytest.mark.parametrize("name", ["empty.npy", "empty.jsonl", "empty.csv"])
def test_an_empty_file(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / name, b"")
    assert refusal(path) == (f"{path}: empty file: dataset has no rows",)


@pytest.mark.parametrize(("name", "data", "message"), [
    ("blank.jsonl", b"\n \n\n", "dataset has no rows"),
    ("header.csv", b"a,b\n", "dataset has no rows"),
    ("newlines.csv", b"\n\n", "CSV file has no header row"),
])
def test_no_rows(tmp_path: Path, name: str, data: bytes, message: str) -> None:
    path = write(tmp_path / name, data)
    assert refusal(path) == (f"{path}: {message}",)


def test_an_npy_without_rows(tmp_path: Path) -> None:
    path = write(tmp_path / "none.npy", npy_bytes(np.zeros((0, 3))))
    assert refusal(path) == (f"{path}: dataset has no rows",)
    path = write(tmp_path / "scalar.npy", npy_bytes(np.float64(1.5)))
    assert refusal(path) == (f"{path}: expected an array of rows, found a scalar",)


def test_a_bad_json_line_names_the_line_number(tmp_path: Path) -> None:
    path = write(tmp_path / "rows.jsonl", b"1\n\n{\"a\": 2}\n{\"a\": \n5\n")
    (line,) = refusal(path)
    assert line.startswith(f"{path}:4: not valid JSON: ")


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"[1, -Infinity]"])
def test_json_lines_refuse_what_json_does_not_allow(tmp_path: Path, literal: bytes) -> None:
    path = write(tmp_path / "rows.jsonl", b"1\n" + literal + b"\n")
    (line,) = refusal(path)
    assert line.startswith(f"{path}:2: not valid JSON: ") and line.endswith("is not a number JSON allows")


def test_a_deeply_nested_json_line_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "deep.jsonl", b"1\n" + b"[" * 100_000 + b"]" * 100_000 + b"\n")
    assert refusal(path) == (f"{path}:2: not valid JSON: nested too deeply",)


def test_non_utf8(tmp_path: Path) -> None:
    path = write(tmp_path / "latin1.jsonl", '"ok"\n"café"\n'.encode("latin-1"))
    assert refusal(path) == (f"{path}:2: not UTF-8 text: invalid continuation byte",)
    path = write(tmp_path / "latin1.csv", "name\ncafé\n".encode("latin-1"))
    assert refusal(path) == (f"{path}: not UTF-8 text: invalid continuation byte",)


@pytest.mark.parametrize(("data", "message"), [
    (b"a,b\n1,2\n3,4,5\n", "3: expected 2 fields, found 3"),
    (b"a,b\n1,2\n3\n", "3: expected 2 fields, found 1"),
    (b"a,a\n1,2\n", "1: duplicate column name 'a'"),
    (b'a\n"' + b"x" * 200_000 + b'"\n', "2: not valid CSV: field larger than field limit (131072)"),
])
def test_a_malformed_csv_names_the_line(tmp_path: Path, data: bytes, message: str) -> None:
    path = write(tmp_path / "bad.csv", data)
    assert refusal(path) == (f"{path}:{message}",)


@pytest.mark.parametrize(("data", "message"), [
    (b"not an array", "not a readable .npy array: "),
    (npy_bytes(np.arange(10))[:-9], "not a readable .npy array: "),
    (npy_bytes(np.arange(10))[:20], "not a readable .npy array: "),
])
def test_a_broken_npy(tmp_path: Path, data: bytes, message: str) -> None:
    path = write(tmp_path / "broken.npy", data)
    (line,) = refusal(path)
    assert line.startswith(f"{path}: {message}")
    assert "\n" not in line


def test_an_npz_archive_is_not_an_npy_array(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, inputs=np.arange(3))
    path = write(tmp_path / "archive.npy", buffer.getvalue())
    assert refusal(path) == (f"{path}: expected one .npy array, found an .npz archive",)


def test_object_arrays_are_not_unpickled(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.array([1, "a", None], dtype=object), allow_pickle=True)
    path = write(tmp_path / "objects.npy", buffer.getvalue())
    (line,) = refusal(path)
    assert line.startswith(f"{path}: not a readable .npy array: ")


@pytest.mark.parametrize("name", ["rows.txt", "rows.NPY", "rows.json", "rows"])
def test_an_unknown_suffix(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / name, b"1\n")
    suffix = Path(name).suffix
    assert refusal(path) == (f"{path}: unsupported dataset type {suffix!r} (use .npy, .jsonl or .csv)",)


def test_a_missing_file_and_a_folder(tmp_path: Path) -> None:
    assert refusal(tmp_path / "missing.npy") == (
        f"{tmp_path / 'missing.npy'}: cannot read dataset: No such file or directory",
    )
    (tmp_path / "folder.csv").mkdir()
    assert refusal(tmp_path / "folder.csv") == (
        f"{tmp_path / 'folder.csv'}: cannot read dataset: Is a directory",
    )
