"""The file server as the SDK and browsers use it, against a real process sharing the API's token secret:
authentication, upload/download, ranges, attachments, HEAD, deletes, and every way a path could leave the
storage folder (400, nothing written)."""
from __future__ import annotations

import hashlib
import http.client
import os
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import jwt
import pytest
import requests

from support.client import ApiClient
from support.files import FilesClient
from support.names import unique
from support.waiting import wait_for
from trackside.shared.config import load_config

STAGING = ".trackside-uploads"


@pytest.fixture(scope="module")
def token(api_server) -> str:
    """A token issued by the API's auth.login, as the SDK gets it."""
    return ApiClient(api_server.url, api_server.key, api_server.secret).login().token


@pytest.fixture
def files(fileserver, token) -> FilesClient:
    return FilesClient(fileserver.url, token)


@pytest.fixture
def nobody(fileserver) -> FilesClient:
    return FilesClient(fileserver.url)


def token_signed_with(secret: str, expires_in: float, identity: dict | None = None) -> str:
    identity = identity or {"user": "u" * 32, "company": "c" * 32, "role": "admin"}
    return jwt.encode({"identity": identity, "exp": int(time.time() + expires_in)}, secret, algorithm="HS256")


def server_secret(fileserver) -> str:
    return load_config({"CLEARML_CONFIG_DIR": str(fileserver.config_dir)}).get("secure.auth.token_secret")


def snapshot(*folders: Path) -> dict[str, bytes]:
    """Every file under ``folders`` with its content: a request that must write nothing leaves it equal."""
    found = {}
    for folder in folders:
        for dirpath, _, names in os.walk(folder):
            for name in names:
                path = Path(dirpath, name)
                found[str(path)] = path.read_bytes() if not path.is_symlink() else b"<link>"
    return found


def raw_request(url: str, method: str, raw_path: str, token: str | None = None) -> tuple[int, bytes]:
    """A request whose path is sent exactly as written (no client-side normalisation of ``..``)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request(method, raw_path, headers={"Authorization": f"Bearer {token}"} if token else {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# -- authentication ------------------------------------------------------------------------------------------
def test_ping_answers_ok_without_a_token(nobody):
    reply = nobody.session.get(f"{nobody.url}/")
    assert reply.status_code == 200 and reply.text == "OK"


def test_ping_checks_a_token_when_one_is_sent(fileserver):
    assert FilesClient(fileserver.url, "garbage").session.get(f"{fileserver.url}/").status_code == 401


def test_no_token_is_401_for_every_file_operation(files, nobody):
    name = f"{unique('auth')}/secret.txt"
    assert files.upload(name, b"secret").status_code == 200
    replies = [nobody.upload(f"{unique('auth')}/x.txt", b"x"), nobody.get(name), nobody.head(name),
               nobody.delete(name), nobody.delete_many([name])]
    assert [r.status_code for r in replies] == [401] * 5
    assert replies[0].headers["WWW-Authenticate"].startswith("Bearer")
    assert files.get(name).content == b"secret"  # still there, unchanged


@pytest.mark.parametrize("kind", ["other secret", "expired", "garbage", "unsigned", "no identity"])
def test_wrong_or_expired_token_is_401(fileserver, files, kind):
    name = f"{unique('auth')}/kept.txt"
    assert files.upload(name, b"kept").status_code == 200
    token = {
        "other secret": lambda: token_signed_with("not-the-server-secret-but-long-enough-for-hs256", 600),
        "expired": lambda: token_signed_with(server_secret(fileserver), -60),
        "garbage": lambda: "a.b.c",
        "unsigned": lambda: jwt.encode({"identity": {"user": "u", "company": "c", "role": "admin"},
                                        "exp": int(time.time()) + 600}, None, algorithm="none"),
        "no identity": lambda: jwt.encode({"exp": int(time.time()) + 600}, server_secret(fileserver),
                                          algorithm="HS256"),
    }[kind]()
    client = FilesClient(fileserver.url, token)
    replies = [client.get(name), client.upload(name, b"overwritten"), client.delete(name)]
    assert [r.status_code for r in replies] == [401] * 3, [r.text for r in replies]
    assert "invalid token" in replies[0].text
    assert files.get(name).content == b"kept"


def test_basic_auth_is_refused(fileserver, api_server):
    reply = requests.get(f"{fileserver.url}/anything.txt", auth=(api_server.key, api_server.secret))
    assert reply.status_code == 401 and "Bearer" in reply.text


def test_a_token_made_with_the_server_secret_works(fileserver):
    """The file server checks tokens locally with the API's secret: any token the API would accept."""
    client = FilesClient(fileserver.url, token_signed_with(server_secret(fileserver), 600))
    name = f"{unique('local')}/x.bin"
    assert client.upload(name, b"x").status_code == 200 and client.get(name).content == b"x"


