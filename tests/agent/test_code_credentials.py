"""Git credentials: used over real smart HTTP with Basic auth, never written to disk, never in a log line
or an error message; which URL git is given (ssh/https translation, agent.git_host)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import time

import pytest

from support.git_repo import GitHttpServer, make_repository
from trackside.agent.config import load_config
from trackside.agent.execute.code import CodeError, prepare_code
from trackside.agent.execute.vcs.git import ASKPASS_SCRIPT
from trackside.agent.execute.vcs.urls import resolve_remote

TOKEN = "tok-Zq81-not-for-logs"


def agent_config(tmp_path, **agent):
    agent.setdefault("vcs_cache", {"path": str(tmp_path / "vcs-cache")})
    conf = tmp_path / "clearml.conf"
    conf.write_text("agent " + json.dumps(agent))
    return load_config(conf, environ={}, require_credentials=False)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    repo = make_repository(tmp_path_factory.mktemp("remote"))
    with GitHttpServer(repo.bare.parent, user="alice", password=TOKEN) as server:
        server.repo = repo
        yield server


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A HOME whose git configuration would store any credential git is handed."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[credential]\n\thelper = store\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("GIT_CONFIG_GLOBAL", raising=False)
    return home


def files_containing(root, secret: str) -> list[str]:
    found = []
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            try:
                if secret.encode() in open(path, "rb").read():
                    found.append(path)
            except OSError:
                pass
    return found


def with_credentials(url: str, user: str, password: str) -> str:
    return url.replace("http://", f"http://{user}:{password}@")


@pytest.mark.parametrize("cached", [True, False])
def test_credentials_in_the_url_are_used_and_never_stored(tmp_path, server, home, cached):
    lines: list[str] = []
    config = agent_config(tmp_path, vcs_cache={"enabled": cached, "path": str(tmp_path / "vcs-cache")})
    url = with_credentials(server.url_for(server.repo), "alice", TOKEN)
    location = prepare_code({"repository": url, "entry_point": "train.py", "branch": "feature"},
                            tmp_path / "work", config, lines.append)
    assert (location.root / "train.py").is_file()
    assert "alice" in server.authorised
    assert files_containing(tmp_path, TOKEN) == []      # work copy, mirror, HOME (no .git-credentials)
    assert not (home / ".git-credentials").exists()
    assert not any(TOKEN in line or "alice:" in line for line in lines)
    origin = subprocess.run(["git", "remote", "get-url", "origin"], cwd=location.root, capture_output=True,
                            text=True).stdout.strip()
    assert origin == server.url_for(server.repo)


def test_configured_credentials_are_used_for_their_host(tmp_path, server, home):
    lines: list[str] = []
    config = agent_config(tmp_path, git_user="alice", git_pass=TOKEN, git_host="127.0.0.1")
    location = prepare_code({"repository": server.url_for(server.repo), "entry_point": "train.py"},
                            tmp_path / "work", config, lines.append)
    assert (location.root / "train.py").is_file()
    assert files_containing(tmp_path, TOKEN) == [str(tmp_path / "clearml.conf")]
    assert not any(TOKEN in line for line in lines)


@pytest.mark.parametrize("agent, url_user", [
    ({"git_user": "alice", "git_pass": TOKEN, "git_host": "git.example.com"}, None),  # another host's
    ({}, None),                                                                        # none at all
    ({}, ("alice", "wrong-" + TOKEN)),                                                 # a wrong token
])
def test_without_valid_credentials_the_clone_fails_at_once(tmp_path, server, home, agent, url_user):
    url = server.url_for(server.repo)
    if url_user:
        url = with_credentials(url, *url_user)
    started = time.monotonic()
    with pytest.raises(CodeError) as error:
        prepare_code({"repository": url, "entry_point": "train.py"}, tmp_path / "work",
                     agent_config(tmp_path, **agent), lambda line: None)
    assert time.monotonic() - started < 20, "git must not wait for a prompt"
    assert error.value.status_reason == "failed cloning repository"
    message = str(error.value)
    assert server.url_for(server.repo) in message
    assert TOKEN not in message and "wrong-" not in message


def test_an_unreachable_host_is_reported_without_the_credentials(tmp_path, home):
    with socket.socket() as probe:           # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://bob:{TOKEN}@127.0.0.1:{port}/team/project.git"
    lines: list[str] = []
    with pytest.raises(CodeError) as error:
        prepare_code({"repository": url, "entry_point": "train.py"}, tmp_path / "work", agent_config(tmp_path),
                     lines.append)
    assert f"http://127.0.0.1:{port}/team/project.git" in str(error.value)
    assert TOKEN not in str(error.value) and not any(TOKEN in line for line in lines)
    assert files_containing(tmp_path, TOKEN) == []


def test_the_askpass_helper_answers_only_for_the_repository_host(tmp_path):
    helper = tmp_path / "askpass.sh"
    helper.write_text(ASKPASS_SCRIPT)
    helper.chmod(0o700)
    env = {"PATH": "/usr/bin:/bin", "TRACKSIDE_GIT_HOST": "git.example.com:8443", "TRACKSIDE_GIT_USER": "alice",
           "TRACKSIDE_GIT_PASSWORD": TOKEN}

    def ask(prompt):
        result = subprocess.run([str(helper), prompt], env=env, capture_output=True, text=True)
        return result.returncode, result.stdout.strip()

    assert ask("Username for 'https://git.example.com:8443': ") == (0, "alice")
    assert ask("Password for 'https://alice@git.example.com:8443': ") == (0, TOKEN)
    assert ask("Password for 'https://alice@git.example.com:8443/org/repo.git': ") == (0, TOKEN)
    assert ask("Password for 'https://alice@evil.example.org': ")[0] != 0
    assert ask("Password for 'https://alice@git.example.com.evil.org': ")[0] != 0


# Which URL git is given, and with which credentials (no network).
@pytest.mark.parametrize("agent, url, expected", [
    # ssh is translated to https when credentials apply to the host ...
    ({"git_user": "u", "git_pass": "p"}, "git@github.com:org/repo.git", ("https://github.com/org/repo.git", "u")),
    ({"git_user": "u", "git_pass": "p"}, "ssh://git@github.com:22/org/repo.git",
     ("https://github.com/org/repo.git", "u")),
    ({"git_user": "u", "git_pass": "p", "git_host": "github.com"}, "git@github.com:org/repo.git",
     ("https://github.com/org/repo.git", "u")),
    # ... and left alone otherwise
    ({}, "git@github.com:org/repo.git", ("git@github.com:org/repo.git", "")),
    ({}, "ssh://git@github.com:22/org/repo.git", ("ssh://git@github.com:22/org/repo.git", "")),
    ({}, "ssh://git:pw@github.com/org/repo.git", ("ssh://git@github.com/org/repo.git", "")),
    ({"git_user": "u", "git_pass": "p", "git_host": "gitlab.com"}, "git@github.com:org/repo.git",
     ("git@github.com:org/repo.git", "")),
    ({"git_user": "u", "git_pass": "p", "translate_ssh": False}, "git@github.com:org/repo.git",
     ("git@github.com:org/repo.git", "")),
    # force_git_ssh_protocol: https becomes ssh (keys, no password)
    ({"git_user": "u", "git_pass": "p", "force_git_ssh_protocol": True}, "https://github.com/org/repo.git",
     ("ssh://git@github.com/org/repo.git", "")),
    ({"force_git_ssh_protocol": True, "force_git_ssh_user": "deploy", "force_git_ssh_port": 2222},
     "https://github.com/org/repo.git", ("ssh://deploy@github.com:2222/org/repo.git", "")),
    # https: credentials in the URL win, config credentials only for the configured host
    ({"git_user": "u", "git_pass": "p"}, "https://x:y@github.com/org/repo.git",
     ("https://github.com/org/repo.git", "x")),
    ({"git_user": "u", "git_pass": "p"}, "https://github.com/org/repo.git", ("https://github.com/org/repo.git", "u")),
    ({"git_user": "u", "git_pass": "p", "git_host": "gitlab.com"}, "https://github.com/org/repo.git",
     ("https://github.com/org/repo.git", "")),
    ({"git_user": "u", "git_pass": "p", "git_host": "github.com/org", "git_host_match_prefix": True},
     "https://github.com/org/repo.git", ("https://github.com/org/repo.git", "u")),
    ({"git_user": "u", "git_pass": "p", "git_host": "github.com/other", "git_host_match_prefix": True},
     "https://github.com/org/repo.git", ("https://github.com/org/repo.git", "")),
    ({"git_user": "u", "git_pass": "p"}, "/srv/git/repo.git", ("/srv/git/repo.git", "")),
])
def test_the_url_git_is_given(tmp_path, agent, url, expected):
    remote = resolve_remote(url, agent_config(tmp_path, **agent))
    assert (remote.url, remote.user) == expected
    assert ":p@" not in remote.url and ":y@" not in remote.url
