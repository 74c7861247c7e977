"""The MovieLens loaders and the download cache behind them."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import socket
import subprocess
import sys
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("pandas")

from spotlight.datasets import _download, movielens
from spotlight.datasets._download import (
    Checksum,
    DownloadError,
    download,
    get_data_home,
)
from spotlight.datasets.movielens import (
    get_movielens_dataset,
    get_movielens_item_titles,
)
from spotlight.exceptions import DataFormatError

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_data = pytest.mark.skipif(
    not DATA.exists(),
    reason="../shared/data (MovieLens files) is absent; it is only present in the "
    "development workspace",
)

RATINGS_CSV = "userId,movieId,rating,timestamp\n1,10,4.0,100\n2,20,3.5,200\n"
MOVIES_CSV = 'movieId,title,genres\n10,"Ten, The (1990)",Drama\n20,Twenty,Comedy\n'


def make_zip(path: Path, files: dict[str, str]) -> Path:
    """Write a zip file holding ``files`` (member name to text)."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def small_release_zip(folder: Path) -> bytes:
    """The bytes of a tiny zip laid out like ml-latest-small.zip."""
    path = make_zip(
        folder / "ml-latest-small.zip",
        {
            "ml-latest-small/ratings.csv": RATINGS_CSV,
            "ml-latest-small/movies.csv": MOVIES_CSV,
        },
    )
    return path.read_bytes()


@pytest.fixture
def server():
    """A local HTTP server on a free port; ``files`` maps URL paths to bytes and
    ``announced`` optionally overrides the Content-Length sent for a path."""
    files: dict[str, bytes] = {}
    announced: dict[str, int] = {}
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            body = files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            length = announced.get(self.path, len(body))
            self.send_header("Content-Length", str(length))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    yield SimpleNamespace(url=url, files=files, announced=announced, requests=requests)
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def served_release(server, tmp_path, monkeypatch):
    """Serve a tiny ml-latest-small.zip and point the release table at it."""
    server.files["/ml-latest-small.zip"] = small_release_zip(tmp_path)
    release = movielens.RELEASES["latest-small"]
    url = server.url + "ml-latest-small.zip"
    monkeypatch.setitem(
        movielens.RELEASES, "latest-small", dataclasses.replace(release, url=url)
    )
    return server


