"""Reading interaction logs and item titles from files (spotlight.io)."""

from __future__ import annotations

import gzip
import logging
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

from spotlight.exceptions import DataFormatError  # noqa: E402
from spotlight.io import (  # noqa: E402
    ReadReport,
    read_interactions,
    read_interactions_with_report,
    read_item_metadata,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_data = pytest.mark.skipif(
    not DATA.exists(),
    reason="../shared/data (MovieLens files) is absent; it is only present in the "
    "development workspace",
)

HEADER = "user_id,item_id,timestamp\n"


def write(folder: Path, name: str, content: str | bytes) -> Path:
    """Write ``content`` (text is written as UTF-8) to ``folder / name``."""
    path = folder / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


# CSV


def test_csv_string_ids_map_users_from_zero_and_items_from_one(tmp_path):
    path = write(tmp_path, "log.csv", HEADER + "bob,b,3\nann,a,1\nbob,a,2\n")

    interactions = read_interactions(path)

    assert interactions.user_ids.tolist() == [1, 0, 1]
    assert interactions.item_ids.tolist() == [2, 1, 1]
    assert interactions.timestamps.tolist() == [3, 1, 2]
    assert interactions.id_mapping.decode_users([0, 1]).tolist() == ["ann", "bob"]


def test_csv_sparse_integer_ids_round_trip_through_the_mapping(tmp_path):
    users = [900001, 17, 900001, 5]
    items = [10**12, 3, 77, 3]
    rows = "".join(
        f"{u},{i},{t}\n" for t, (u, i) in enumerate(zip(users, items, strict=True))
    )
    path = write(tmp_path, "log.csv", HEADER + rows)

    mapping = read_interactions(path).id_mapping

    assert mapping.decode_users(mapping.encode_users(users)).tolist() == users
    assert mapping.decode_items(mapping.encode_items(items)).tolist() == items
    assert mapping.item_values.dtype.kind == "i"


def test_csv_ids_with_leading_zeros_stay_strings(tmp_path):
    path = write(tmp_path, "log.csv", HEADER + "1,007,1\n2,7,2\n")

    mapping = read_interactions(path).id_mapping

    assert sorted(mapping.item_values.tolist()) == ["007", "7"]


def test_csv_without_timestamps_suggests_timestamp_col_none(tmp_path):
    path = write(tmp_path, "log.csv", "user_id,item_id\n1,2\n")

    with pytest.raises(ValueError, match="pass timestamp_col=None"):
        read_interactions(path)


def test_csv_reads_rating_and_weight_columns(tmp_path):
    path = write(tmp_path, "log.csv", "u,i,r,w\n1,2,4.5,0.25\n2,3,1,2\n")

    interactions = read_interactions(
        path,
        user_col="u",
        item_col="i",
        timestamp_col=None,
        rating_col="r",
        weight_col="w",
    )

    assert interactions.ratings.tolist() == [4.5, 1.0]
    assert interactions.weights.tolist() == [0.25, 2.0]
    assert interactions.timestamps is None


@pytest.mark.parametrize(
    ("name", "sep", "text"),
    [
        ("log.csv", None, "user_id;item_id;timestamp\n1;2;3\n"),
        ("log.csv", None, "user_id|item_id|timestamp\n1|2|3\n"),
        ("log.tsv", None, "user_id\titem_id\ttimestamp\n1\t2\t3\n"),
        ("log.txt", "::", "user_id::item_id::timestamp\n1::2::3\n"),
        ("log.csv", " ", "user_id item_id timestamp\n1 2 3\n"),
    ],
)
def test_csv_separator_is_guessed_or_given(tmp_path, name, sep, text):
    interactions = read_interactions(write(tmp_path, name, text), sep=sep)

    assert interactions.id_mapping.decode_items([1]).tolist() == [2]
    assert interactions.timestamps.tolist() == [3]


def test_csv_quoted_fields_may_hold_separators_and_quotes(tmp_path):
    text = HEADER + '"Smith, J.",x,1\n"say ""hi""",y,2\n'

    mapping = read_interactions(write(tmp_path, "log.csv", text)).id_mapping

    assert mapping.user_values.tolist() == ["Smith, J.", 'say "hi"']


def test_csv_with_crlf_line_endings_and_byte_order_mark(tmp_path):
    text = "\ufeffuser_id,item_id,timestamp\r\n1,2,3\r\n4,5,6\r\n"

    interactions = read_interactions(write(tmp_path, "log.csv", text))

    assert interactions.timestamps.tolist() == [3, 6]


def test_csv_in_another_encoding_reads_with_encoding_argument(tmp_path):
    path = write(tmp_path, "log.csv", (HEADER + "José,1,2\n").encode("utf-16"))

    interactions = read_interactions(path, encoding="utf-16")

    assert interactions.id_mapping.user_values.tolist() == ["José"]


def test_gzip_file_is_decompressed(tmp_path):
    path = write(tmp_path, "log.csv.gz", gzip.compress((HEADER + "1,2,3\n").encode()))

    assert len(read_interactions(path)) == 1


def test_blank_lines_are_ignored_but_still_counted_in_line_numbers(tmp_path):
    path = write(tmp_path, "log.csv", HEADER + "1,2,3\n\n   \n4,5,x\n")

    with pytest.raises(DataFormatError, match="line 5"):
        read_interactions(path)


def test_large_integer_timestamps_keep_every_digit(tmp_path):
    path = write(tmp_path, "log.csv", HEADER + "1,2,1700000000000000001\n")

    assert read_interactions(path).timestamps.tolist() == [1700000000000000001]


# Parquet


def test_parquet_keeps_column_types(tmp_path):
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame(
        {"user_id": ["a", "b"], "item_id": [10, 20], "timestamp": [1.5, 2.5]}
    )
    frame.to_parquet(tmp_path / "log.parquet")

    interactions = read_interactions(tmp_path / "log.parquet")

    assert interactions.id_mapping.user_values.tolist() == ["a", "b"]
    assert interactions.id_mapping.item_values.tolist() == [10, 20]
    assert interactions.timestamps.tolist() == [1.5, 2.5]


def test_parquet_datetime_timestamps_become_nanoseconds(tmp_path):
    pytest.importorskip("pyarrow")
    times = pd.to_datetime(["2020-01-01", "2020-01-02"])
    frame = pd.DataFrame({"user_id": [1, 1], "item_id": [1, 2], "timestamp": times})
    frame.to_parquet(tmp_path / "log.pq")

    interactions = read_interactions(tmp_path / "log.pq")

    assert np.diff(interactions.timestamps).tolist() == [86_400 * 10**9]


def test_parquet_missing_value_names_its_row(tmp_path):
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame({"user_id": ["a", None], "item_id": [1, 2], "timestamp": 0})
    frame.to_parquet(tmp_path / "log.parquet")

    with pytest.raises(DataFormatError, match=r"row 2: user id .*got a missing value"):
        read_interactions(tmp_path / "log.parquet")


def test_parquet_missing_column_lists_the_columns(tmp_path):
    pytest.importorskip("pyarrow")
    pd.DataFrame({"user": [1], "item_id": [1]}).to_parquet(tmp_path / "log.parquet")

    with pytest.raises(ValueError, match=r"user_col='user_id'.*\['user', 'item_id'\]"):
        read_interactions(tmp_path / "log.parquet", timestamp_col=None)


def test_file_that_is_not_parquet_raises_data_format_error(tmp_path):
    pytest.importorskip("pyarrow")
    path = write(tmp_path, "log.parquet", HEADER + "1,2,3\n")

    with pytest.raises(DataFormatError, match=r"log\.parquet: not a readable Parquet"):
        read_interactions(path)


# MovieLens formats


def test_movielens_100k_format(tmp_path):
    path = write(tmp_path, "u.data", "196\t242\t3\t881250949\n186\t302\t4\t891717742\n")

    interactions = read_interactions(path, user_col="ignored")

    assert interactions.id_mapping.user_values.tolist() == [186, 196]
    assert interactions.ratings.tolist() == [3.0, 4.0]
    assert interactions.timestamps.tolist() == [881250949, 891717742]


@pytest.mark.parametrize("name", ["ratings.dat", "ratings.dat.gz"])
def test_movielens_1m_format_plain_and_gzipped(tmp_path, name):
    content = b"1::1193::5::978300760\n1::661::3::978302109\n"
    if name.endswith(".gz"):
        content = gzip.compress(content)

    interactions = read_interactions(write(tmp_path, name, content))

    assert interactions.id_mapping.item_values.tolist() == [661, 1193]
    assert interactions.ratings.tolist() == [5.0, 3.0]


def test_movielens_latest_format(tmp_path):
    text = "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,3.5,964981247\n"
    path = write(tmp_path, "ratings.csv", text)

    interactions = read_interactions(path, format="movielens-latest")

    assert interactions.ratings.tolist() == [4.0, 3.5]
    assert interactions.id_mapping.item_values.tolist() == [1, 3]


def test_movielens_latest_without_its_header_names_the_missing_column(tmp_path):
    path = write(tmp_path, "ratings.csv", "user,movie,rating,time\n1,1,4.0,9\n")

    with pytest.raises(ValueError, match=r"'userId'.*\['user', 'movie'"):
        read_interactions(path, format="movielens-latest")


@needs_data
def test_real_movielens_100k_file_reads():
    interactions = read_interactions(DATA / "ml-100k" / "u.data")

    assert (len(interactions), interactions.num_users) == (100_000, 943)


# Hostile input


def test_missing_file_raises_file_not_found_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere\.csv"):
        read_interactions(tmp_path / "nowhere.csv")


def test_missing_column_lists_available_columns(tmp_path):
    path = write(tmp_path, "log.csv", "user,item_id,timestamp\n1,2,3\n")

    with pytest.raises(ValueError, match=r"\['user', 'item_id', 'timestamp'\]"):
        read_interactions(path)


@pytest.mark.parametrize(
    ("name", "content", "line", "fragment"),
    [
        ("log.csv", HEADER + "1,2,3\n4,5,6,7\n", 3, "expected 3 fields, found 4"),
        ("log.csv", HEADER + "1,2,3\n4,5\n", 3, "expected 3 fields, found 2"),
        ("log.csv", HEADER + '1,2,3\n"a,b",5\n', 3, "expected 3 fields, found 2"),
        ("log.csv", HEADER + "1,2,3\n,5,6\n", 3, "user id (column 'user_id')"),
        ("log.csv", HEADER + "1,2,3\n4,  ,6\n", 3, "must be a non-empty id"),
        ("log.csv", HEADER + "1,2,3\n4,5,soon\n", 3, "got 'soon'"),
        ("log.csv", HEADER + "1,2,3\n4,5,nan\n", 3, "timestamp"),
        ("log.csv", HEADER + "1,2,3\n4,5,inf\n", 3, "must be a finite number"),
        ("u.data", "1\t2\t3\t4\n1\tx\t3\t4\n", 2, "item id (column 'item')"),
        ("u.data", "1\t2\t3\t4\n1\t2.5\t3\t4\n", 2, "must be an integer id, got 2.5"),
        ("u.data", "1\t2\t3\t4\n1\t2\t3\n", 2, "expected 4 fields, found 3"),
        ("ratings.dat", "1::2::3::4\n1::2::NaN::4\n", 2, "rating (column 'rating')"),
        ("ratings.dat", "1::2::3::4\n1::2::3::-inf\n", 2, "timestamp"),
        ("ratings.dat", "1::2::3::4\nu1::2::3::4\n", 2, "user id"),
    ],
)
def test_bad_row_error_names_file_line_and_problem(
    tmp_path, name, content, line, fragment
):
    path = write(tmp_path, name, content)

    with pytest.raises(DataFormatError) as error:
        read_interactions(path)

    message = str(error.value)
    assert str(path) in message
    assert f"line {line}:" in message
    assert fragment in message


def test_wrongly_encoded_bytes_name_their_line(tmp_path):
    path = write(tmp_path, "log.csv", (HEADER + "1,2,3\nJosé,1,2\n").encode("latin-1"))

    with pytest.raises(DataFormatError, match=r"log.csv: line 3: bytes b'\\xe9'"):
        read_interactions(path)


def test_truncated_gzip_raises_data_format_error(tmp_path):
    whole = gzip.compress((HEADER + "1,2,3\n" * 1000).encode())
    path = write(tmp_path, "log.csv.gz", whole[: len(whole) // 2])

    with pytest.raises(
        DataFormatError, match=r"log\.csv\.gz: the gzip data is truncated"
    ):
        read_interactions(path)


@pytest.mark.parametrize("content", [b"", b"\n  \n"])
def test_empty_file_raises_data_format_error(tmp_path, content):
    path = write(tmp_path, "log.csv", content)

    with pytest.raises(DataFormatError, match=r"log\.csv: the file is empty"):
        read_interactions(path)


def test_header_without_rows_raises_data_format_error(tmp_path):
    with pytest.raises(DataFormatError, match="no data rows"):
        read_interactions(write(tmp_path, "log.csv", HEADER))


def test_broken_quoting_names_the_line_where_the_field_opens(tmp_path):
    path = write(tmp_path, "log.csv", HEADER + '1,2,3\n"a,1,2\nb,2,3\n')

    with pytest.raises(DataFormatError, match="line 3: broken quoting"):
        read_interactions(path)


def test_first_bad_row_is_reported_whatever_its_problem(tmp_path):
    text = HEADER + "1,2,3\n1,2,x\n1,2,3,4\n"

    with pytest.raises(DataFormatError, match="line 3: timestamp"):
        read_interactions(write(tmp_path, "log.csv", text))


def test_folder_instead_of_file_is_refused(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder"):
        read_interactions(tmp_path)


@pytest.mark.parametrize("sep", ["", '"', "\n", 4])
def test_bad_separator_is_refused_showing_it(tmp_path, sep):
    path = write(tmp_path, "log.csv", HEADER + "1,2,3\n")

    with pytest.raises(ValueError, match="sep must be .*got " + re.escape(repr(sep))):
        read_interactions(path, sep=sep)


def test_unguessable_file_name_asks_for_format(tmp_path):
    with pytest.raises(ValueError, match="pass format="):
        read_interactions(write(tmp_path, "log.xyz", HEADER + "1,2,3\n"))


def test_unknown_format_is_refused_showing_it(tmp_path):
    with pytest.raises(ValueError, match=r"format must be one of .*got 'json'"):
        read_interactions(write(tmp_path, "log.csv", HEADER), format="json")


# Skipping bad rows


def test_skip_bad_rows_drops_and_reports_them(tmp_path, caplog):
    text = HEADER + "1,2,3\n4,5,x\n6,7,8,9\n\n10,11,12\n13,,14\n"
    path = write(tmp_path, "log.csv", text)

    with caplog.at_level(logging.WARNING, logger="spotlight.io"):
        interactions, report = read_interactions_with_report(path, skip_bad_rows=True)

    assert interactions.id_mapping.user_values.tolist() == [1, 10]
    assert report == ReadReport(
        rows_read=5,
        rows_skipped=3,
        first_bad_line=3,
        first_bad_reason="timestamp (column 'timestamp') must be a finite number, "
        "got 'x'",
    )
    assert "skipped 3 bad rows of 5" in caplog.text


def test_report_of_a_clean_file_has_no_bad_line(tmp_path):
    path = write(tmp_path, "log.csv", HEADER + "1,2,3\n")

    _, report = read_interactions_with_report(path)

    assert report == ReadReport(1, 0, None, None)


def test_skip_bad_rows_keeps_integer_timestamps(tmp_path):
    path = write(tmp_path, "u.data", "1\t2\t3\t4\n1\t2\t3\toops\n")

    interactions = read_interactions(path, skip_bad_rows=True)

    assert interactions.timestamps.dtype == np.int64


def test_skip_bad_rows_with_only_bad_rows_raises(tmp_path):
    path = write(tmp_path, "log.csv", HEADER + "1,2,x\n3,4,y\n")

    with pytest.raises(DataFormatError, match="all 2 rows are bad; the first, line 2"):
        read_interactions(path, skip_bad_rows=True)


# Item titles


def test_item_metadata_of_movielens_100k_is_latin_1(tmp_path):
    genres = "|0" * 19
    text = f"1|Toy Story (1995)|01-Jan-1995||http://x{genres}\n"
    text += f"2|Misérables, Les (1995)|01-Jan-1995||http://y{genres}\n"
    path = write(tmp_path, "u.item", text.encode("latin-1"))

    assert read_item_metadata(path) == {
        1: "Toy Story (1995)",
        2: "Misérables, Les (1995)",
    }


def test_item_metadata_of_movielens_1m(tmp_path):
    text = "1::Toy Story (1995)::Animation\n2::Jumanji (1995)::Adventure\n"
    path = write(tmp_path, "movies.dat", text.encode("latin-1"))

    assert read_item_metadata(path) == {1: "Toy Story (1995)", 2: "Jumanji (1995)"}


def test_item_metadata_of_movielens_latest_has_quoted_titles(tmp_path):
    text = 'movieId,title,genres\n1,Toy Story (1995),Comedy\n11,"American, The",Drama\n'
    path = write(tmp_path, "movies.csv", text)

    assert read_item_metadata(path) == {1: "Toy Story (1995)", 11: "American, The"}


def test_item_titles_can_be_looked_up_by_decoded_ids(tmp_path):
    ratings = write(tmp_path, "ratings.dat", "1::20::5::1\n2::10::3::2\n")
    movies = write(tmp_path, "movies.dat", "10::Ten::Drama\n20::Twenty::Drama\n")
    mapping = read_interactions(ratings).id_mapping

    titles = read_item_metadata(movies)

    assert [titles[item] for item in mapping.decode_items([1, 2])] == ["Ten", "Twenty"]


def test_item_metadata_with_repeated_id_names_the_line(tmp_path):
    path = write(tmp_path, "movies.dat", "1::A::x\n2::B::x\n1::C::x\n")

    with pytest.raises(DataFormatError, match="line 3: item id 1 appears a second"):
        read_item_metadata(path)


def test_item_metadata_with_a_bad_id_names_the_line(tmp_path):
    path = write(tmp_path, "movies.dat", "1::A::x\none::B::x\n")

    with pytest.raises(DataFormatError, match="line 2: item id"):
        read_item_metadata(path)


# Dependencies


def test_importing_spotlight_io_does_not_import_pandas():
    code = "import sys, spotlight, spotlight.io; print('pandas' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "False"


def test_missing_pandas_raises_import_error_naming_the_extra(tmp_path, monkeypatch):
    path = write(tmp_path, "log.csv", HEADER + "1,2,3\n")
    monkeypatch.setitem(sys.modules, "pandas", None)

    with pytest.raises(ImportError, match=r'pip install "spotlight-rec\[io\]"'):
        read_interactions(path)