def test_web_login_cookie_is_accepted(fileserver, files, token):
    name = f"{unique('cookie')}/page.txt"
    files.upload(name, b"from the browser")
    browser = requests.Session()
    browser.cookies.set("clearml_token_basic", token)
    assert browser.get(f"{fileserver.url}/{name}").content == b"from the browser"
    browser.cookies.set("clearml_token_basic", "garbage")
    assert browser.get(f"{fileserver.url}/{name}").status_code == 401


# -- upload and download ------------------------------------------------------------------------------------
def test_sdk_shaped_upload_and_download_round_trip(fileserver, files):
    """One part; field name and filename are the object path with a leading '/', as the SDK sends them."""
    name = f"{unique('proj')}/flow.0123abcd/artifacts/dict_art/dict_art.json"
    reply = files.upload(name, b'{"a": 1}')
    assert reply.status_code == 200
    assert reply.json() == [name]
    assert (fileserver.root / name).read_bytes() == b'{"a": 1}'
    download = files.get(name)
    assert download.status_code == 200 and download.content == b'{"a": 1}'
    assert download.headers["Content-Type"] == "application/json"
    assert download.headers["Content-Disposition"].startswith("inline")
    assert "public" not in download.headers["Cache-Control"]  # files need a token: no shared caches


def test_several_parts_in_one_request(files):
    prefix = unique("multi")
    reply = files.session.post(f"{files.url}/", files={f"/{prefix}/a.txt": ("a.txt", b"A"),
                                                      f"{prefix}/b/b.txt": ("b.txt", b"B")})
    assert reply.status_code == 200 and reply.json() == [f"{prefix}/a.txt", f"{prefix}/b/b.txt"]
    assert files.get(f"{prefix}/b/b.txt").content == b"B"


def test_upload_replaces_an_existing_file(files):
    name = f"{unique('again')}/model.bin"
    files.upload(name, b"first version, longer")
    files.upload(name, b"second")
    assert files.get(name).content == b"second"


def test_names_with_spaces_and_unicode(files):
    name = f"{unique('my project')}/täsk name.abc/artifacts/data file.csv"
    assert files.upload(name, b"1,2\n").json() == [name]
    assert files.get(name).content == b"1,2\n"  # requests quotes the URL; the server decodes it


def test_empty_file(files):
    name = f"{unique('empty')}/nothing.txt"
    assert files.upload(name, b"").status_code == 200
    reply = files.get(name)
    assert reply.status_code == 200 and reply.content == b""


def test_download_of_a_missing_file_or_a_folder_is_404(files):
    prefix = unique("missing")
    files.upload(f"{prefix}/inside/x.txt", b"x")
    assert files.get(f"{prefix}/nothing-here.txt").status_code == 404
    assert files.get(f"{prefix}/inside").status_code == 404


@pytest.fixture(scope="module")
def ten_bytes(fileserver, token) -> str:
    name = f"{unique('ranges')}/digits.txt"
    assert FilesClient(fileserver.url, token).upload(name, b"0123456789").status_code == 200
    return name


