"""A local git "remote" for agent tests: a bare repository with history, a tag and a branch, and a smart-HTTP
server in front of it that can demand credentials.

    repo = make_repository(tmp_path)               # repo.url (a path), repo.commits["v2"], repo.tag, ...
    with GitHttpServer(repo.bare.parent, user="alice", password="tok") as server:
        server.url_for(repo)                       # http://127.0.0.1:PORT/train.git
        server.requests                            # how many HTTP requests git made

History of the default branch ``main``: ``v1`` (tagged ``v1.0``) then ``v2``; branch ``feature`` starts at
``v1`` and adds ``feature``. Each commit's ``train.py`` prints ``VERSION <name>``; ``requirements.txt``
asks for the clearml SDK. ``TRAIN_SCRIPT`` is also what an end-to-end test can run under the agent: it
attaches to the task the agent runs and reports scalars.
"""
from __future__ import annotations

import base64
import os
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TRAIN_SCRIPT = '''\
"""A training script for agent tests: reports a few scalars to the task the agent runs."""
import sys

from clearml import Logger, Task

VERSION = "{version}"

task = Task.init(project_name="agent tests", task_name="train")  # under the agent: the task it runs
logger = Logger.current_logger()
for iteration in range(3):
    logger.report_scalar("loss", "train", value=1.0 / (iteration + 1), iteration=iteration)
print("VERSION", VERSION, "python", sys.version_info[0], sys.version_info[1])
'''
REQUIREMENTS = "clearml==2.1.12\n"
GIT_ENV = {"GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
           "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.invalid",
           "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"}


def git(*args: str, cwd: Path | None = None, input: str | None = None) -> str:
    env = {**os.environ, **GIT_ENV}
    result = subprocess.run(["git", *args], cwd=cwd, env=env, input=input, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {result.stderr}")
    return result.stdout.strip()


@dataclass
class GitRepository:
    bare: Path                  # the "remote"
    work: Path                  # a work copy the tests can commit from
    commits: dict[str, str]     # v1, v2, feature -> sha
    tag: str = "v1.0"
    branch: str = "feature"
    default_branch: str = "main"

    @property
    def url(self) -> str:
        return str(self.bare)

    def commit(self, files: dict[str, str], message: str, branch: str = "main") -> str:
        """Another commit on ``branch``, pushed to the remote; returns its sha."""
        git("checkout", "--quiet", branch, cwd=self.work)
        for name, text in files.items():
            path = self.work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        git("add", "--all", cwd=self.work)
        git("commit", "--quiet", "-m", message, cwd=self.work)
        git("push", "--quiet", "origin", branch, cwd=self.work)
        return git("rev-parse", "HEAD", cwd=self.work)

    def diff_against(self, sha: str, files: dict[str, str]) -> str:
        """A ``git diff`` of uncommitted edits on top of ``sha`` (what the SDK stores in script.diff)."""
        git("checkout", "--quiet", "--detach", sha, cwd=self.work)
        for name, text in files.items():
            (self.work / name).write_text(text)
        git("add", "--intent-to-add", "--all", cwd=self.work)
        diff = git("diff", cwd=self.work) + "\n"
        git("reset", "--quiet", "--hard", cwd=self.work)
        git("clean", "--quiet", "-fd", cwd=self.work)
        git("checkout", "--quiet", "main", cwd=self.work)
        return diff


def make_repository(root: Path, name: str = "train") -> GitRepository:
    root.mkdir(parents=True, exist_ok=True)
    bare, work = root / f"{name}.git", root / f"{name}-work"
    git("init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    git("init", "--quiet", "--initial-branch=main", str(work))
    git("remote", "add", "origin", str(bare), cwd=work)
    repo = GitRepository(bare, work, {})
    (work / "src").mkdir()
    files = {"train.py": TRAIN_SCRIPT.format(version="v1"), "requirements.txt": REQUIREMENTS,
             "src/helper.py": "NAME = 'helper'\n"}
    repo.commits["v1"] = _first_commit(work, files)
    git("tag", repo.tag, cwd=work)
    git("push", "--quiet", "origin", repo.tag, cwd=work)
    repo.commits["v2"] = repo.commit({"train.py": TRAIN_SCRIPT.format(version="v2")}, "v2")
    git("checkout", "--quiet", "-b", repo.branch, repo.commits["v1"], cwd=work)
    git("push", "--quiet", "origin", repo.branch, cwd=work)
    repo.commits["feature"] = repo.commit({"train.py": TRAIN_SCRIPT.format(version="feature")}, "feature",
                                          branch=repo.branch)
    git("checkout", "--quiet", "main", cwd=work)
    return repo


def _first_commit(work: Path, files: dict[str, str]) -> str:
    for name, text in files.items():
        (work / name).write_text(text)
    git("add", "--all", cwd=work)
    git("commit", "--quiet", "-m", "v1", cwd=work)
    git("push", "--quiet", "origin", "main", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


@dataclass
class GitHttpServer:
    """``git http-backend`` behind a loopback HTTP server, with Basic auth when ``user`` is given."""
    root: Path
    user: str = ""
    password: str = ""
    requests: int = 0
    authorised: list = field(default_factory=list)   # the user of each authenticated request

    def __enter__(self) -> "GitHttpServer":
        fixture = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                fixture._serve(self)

            do_POST = do_GET

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url_for(self, repo: GitRepository) -> str:
        return f"{self.base_url}/{repo.bare.name}"

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        self.requests += 1
        if self.user:
            expected = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            if handler.headers.get("Authorization") != expected:
                handler.send_response(401)
                handler.send_header("WWW-Authenticate", 'Basic realm="git"')
                handler.send_header("Content-Length", "0")
                handler.end_headers()
                return
            self.authorised.append(self.user)
        path, _, query = handler.path.partition("?")
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GIT_PROJECT_ROOT": str(self.root),
               "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": path, "QUERY_STRING": query,
               "REQUEST_METHOD": handler.command, "CONTENT_TYPE": handler.headers.get("Content-Type", ""),
               "CONTENT_LENGTH": str(length), "REMOTE_USER": self.user, "REMOTE_ADDR": "127.0.0.1",
               "HTTP_CONTENT_ENCODING": handler.headers.get("Content-Encoding", ""),
               "GIT_PROTOCOL": handler.headers.get("Git-Protocol", "")}
        result = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True)
        head, payload = _split_cgi(result.stdout)
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        handler.send_response(status)
        for name, value in headers:
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)


def _split_cgi(output: bytes) -> tuple[bytes, bytes]:
    """CGI output: headers, a blank line (CRLF or LF), the body."""
    ends = [(output.find(sep), sep) for sep in (b"\r\n\r\n", b"\n\n") if output.find(sep) >= 0]
    if not ends:
        return output, b""
    index, sep = min(ends)
    return output[:index], output[index + len(sep):]