def free_port_url() -> str:
    """An http:// URL on a local port where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/ml-latest-small.zip"


def files_in(folder: Path) -> list[str]:
    """Names of every file under ``folder``, hidden ones included."""
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def test_importing_the_loaders_does_not_import_pandas():
    code = "import sys, spotlight.datasets.movielens; print('pandas' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "False"


# Variant names


@pytest.mark.parametrize(
    ("variant", "name"),
    [
        ("100K", "100K"),
        ("100k", "100K"),
        ("ml-100k", "100K"),
        ("ML-1M", "1M"),
        ("ml-10M100K", "10M"),
        ("20m", "20M"),
        ("ml-latest-small", "latest-small"),
    ],
)
def test_variant_names_are_case_insensitive_with_optional_prefix(variant, name):
    assert movielens._release(variant).name == name


@pytest.mark.parametrize("variant", ["100", "ml-25m", 100, None])
def test_unknown_variant_is_refused_showing_it(variant):
    with pytest.raises(ValueError, match=rf"variant must be one of .*got {variant!r}"):
        get_movielens_dataset(variant, path=".")


# Local copies


def test_local_folder_of_an_unchecked_release(tmp_path):
    (tmp_path / "ratings.csv").write_text(RATINGS_CSV)

    interactions = get_movielens_dataset("latest-small", path=tmp_path)

    assert interactions.ratings.tolist() == [4.0, 3.5]
    assert interactions.timestamps.tolist() == [100, 200]
    assert interactions.id_mapping.item_values.tolist() == [10, 20]


def test_local_parent_folder_of_the_extracted_release(tmp_path):
    (tmp_path / "ml-20m").mkdir()
    (tmp_path / "ml-20m" / "ratings.csv").write_text(RATINGS_CSV)

    assert len(get_movielens_dataset("20M", path=tmp_path)) == 2


def test_local_folder_with_gzipped_ratings_checks_their_md5(tmp_path, monkeypatch):
    content = b"1::1193::5::978300760\n2::661::3::978302109\n"
    (tmp_path / "ratings.dat.gz").write_bytes(gzip.compress(content))
    monkeypatch.setitem(movielens.RATINGS_MD5, "1M", hashlib.md5(content).hexdigest())

    interactions = get_movielens_dataset("1M", path=tmp_path)

    assert interactions.id_mapping.user_values.tolist() == [1, 2]


def test_ratings_that_differ_from_the_official_release_are_refused(tmp_path):
    (tmp_path / "u.data").write_text("1\t2\t3\t4\n")

    with pytest.raises(DataFormatError, match=r"md5 .* MovieLens 100K"):
        get_movielens_dataset("100K", path=tmp_path)


def test_local_zip_is_read_without_touching_the_cache(tmp_path, monkeypatch):
    archive = tmp_path / "ml-latest-small.zip"
    archive.write_bytes(small_release_zip(tmp_path))
    monkeypatch.setenv(_download.DATA_HOME_ENV, str(tmp_path / "cache"))

    interactions = get_movielens_dataset("latest-small", path=archive)

    assert len(interactions) == 2
    assert not (tmp_path / "cache").exists()


def test_cached_zip_with_wrong_ratings_never_fills_the_cache(tmp_path):
    make_zip(tmp_path / "ml-100k.zip", {"ml-100k/u.data": "1\t2\t3\t4\n"})

    with pytest.raises(DataFormatError, match=r"ml-100k/u\.data of .*ml-100k\.zip"):
        get_movielens_dataset("100K", data_home=tmp_path, download=False)

    assert files_in(tmp_path) == ["ml-100k", "ml-100k.zip"]


def test_zip_of_another_release_is_refused(tmp_path):
    archive = make_zip(tmp_path / "other.zip", {"ml-100k/u.data": "1\t2\t3\t4\n"})

    with pytest.raises(DataFormatError, match=r"does not hold ml-1m/ratings\.dat"):
        get_movielens_dataset("1M", path=archive)


def test_missing_local_path_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        get_movielens_dataset("1M", path=tmp_path / "nowhere")


def test_folder_without_the_ratings_file_lists_where_it_looked(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"looked for .*ratings\.dat\.gz"):
        get_movielens_dataset("1M", path=tmp_path)


def test_local_file_that_is_not_a_zip_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")

    with pytest.raises(ValueError, match="must be a folder or the zip file"):
        get_movielens_dataset("1M", path=tmp_path / "notes.txt")


def test_item_titles_from_a_local_folder(tmp_path):
    (tmp_path / "movies.csv").write_text(MOVIES_CSV)

    titles = get_movielens_item_titles("latest-small", path=tmp_path)

    assert titles == {10: "Ten, The (1990)", 20: "Twenty"}


# Cache folder


def test_data_home_argument_beats_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SPOTLIGHT_DATA_HOME", str(tmp_path / "env"))

    assert get_data_home(tmp_path / "arg") == tmp_path / "arg"
    assert get_data_home() == tmp_path / "env"


def test_data_home_defaults_to_spotlight_data_in_home(monkeypatch):
    monkeypatch.delenv("SPOTLIGHT_DATA_HOME", raising=False)

    assert get_data_home() == Path.home() / ".spotlight_data"


def test_without_download_an_empty_cache_says_where_to_put_the_zip(tmp_path):
    archive = tmp_path / "ml-1m.zip"

    with pytest.raises(FileNotFoundError) as error:
        get_movielens_dataset("1M", data_home=tmp_path, download=False)

    assert "https://files.grouplens.org/datasets/movielens/ml-1m.zip" in str(
        error.value
    )
    assert str(archive) in str(error.value)


# Downloads


def test_download_then_cached_copy_is_used(served_release, tmp_path):
    cache = tmp_path / "cache"

    first = get_movielens_dataset("latest-small", data_home=cache)
    second = get_movielens_dataset("latest-small", data_home=cache)
    titles = get_movielens_item_titles("latest-small", data_home=cache)

    assert served_release.requests == ["/ml-latest-small.zip"]
    assert len(first) == len(second) == 2
    assert titles[20] == "Twenty"
    assert files_in(cache) == [
        "ml-latest-small",
        "ml-latest-small.zip",
        "ml-latest-small/movies.csv",
        "ml-latest-small/ratings.csv",
    ]


def test_environment_variable_chooses_the_cache(served_release, tmp_path, monkeypatch):
    monkeypatch.setenv("SPOTLIGHT_DATA_HOME", str(tmp_path / "env-cache"))

    get_movielens_dataset("latest-small")

    assert (tmp_path / "env-cache" / "ml-latest-small.zip").is_file()


def test_checksum_mismatch_leaves_no_file_in_the_cache(
    served_release, tmp_path, monkeypatch
):
    wrong = Checksum("sha256", "0" * 64)
    monkeypatch.setitem(movielens.ARCHIVE_CHECKSUMS, "latest-small", wrong)
    cache = tmp_path / "cache"

    with pytest.raises(DownloadError, match=r"expected 0000.*was discarded"):
        get_movielens_dataset("latest-small", data_home=cache)

    assert files_in(cache) == []


def test_corrupt_zip_without_known_checksum_leaves_no_file(served_release, tmp_path):
    served_release.files["/ml-latest-small.zip"] = b"PK\x03\x04 not really a zip"
    cache = tmp_path / "cache"

    with pytest.raises(DataFormatError, match="did not give a valid zip file"):
        get_movielens_dataset("latest-small", data_home=cache)

    assert files_in(cache) == []


def test_server_down_names_the_url_and_destination(tmp_path, monkeypatch):
    release = dataclasses.replace(
        movielens.RELEASES["latest-small"], url=free_port_url()
    )
    monkeypatch.setitem(movielens.RELEASES, "latest-small", release)
    cache = tmp_path / "cache"

    with pytest.raises(DownloadError) as error:
        get_movielens_dataset("latest-small", data_home=cache)

    message = str(error.value)
    assert f"download {release.url}" in message
    assert f"save it as {cache / 'ml-latest-small.zip'}" in message
    assert files_in(cache) == []


def test_missing_file_on_the_server_is_a_download_error(server, tmp_path):
    destination = tmp_path / "file.bin"

    with pytest.raises(DownloadError, match="HTTP Error 404"):
        download(server.url + "missing.bin", destination)

    assert files_in(tmp_path) == []


def test_truncated_download_leaves_no_file(server, tmp_path):
    server.files["/file.bin"] = b"half"
    server.announced["/file.bin"] = 100

    with pytest.raises(DownloadError, match=r"save it as .*file\.bin"):
        download(server.url + "file.bin", tmp_path / "file.bin")

    assert files_in(tmp_path) == []


def test_download_verifies_a_correct_checksum(server, tmp_path):
    server.files["/file.bin"] = b"payload"
    checksum = Checksum("md5", hashlib.md5(b"payload").hexdigest().upper())

    path = download(server.url + "file.bin", tmp_path / "file.bin", checksum)

    assert path.read_bytes() == b"payload"


def test_cached_file_with_wrong_checksum_is_downloaded_again(server, tmp_path):
    server.files["/file.bin"] = b"payload"
    (tmp_path / "file.bin").write_bytes(b"damaged")
    checksum = Checksum("sha256", hashlib.sha256(b"payload").hexdigest())

    download(server.url + "file.bin", tmp_path / "file.bin", checksum)

    assert (tmp_path / "file.bin").read_bytes() == b"payload"
    assert server.requests == ["/file.bin"]


def test_download_refuses_other_url_schemes(tmp_path):
    with pytest.raises(ValueError, match="url must be an http"):
        download("ftp://example.org/file", tmp_path / "file")


# The real files of the development workspace


@needs_data
@pytest.mark.parametrize(
    ("variant", "folder", "rows", "users", "items"),
    [
        ("100K", "ml-100k", 100_000, 943, 1_682),
        ("latest-small", "ml-latest-small", 100_836, 610, 9_724),
    ],
)
def test_real_release_has_the_documented_size(variant, folder, rows, users, items):
    interactions = get_movielens_dataset(variant, path=DATA / folder)

    assert len(interactions) == rows
    assert interactions.num_users == users
    assert interactions.num_items == items + 1  # item 0 is the padding id


@needs_data
@pytest.mark.slow
def test_real_movielens_1m_has_the_documented_size_and_reads_fast():
    start = time.perf_counter()
    interactions = get_movielens_dataset("1M", path=DATA / "ml-1m")
    elapsed = time.perf_counter() - start

    assert len(interactions) == 1_000_209
    assert interactions.num_users == 6_040
    assert interactions.num_items == 3_706 + 1  # item 0 is the padding id
    assert elapsed < 10.0  # about 1 s on one core; generous for shared machines


@needs_data
@pytest.mark.parametrize(
    ("variant", "folder", "count"),
    [
        ("100K", "ml-100k", 1_682),
        ("1M", "ml-1m", 3_883),
        ("latest-small", "ml-latest-small", 9_742),
    ],
)
def test_real_titles_load_and_match_decoded_items(variant, folder, count):
    titles = get_movielens_item_titles(variant, path=DATA / folder)

    assert len(titles) == count
    assert titles[1] == "Toy Story (1995)"