@pytest.mark.parametrize("range_header, content, content_range", [
    ("bytes=0-3", b"0123", "bytes 0-3/10"),
    ("bytes=4-", b"456789", "bytes 4-9/10"),
    ("bytes=-3", b"789", "bytes 7-9/10"),  # a suffix range: the last three bytes
    ("bytes=8-100", b"89", "bytes 8-9/10"),
])
def test_range_requests(files, ten_bytes, range_header, content, content_range):
    reply = files.get(ten_bytes, headers={"Range": range_header})
    assert reply.status_code == 206
    assert reply.content == content
    assert reply.headers["Content-Range"] == content_range
    assert reply.headers["Content-Length"] == str(len(content))


@pytest.mark.parametrize("range_header", ["bytes=10-", "bytes=20-30"])
def test_unsatisfiable_range_is_416(files, ten_bytes, range_header):
    reply = files.get(ten_bytes, headers={"Range": range_header})
    assert reply.status_code == 416
    assert reply.headers["Content-Range"] == "bytes */10"


def test_whole_file_advertises_ranges(files, ten_bytes):
    reply = files.get(ten_bytes)
    assert reply.status_code == 200 and reply.headers["Accept-Ranges"] == "bytes"


def test_download_parameter_makes_an_attachment(files, ten_bytes):
    reply = files.get(ten_bytes, params={"download": ""})
    assert reply.status_code == 200 and reply.content == b"0123456789"
    assert reply.headers["Content-Disposition"] == "attachment; filename=digits.txt"


def test_head(files, ten_bytes):
    reply = files.head(ten_bytes)
    assert reply.status_code == 200
    assert reply.headers["Content-Length"] == "10" and reply.content == b""
    assert files.head(f"{unique('nohead')}/x.txt").status_code == 404


def test_uploaded_html_cannot_run_as_the_file_servers_origin(files):
    name = f"{unique('html')}/report.html"
    files.upload(name, b"<script>alert(document.cookie)</script>")
    reply = files.get(name)
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["Content-Security-Policy"].startswith("sandbox")


def test_compressed_files_are_served_as_bytes(files):
    name = f"{unique('gz')}/data.csv.gz"
    files.upload(name, b"\x1f\x8b fake gzip")
    reply = files.get(name)
    assert reply.headers["Content-Type"] == "application/octet-stream"
    assert "Content-Encoding" not in reply.headers and reply.content == b"\x1f\x8b fake gzip"


# -- delete -------------------------------------------------------------------------------------------------
def test_delete(fileserver, files):
    name = f"{unique('del')}/model.pkl"
    files.upload(name, b"weights")
    reply = files.delete(name)
    assert reply.status_code == 200 and reply.json() == name
    assert files.get(name).status_code == 404
    assert not (fileserver.root / name).exists()
    assert files.delete(name).status_code == 404


def test_delete_of_a_folder_is_404(files):
    prefix = unique("delfolder")
    files.upload(f"{prefix}/inside.txt", b"x")
    assert files.delete(prefix).status_code == 404
    assert files.get(f"{prefix}/inside.txt").status_code == 200


def test_delete_many_files_folders_and_missing_paths(fileserver, files):
    task = unique("task")
    files.upload(f"{task}/artifacts/a/a.json", b"a")
    files.upload(f"{task}/models/m.bin", b"m")
    files.upload(f"{task}/metrics/loss/x.jpeg", b"j")
    gone = f"{task}/nothing.txt"
    reply = files.delete_many([f"{task}/models/m.bin", f"/{task}/metrics", gone])
    assert reply.status_code == 200
    assert reply.json() == {
        "deleted": {f"{task}/models/m.bin": f"{task}/models/m.bin", f"/{task}/metrics": f"{task}/metrics"},
        "errors": {"Not found": [gone]},
    }
    assert not (fileserver.root / task / "metrics").exists()
    assert files.get(f"{task}/artifacts/a/a.json").content == b"a"


def test_delete_many_takes_url_quoted_paths(files):
    name = f"{unique('quoted')}/with space.txt"
    files.upload(name, b"x")
    reply = files.delete_many([name.replace(" ", "+")])
    assert reply.json()["deleted"] == {name.replace(" ", "+"): name}


@pytest.mark.parametrize("body", [
    b"not json", b"[]", b"{}", b'{"files": []}', b'{"files": "a.txt"}', b'{"files": [1]}', b'{"files": null}',
])
def test_delete_many_bad_bodies_are_400(files, body):
    reply = files.session.post(f"{files.url}/delete_many", data=body, headers={"Content-Type": "application/json"})
    assert reply.status_code == 400, reply.text


