"""`download`: the protocol's files, checked against the package's table, into MNE's layout, offline.

A threaded HTTP server on 127.0.0.1 (random port) serves a mirror tree laid out like
``https://physionet.org/files/`` holding the real SC4001 files (symlinked from the test
data), with HTTP Range support and switches for misbehaving (ignore Range, cut the
connection). PhysioNet's own address is replaced by a closed local port, so no test can
reach the internet.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from isatsleepnet.data import download as download_module
from isatsleepnet.data.download import RemoteFile, checksum_table, download, local_path, url_of
from isatsleepnet.data.download_sleep_edf import public_files
from isatsleepnet.errors import DataError, IsatSleepNetError, SettingError

ROOT = Path(__file__).resolve().parents[2]
CASSETTE = "sleep-edfx/1.0.0/sleep-cassette"
SC4001 = ("SC4001E0-PSG.edf", "SC4001EC-Hypnogram.edf")


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """PhysioNet's address points at a closed local port: a test that forgets its mirror fails, offline."""
    monkeypatch.setattr(download_module, "PHYSIONET", "http://127.0.0.1:9/files/")


class MirrorServer:
    """A local HTTP server of ``root`` that records each request's path and Range header."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[tuple[str, str | None]] = []
        self.honour_range = True
        self.cut_after: int | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                rng = self.headers.get("Range")
                server.requests.append((self.path, rng))
                path = server.root / unquote(urlsplit(self.path).path).lstrip("/")
                if not path.is_file():
                    self.send_error(404)
                    return
                data = path.read_bytes()
                start = 0
                if rng and server.honour_range:
                    start = int(re.fullmatch(r"bytes=(\d+)-", rng)[1])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body if server.cut_after is None else body[:server.cut_after])

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/files/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def gets(self, name: str) -> list[str | None]:
        """The Range header of each request for the file ``name`` (None: a whole-file request)."""
        return [rng for path, rng in self.requests if path.endswith("/" + name)]


@pytest.fixture
def mirror(sleep_edf_dir: Path, tmp_path: Path) -> Iterator[MirrorServer]:
    """A mirror of the SC4001 night, served while the test runs."""
    folder = tmp_path / "mirror" / "files" / CASSETTE
    folder.mkdir(parents=True)
    for name in SC4001:
        (folder / name).symlink_to(sleep_edf_dir / name)
    server = MirrorServer(tmp_path / "mirror")
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def _corrupt(server: MirrorServer, name: str) -> bytes:
    """Replace the served ``name`` by a copy of the same size with one byte changed; the original bytes."""
    served = server.root / "files" / CASSETTE / name
    original = served.read_bytes()
    served.unlink()
    served.write_bytes(original[:100] + bytes([original[100] ^ 0xFF]) + original[101:])
    return original


# ------------------------------------------------------------------ the checksum table
def test_the_table_is_what_the_script_writes() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "make_checksums.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_table_covers_the_whole_dataset() -> None:
    rows = checksum_table()
    cassette = {(r.subject, r.night) for r in rows if "/sleep-cassette/" in r.file.path}
    telemetry = {(r.subject, r.night) for r in rows if "/sleep-telemetry/" in r.file.path}
    assert (len(rows), len(cassette), len({s for s, _ in cassette})) == (394, 153, 78)
    assert (len(telemetry), len({s for s, _ in telemetry})) == (44, 22)
    assert all(re.fullmatch(r"[0-9a-f]{40}", r.file.sha1) for r in rows)


def test_the_real_sc4001_files_match_the_table(sleep_edf_dir: Path) -> None:
    import pooch

    for file in public_files("sleep-edf-20", subjects=[0], nights=[1]):
        path = sleep_edf_dir / file.name
        assert pooch.file_hash(str(path), alg="sha1") == file.sha1
        assert path.stat().st_size == file.size


# ------------------------------------------------------------------ which files
def test_each_protocol_needs_its_files() -> None:
    edf20 = public_files("sleep-edf-20")
    assert len(edf20) == 78 and {f.name[:3] for f in edf20} == {"SC4"}
    assert max(int(f.name[3:5]) for f in edf20) == 19
    assert [f.name for f in public_files("sleep-edf-20", subjects=[13])] == ["SC4131E0-PSG.edf", "SC4131EC-Hypnogram.edf"]
    assert len(public_files("sleep-edf-78")) == 306
    st = public_files("sleep-edf-st", subjects=[1], nights=[2])
    assert [f.name for f in st] == ["ST7012J0-PSG.edf", "ST7012JP-Hypnogram.edf"]


@pytest.mark.parametrize(("kwargs", "words"), [
    (dict(subjects=[20]), "subjects= names 20, not a subject of sleep-edf-20 (it has 0-19)"),
    (dict(nights=[3]), "nights= names 3, not a night of sleep-edf-20"),
    (dict(subjects=[13], nights=[2]), "leaves nothing of subject 13 of sleep-edf-20 (it has night 1 only)"),
])
def test_a_subject_or_night_not_in_the_dataset_is_one_line(kwargs: dict, words: str) -> None:
    with pytest.raises(SettingError) as caught:
        public_files("sleep-edf-20", **kwargs)
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_unknown_dataset_and_shhs_say_what_to_do(tmp_path: Path) -> None:
    downloadable = "downloadable: sleep-edf-20, sleep-edf-78, sleep-edf-st"
    with pytest.raises(SettingError, match=f"dataset= 'sleep-edf-99' is not a dataset that can be downloaded; "
                                           f"{downloadable}$"):
        download("sleep-edf-99", tmp_path)
    with pytest.raises(IsatSleepNetError) as caught:
        download("shhs", tmp_path)
    assert "NSRR account" in str(caught.value) and "sleepdata.org" in str(caught.value)
    for reads_yours in ("edf", "sleep-edf"):
        with pytest.raises(SettingError, match=f"recordings you already have.*{downloadable}$"):
            download(reads_yours, tmp_path)
    assert not any(tmp_path.iterdir())


def test_the_command_names_the_dataset_as_its_positional_argument(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from isatsleepnet.cli.main import main

    assert main(["download", "foo", "--out", str(tmp_path / "dl")]) == 2
    assert capsys.readouterr().err.strip() == ("isatsleepnet download: error: DATASET 'foo' is not a dataset that can "
                                               "be downloaded; downloadable: sleep-edf-20, sleep-edf-78, sleep-edf-st")
    assert not (tmp_path / "dl").exists()


def test_a_mirror_must_be_an_http_address() -> None:
    file = RemoteFile(f"{CASSETTE}/SC4001E0-PSG.edf", "0" * 40)
    assert url_of(file, "https://mirror.example.org/physionet/") == \
        f"https://mirror.example.org/physionet/{CASSETTE}/SC4001E0-PSG.edf"
    with pytest.raises(SettingError, match="mirror= must be an http"):
        url_of(file, "/data/physionet")
    with pytest.raises(SettingError, match="mirror= is not a valid address"):
        url_of(file, "http://[bad")
    with pytest.raises(SettingError, match="mirror= is not a valid address"):
        url_of(file, "http://host:port/")
    with pytest.raises(SettingError, match="with a host"):
        url_of(file, "http:///physionet")


# ------------------------------------------------------------------ downloading
def test_download_gives_byte_identical_files_in_mne_layout_then_skips(mirror: MirrorServer, tmp_path: Path,
                                                                      sleep_edf_dir: Path) -> None:
    out = tmp_path / "mne_data"
    result = download("sleep-edf-20", out, subjects=[0], nights=[1], mirror=mirror.url, progress=False)
    folder = out / "physionet-sleep-data"
    assert result.folder == folder and result.present == ()
    assert [p.name for p in result.downloaded] == list(SC4001)
    for name in SC4001:
        assert (folder / name).read_bytes() == (sleep_edf_dir / name).read_bytes()
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == sorted(SC4001)

    before = len(mirror.requests)
    again = download("sleep-edf-20", out, subjects=[0], nights=[1], mirror=mirror.url, progress=False)
    assert again.downloaded == () and [p.name for p in again.present] == list(SC4001)
    assert len(mirror.requests) == before  # verified on disk, nothing asked of the server


def test_without_a_mirror_files_come_from_physionets_paths(mirror: MirrorServer, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(download_module, "PHYSIONET", mirror.url)
    download("sleep-edf-20", tmp_path, subjects=[0], nights=[1], progress=False)
    assert [path for path, _ in mirror.requests] == [f"/files/{CASSETTE}/{name}" for name in SC4001]


def test_a_partial_download_resumes_with_a_range_request(mirror: MirrorServer, tmp_path: Path,
                                                         sleep_edf_dir: Path) -> None:
    psg = sleep_edf_dir / SC4001[0]
    folder = tmp_path / "physionet-sleep-data"
    folder.mkdir()
    (folder / f"{SC4001[0]}.part").write_bytes(psg.read_bytes()[:10_000_000])
    download("sleep-edf-20", tmp_path, subjects=[0], nights=[1], mirror=mirror.url, progress=False)
    assert mirror.gets(SC4001[0]) == ["bytes=10000000-"]
    assert (folder / SC4001[0]).read_bytes() == psg.read_bytes()
    assert not (folder / f"{SC4001[0]}.part").exists()


def test_a_cut_connection_keeps_the_part_and_the_next_run_finishes(mirror: MirrorServer, tmp_path: Path,
                                                                   sleep_edf_dir: Path) -> None:
    folder = tmp_path / "physionet-sleep-data"
    mirror.cut_after = 5_000_000
    with pytest.raises(DataError, match=r"SC4001E0-PSG.edf: the server closed the connection after 5000000 of"):
        download("sleep-edf-20", tmp_path, subjects=[0], nights=[1], mirror=mirror.url, progress=False)
    assert (folder / f"{SC4001[0]}.part").stat().st_size == 5_000_000
    assert not (folder / SC4001[0]).exists()
    mirror.cut_after = None
    download("sleep-edf-20", tmp_path, subjects=[0], nights=[1], mirror=mirror.url, progress=False)
    assert mirror.gets(SC4001[0]) == [None, "bytes=5000000-"]
    assert (folder / SC4001[0]).read_bytes() == (sleep_edf_dir / SC4001[0]).read_bytes()


def test_a_server_that_ignores_range_sends_the_whole_file_again(mirror: MirrorServer, tmp_path: Path,
                                                                sleep_edf_dir: Path) -> None:
    folder = tmp_path / "physionet-sleep-data"
    folder.mkdir()
    (folder / f"{SC4001[1]}.part").write_bytes((sleep_edf_dir / SC4001[1]).read_bytes()[:1000])
    mirror.honour_range = False
    download("sleep-edf-20", tmp_path, subjects=[0], nights=[1], mirror=mirror.url, progress=False)
    assert (folder / SC4001[1]).read_bytes() == (sleep_edf_dir / SC4001[1]).read_bytes()


def test_a_corrupted_copy_is_refused_and_nothing_keeps_its_name(mirror: MirrorServer, tmp_path: Path) -> None:
    _corrupt(mirror, SC4001[1])
    folder = tmp_path / "physionet-sleep-data"
    with pytest.raises(DataError) as caught:
        download("sleep-edf-20", tmp_path, subjects=[0], nights=[1], mirror=mirror.url, progress=False)
    message = str(caught.value)
    assert message.startswith("SC4001EC-Hypnogram.edf: ") and "does not match its SHA1" in message
    assert "\n" not in message
    assert (folder / SC4001[0]).is_file()  # the good file before it is kept
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == [SC4001[0]]


def test_a_part_that_does_not_lead_to_the_right_file_is_deleted(mirror: MirrorServer, tmp_path: Path) -> None:
    folder = tmp_path / "physionet-sleep-data"
    folder.mkdir()
    part = folder / f"{SC4001[1]}.part"
    part.write_bytes(b"\0" * 1000)  # not the first 1000 bytes of the hypnogram
    with pytest.raises(DataError, match="does not match its SHA1"):
        download("sleep-edf-20", tmp_path, subjects=[0], nights=[1], mirror=mirror.url, progress=False)
    assert not part.exists() and not (folder / SC4001[1]).exists()
    download("sleep-edf-20", tmp_path, subjects=[0], nights=[1], mirror=mirror.url, progress=False)
    assert mirror.gets(SC4001[1]) == ["bytes=1000-", None]


def test_a_wrong_file_on_disk_is_replaced(mirror: MirrorServer, tmp_path: Path, sleep_edf_dir: Path) -> None:
    folder = tmp_path / "physionet-sleep-data"
    folder.mkdir()
    (folder / SC4001[1]).write_bytes(b"not a hypnogram")
    result = download("sleep-edf-20", tmp_path, subjects=[0], nights=[1], mirror=mirror.url, progress=False)
    assert [p.name for p in result.downloaded] == list(SC4001)
    assert (folder / SC4001[1]).read_bytes() == (sleep_edf_dir / SC4001[1]).read_bytes()


def test_a_missing_file_on_the_server_is_one_line(mirror: MirrorServer, tmp_path: Path) -> None:
    (mirror.root / "files" / CASSETTE / SC4001[0]).unlink()
    with pytest.raises(DataError, match=r"^SC4001E0-PSG.edf: the server answered 404 "):
        download("sleep-edf-20", tmp_path, subjects=[0], nights=[1], mirror=mirror.url, progress=False)


# ------------------------------------------------------------------ the command, and prepare after it
def _parser() -> argparse.ArgumentParser:
    """The `download` and `prepare` commands as `isatsleepnet` wires them (``main`` imports every command)."""
    from isatsleepnet.cli import download as cli_download
    from isatsleepnet.cli import prepare as cli_prepare

    parser = argparse.ArgumentParser(prog="isatsleepnet")
    parser.add_argument("--debug", action="store_true")
    subparsers = parser.add_subparsers(dest="command", required=True)
    cli_download.add_parser(subparsers)
    cli_prepare.add_parser(subparsers)
    return parser


def test_the_command_downloads_and_prepare_finds_the_night(mirror: MirrorServer, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mne_data"
    args = _parser().parse_args(["download", "sleep-edf-20", "--out", str(out), "--subjects", "0",
                                 "--nights", "1", "--mirror", mirror.url, "--quiet"])
    assert args.run(args) == 0
    printed = capsys.readouterr().out
    assert "2 file(s) downloaded, 0 already there" in printed
    assert f"isatsleepnet prepare --dataset sleep-edf-20 --data-dir {out}" in printed
    assert local_path(out, public_files("sleep-edf-20", subjects=[0], nights=[1])[0]).is_file()

    prepared = tmp_path / "prepared"
    args = _parser().parse_args(["prepare", "--dataset", "sleep-edf-20", "--data-dir", str(out),
                                 "--out", str(prepared), "--quiet"])
    assert args.run(args) == 0
    manifest = (prepared / "manifest.csv").read_text()
    assert "SC4001E0" in manifest


def test_the_command_reads_subject_lists() -> None:
    args = _parser().parse_args(["download", "sleep-edf-78", "--out", "d", "--subjects", "0,2-4,3", "--nights", "2"])
    assert (args.subjects, args.nights) == ([0, 2, 3, 4], [2])


@pytest.mark.parametrize(("subjects", "words"), [
    ("a", "expected numbers such as 0,1,5-7, got 'a'"),
    ("1,,2", "empty item"),
    ("0,", "empty item"),
    ("4-2", "'4-2' is a descending range: write 2-4"),
    ("0-1000000000", "'0-1000000000' is outside 0-999"),  # refused before it is expanded
    ("-1", "expected numbers"),
])
def test_a_bad_subject_list_is_one_line_at_parse_time(subjects: str, words: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        _parser().parse_args(["download", "sleep-edf-78", "--out", "d", "--subjects", subjects])
    assert caught.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert words in error and error.startswith("usage") is False


@pytest.mark.parametrize(("value", "words"), [
    ("x", "argument --nights: expected nights such as 1 or 1,2, got 'x'"),
    ("1,", "argument --nights: expected nights such as 1 or 1,2, got an empty item in '1,'"),
])
def test_a_bad_night_list_gives_a_night_example(value: str, words: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        _parser().parse_args(["download", "sleep-edf-78", "--out", "d", "--nights", value])
    assert caught.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(words)


@pytest.mark.parametrize(("kwargs", "words"), [
    (dict(subjects=0), "subjects= must be a list of whole numbers such as [0, 1], got 0"),
    (dict(subjects="0"), "subjects= must be a list of whole numbers such as [0, 1], got '0'"),
    (dict(subjects=[]), "subjects= is empty; leave it out (None) for all of them"),
    (dict(nights=[1.5]), "nights= must be whole numbers, got 1.5"),
    (dict(nights=[True]), "nights= must be whole numbers, got True"),
])
def test_python_subjects_and_nights_are_checked(kwargs: dict, words: str, tmp_path: Path) -> None:
    with pytest.raises(SettingError) as caught:
        download("sleep-edf-20", tmp_path, **kwargs)
    assert str(caught.value) == words
    assert not any(tmp_path.iterdir())


def test_an_out_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    out = tmp_path / "mne_data"
    out.write_text("not a folder")
    with pytest.raises(SettingError, match=r"out= .*mne_data is a file; name a folder"):
        download("sleep-edf-20", out, subjects=[0], nights=[1])
    assert out.read_text() == "not a folder"


def test_a_temporary_file_left_by_a_killed_run_is_removed(mirror: MirrorServer, tmp_path: Path) -> None:
    folder = tmp_path / "mne_data" / "physionet-sleep-data"
    folder.mkdir(parents=True)
    (folder / "tmpab3_x9zq").write_bytes(b"")  # pooch's temporary file, as a kill -9 leaves it
    (folder / "tmp_notes.txt").write_text("mine")  # not pooch's pattern: kept
    download("sleep-edf-20", tmp_path / "mne_data", subjects=[0], nights=[1], mirror=mirror.url, progress=False)
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == sorted(
        [*SC4001, "tmp_notes.txt"])


def lab_files(dataset: str, subjects=None, nights=None) -> list[RemoteFile]:  # noqa: ANN001
    """The download function of the test-only dataset below: one file."""
    return [RemoteFile("lab/1.0/P01.edf", "0" * 40)]


def test_the_help_lists_the_downloadable_datasets_of_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    from isatsleepnet.cli.main import main
    from isatsleepnet.data.datasets import Dataset, register_dataset, unregister_dataset

    register_dataset(Dataset("mylab-public", "our lab's public nights (1 night)",
                             find="isatsleepnet.data.datasets_generic:find_edf",
                             download="tests.data.test_download:lab_files"))
    try:
        with pytest.raises(SystemExit):
            main(["download", "--help"])
    finally:
        unregister_dataset("mylab-public")
    text = capsys.readouterr().out
    assert re.search(r"sleep-edf-20 +Sleep-EDF Expanded, Sleep Cassette subjects 0-19 \(39 nights, 78 files\)", text)
    assert re.search(r"mylab-public +our lab's public nights \(1 night, 1 file\)", text)
    assert re.search(r"shhs +not downloadable here: needs an NSRR account", text)
    assert "  edf " not in text  # nothing to download, nothing to say
