"""adcrnn_lib.download against a zip served from a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import functools
import http.server
import socket
import threading
import zipfile
from pathlib import Path

import pytest

from adcrnn_lib import cli, data
from adcrnn_lib.download import download_emodb
from adcrnn_lib.exceptions import DataError
from adcrnn_lib.storage import sha256_file

from .helpers.audio import make_corpus


@pytest.fixture
def served(tmp_path):
    """A folder served over HTTP on 127.0.0.1 for the duration of one test; yields (folder, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def emodb_zip(tmp_path, served):
    """A zip laid out like the public one (wav/ plus other folders) and the manifest of its wavs."""
    wav = make_corpus(tmp_path / "src" / "wav", sentences=("a01",), extra_takes=0)
    root, base = served
    with zipfile.ZipFile(root / "download.zip", "w") as zf:
        for p in sorted(wav.glob("*.wav")):
            zf.write(p, f"wav/{p.name}")
        zf.writestr("lablaut/03a01Fa.lablaut", "not audio")
        zf.writestr("silb/03a01Fa.silb", "not audio")
    (root / "not_a_zip.zip").write_bytes(b"<html>moved</html>")
    manifest = {p.name: sha256_file(p) for p in wav.glob("*.wav")}
    return f"{base}/download.zip", manifest, base


def test_download_unpacks_and_verifies(tmp_path, emodb_zip):
    url, manifest, _ = emodb_zip
    target = download_emodb(tmp_path / "data" / "emodb", url=url, manifest=manifest)
    assert target == tmp_path / "data" / "emodb" / "wav"
    assert sorted(p.name for p in target.iterdir()) == sorted(manifest)
    data.verify_corpus(target, manifest)
    assert [p.name for p in target.parent.iterdir()] == ["wav"]  # no temporary folder left behind
    assert data.find_corpus(target.parent) == target.resolve()


def test_download_checksum_mismatch_leaves_nothing(tmp_path, emodb_zip):
    url, manifest, _ = emodb_zip
    name = sorted(manifest)[3]
    wrong = {**manifest, name: "0" * 64}
    with pytest.raises(DataError, match=f"{name}: checksum mismatch"):
        download_emodb(tmp_path / "emodb", url=url, manifest=wrong)
    assert not (tmp_path / "emodb" / "wav").exists()
    assert list((tmp_path / "emodb").iterdir()) == []


def test_download_offline_gives_a_clear_message(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DataError, match="could not download EmoDB.*ADCRNN_EMODB"):
        download_emodb(tmp_path / "emodb", url=f"http://127.0.0.1:{port}/download.zip", manifest={}, timeout=5)
    assert not (tmp_path / "emodb" / "wav").exists()


def test_download_rejects_a_non_zip(tmp_path, emodb_zip):
    _, manifest, base = emodb_zip
    with pytest.raises(DataError, match="not a valid zip"):
        download_emodb(tmp_path / "emodb", url=f"{base}/not_a_zip.zip", manifest=manifest)


def test_existing_copy_is_verified_not_refetched(tmp_path, emodb_zip):
    url, manifest, base = emodb_zip
    target = download_emodb(tmp_path / "emodb", url=url, manifest=manifest)
    assert download_emodb(tmp_path / "emodb", url=f"{base}/gone.zip", manifest=manifest) == target
    with pytest.raises(DataError, match="404"):
        download_emodb(tmp_path / "emodb", url=f"{base}/gone.zip", manifest=manifest, force=True)
    assert sorted(p.name for p in target.iterdir()) == sorted(manifest)  # a failed refresh keeps the copy


def test_cli_download_reports_failure(tmp_path, emodb_zip, capsys):
    url, _, _ = emodb_zip
    # the packaged manifest is EmoDB's: the synthetic zip fails its checksums
    status = cli.main(["data", "download", "--url", url, "--dest", str(tmp_path / "emodb")])
    assert status == 2
    err = capsys.readouterr().err
    assert "adcrnn: error:" in err and "missing" in err
    assert not Path(tmp_path / "emodb" / "wav").exists()