# -- paths that would leave the storage folder: 400 and nothing written -----------------------------------------
@pytest.mark.parametrize("field_name", [
    "/../{x}", "../{x}", "/a/../../{x}", "/a/b/../../../{x}", "/a/..", "..",
    "//tmp/{x}", "//etc/{x}", "/a/\x00{x}", "/a/\x07{x}", "", "/", f"/{STAGING}/{{x}}",
])
def test_upload_with_a_bad_object_path_is_400_and_writes_nothing(fileserver, files, field_name):
    escape = unique("escape") + ".txt"
    field_name = field_name.format(x=escape)
    before = snapshot(fileserver.root)
    good = f"/{unique('fine')}/first.txt"
    # A good part first: the whole request is refused, so it must not be stored either.
    reply = files.session.post(f"{files.url}/", files=[(good, (good, b"fine")), (field_name, (escape, b"ESCAPED"))])
    assert reply.status_code == 400, reply.text
    assert snapshot(fileserver.root) == before
    written = [*fileserver.root.parents[1].rglob(escape), *Path("/tmp").glob(escape), *Path("/etc").glob(escape)]
    assert written == []


@pytest.mark.parametrize("raw_path", [
    "/../escape.txt", "/a/../../escape.txt", "/%2e%2e/escape.txt", "/a/%2E%2E/%2e%2e/escape.txt",
    "/a/..%2f..%2fescape.txt", "/a/%00.txt", f"/{STAGING}/x.part",
])
@pytest.mark.parametrize("method", ["GET", "HEAD", "DELETE"])
def test_url_paths_that_leave_the_folder_are_400(fileserver, token, raw_path, method):
    before = snapshot(fileserver.root)
    status, _ = raw_request(fileserver.url, method, raw_path, token)
    assert status == 400
    assert snapshot(fileserver.root) == before


def test_delete_many_with_one_bad_path_deletes_nothing(fileserver, files):
    name = f"{unique('many')}/keep.txt"
    files.upload(name, b"keep")
    before = snapshot(fileserver.root)
    for bad in ["../x", "/a/../../x", "%2e%2e/x", "", "/"]:
        reply = files.delete_many([name, bad])
        assert reply.status_code == 400, (bad, reply.text)
    assert snapshot(fileserver.root) == before


@pytest.fixture
def outside(tmp_path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_bytes(b"outside secret")
    return folder


def test_symlinks_leaving_the_root_are_400(fileserver, files, token, outside):
    prefix = fileserver.root / unique("links")
    prefix.mkdir()
    (prefix / "dir").symlink_to(outside, target_is_directory=True)
    (prefix / "file").symlink_to(outside / "secret.txt")
    rel = prefix.relative_to(fileserver.root)
    before = snapshot(fileserver.root, outside)
    replies = [
        files.get(f"{rel}/dir/secret.txt"), files.get(f"{rel}/file"), files.head(f"{rel}/file"),
        files.upload(f"{rel}/dir/new.txt", b"ESCAPED"), files.upload(f"{rel}/file", b"ESCAPED"),
        files.delete(f"{rel}/dir/secret.txt"), files.delete(f"{rel}/file"),
        files.delete_many([f"{rel}/dir"]), files.delete_many([f"{rel}/dir/secret.txt"]),
    ]
    assert [r.status_code for r in replies] == [400] * len(replies), [r.text for r in replies]
    assert snapshot(fileserver.root, outside) == before


def test_symlinks_inside_the_root_are_followed(fileserver, files):
    prefix = unique("inlinks")
    files.upload(f"{prefix}/real/data.txt", b"data")
    (fileserver.root / prefix / "alias").symlink_to(fileserver.root / prefix / "real", target_is_directory=True)
    assert files.get(f"{prefix}/alias/data.txt").content == b"data"


def test_a_link_to_the_root_itself_is_refused(fileserver, files):
    prefix = unique("rootlink")
    files.upload(f"{prefix}/x.txt", b"x")
    (fileserver.root / prefix / "root").symlink_to(fileserver.root, target_is_directory=True)
    before = snapshot(fileserver.root)
    assert files.delete_many([f"{prefix}/root"]).status_code == 400
    assert files.upload(f"{prefix}/root", b"x").status_code == 400
    assert snapshot(fileserver.root) == before
    assert files.get(f"{prefix}/root/{prefix}/x.txt").content == b"x"  # through the link, still inside


# -- malformed uploads -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("headers, body, status", [
    ({"Content-Type": "application/json"}, b'{"a": 1}', 400),
    ({"Content-Type": "multipart/form-data"}, b"--x\r\n", 400),  # no boundary
    ({"Content-Type": "multipart/form-data; boundary=x"}, b"--x--\r\n", 400),  # no parts
    ({"Content-Type": "multipart/form-data; boundary=x"}, b"--x\r\nno headers here\r\n\r\ndata\r\n--x--\r\n", 400),
    ({"Content-Type": "multipart/form-data; boundary=x"}, b"garbage without any boundary", 400),
    ({"Content-Type": "multipart/form-data; boundary=x", "Content-Encoding": "gzip"}, b"--x--\r\n", 415),
])
def test_malformed_uploads_write_nothing(fileserver, files, headers, body, status):
    before = snapshot(fileserver.root)
    reply = files.session.post(f"{files.url}/", data=body, headers=headers)
    assert reply.status_code == status, reply.text
    assert snapshot(fileserver.root) == before


def test_methods_not_served(files, ten_bytes):
    assert files.session.put(f"{files.url}/{ten_bytes}", data=b"x").status_code == 405
    assert files.session.post(f"{files.url}/{ten_bytes}", data=b"x").status_code == 405


# -- interrupted uploads -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_dropped_upload_leaves_no_file_and_no_temp_file(fileserver, token, chunked):
    """The client sends the headers and half the body, then closes the socket."""
    prefix = unique("dropped")
    boundary = "droppedboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"/{prefix}/big.bin\"; "
            f"filename=\"/{prefix}/big.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    data = os.urandom(4 * 1024 * 1024)
    tail = f"\r\n--{boundary}--\r\n".encode()
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(head) + len(data) + len(tail)}"
    request = (f"POST / HTTP/1.1\r\nHost: files\r\nAuthorization: Bearer {token}\r\n"
               f"Content-Type: multipart/form-data; boundary={boundary}\r\n{framing}\r\n\r\n").encode()
    sent = head + data[: len(data) // 2]
    if chunked:
        sent = f"{len(sent):x}\r\n".encode() + sent + b"\r\n"
    staging = fileserver.root / STAGING
    address = urlsplit(fileserver.url)
    with socket.create_connection((address.hostname, address.port)) as sock:
        sock.sendall(request + sent)
        wait_for(lambda: any(staging.iterdir()))  # the server is writing the part
        sock.shutdown(socket.SHUT_RDWR)
    wait_for(lambda: not any(staging.iterdir()))
    assert not (fileserver.root / prefix).exists()


def test_upload_streamed_in_chunks_stores_every_byte(fileserver, files):
    """Chunked transfer encoding from a generator (the client never holds the whole body)."""
    name = f"{unique('stream')}/data.bin"
    pieces = [os.urandom(300_001) for _ in range(10)] + [b"\r\n--not-the-boundary\r\n" * 1000]
    reply = files.upload_stream(name, iter(pieces))
    assert reply.status_code == 200 and reply.json() == [name]
    assert hashlib.sha256((fileserver.root / name).read_bytes()).digest() == hashlib.sha256(b"".join(pieces)).digest()
    assert not any((fileserver.root / STAGING).iterdir())


def test_upload_onto_a_folder_or_below_a_file_is_400(fileserver, files):
    prefix = unique("clash")
    files.upload(f"{prefix}/file.txt", b"x")
    before = snapshot(fileserver.root)
    assert files.upload(f"{prefix}/file.txt/below.txt", b"y").status_code == 400
    assert files.upload(prefix, b"y").status_code == 400
    assert snapshot(fileserver.root) == before
