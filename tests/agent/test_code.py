"""prepare_code on real git: literal scripts, checkout by commit/tag/branch, diffs, the vcs cache, errors."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from support.git_repo import git, make_repository
from trackside.agent.config import load_config
from trackside.agent.execute.code import CodeError, prepare_code


def agent_config(tmp_path, **agent):
    agent.setdefault("vcs_cache", {"path": str(tmp_path / "vcs-cache")})
    conf = tmp_path / "clearml.conf"
    conf.write_text("agent " + json.dumps(agent))
    return load_config(conf, environ={}, require_credentials=False)


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    return make_repository(tmp_path_factory.mktemp("remote"))


@pytest.fixture
def lines():
    return []  # the log sink is lines.append


def version_of(location) -> str:
    text = (location.cwd / location.entry_point).read_text()
    return next(line for line in text.splitlines() if line.startswith("VERSION")).split('"')[1]


def head(location) -> str:
    return git("rev-parse", "HEAD", cwd=location.root)


def test_a_literal_script_is_written_to_the_entry_point(tmp_path, lines):
    location = prepare_code({"entry_point": "run.py", "working_dir": "sub", "diff": "print('hi')\n"},
                            tmp_path / "work", agent_config(tmp_path), lines.append)
    assert not location.is_repository
    assert location.cwd == (tmp_path / "work" / "code" / "sub").resolve()
    assert (location.cwd / "run.py").read_text() == "print('hi')\n"


def test_no_entry_point_is_refused(tmp_path, lines):
    with pytest.raises(CodeError) as error:
        prepare_code({"diff": "print(1)"}, tmp_path / "work", agent_config(tmp_path), lines.append)
    assert error.value.status_reason == "no entry point"


@pytest.mark.parametrize("where", ["../outside", "/etc"])
def test_paths_outside_the_code_folder_are_refused(tmp_path, lines, where):
    with pytest.raises(CodeError, match="outside"):
        prepare_code({"entry_point": "x.py", "working_dir": where}, tmp_path / "work", agent_config(tmp_path),
                     lines.append)


@pytest.mark.parametrize("revision, expected", [
    ({}, "v2"),                                   # the default branch
    ({"branch": "feature"}, "feature"),
    ({"branch": "origin/feature"}, "feature"),
    ({"tag": "v1.0"}, "v1"),
    ({"tag": "v1.0", "branch": "feature"}, "v1"),  # tag before branch
    ({"version_num": "COMMIT_v1", "branch": "main", "tag": "v1.0"}, "v1"),  # commit before everything
])
def test_checkout_picks_commit_then_tag_then_branch(tmp_path, remote, lines, revision, expected):
    revision = {k: (remote.commits[v[7:]] if v.startswith("COMMIT_") else v) for k, v in revision.items()}
    location = prepare_code({"repository": remote.url, "entry_point": "train.py", **revision}, tmp_path / "work",
                            agent_config(tmp_path), lines.append)
    assert location.is_repository and location.cwd == location.root
    assert version_of(location) == expected
    assert head(location) == remote.commits[expected]
    assert git("remote", "get-url", "origin", cwd=location.root) == remote.url


def test_branch_checkout_is_a_named_branch(tmp_path, remote, lines):
    location = prepare_code({"repository": remote.url, "entry_point": "train.py", "branch": "feature"},
                            tmp_path / "work", agent_config(tmp_path), lines.append)
    assert git("rev-parse", "--abbrev-ref", "HEAD", cwd=location.root) == "feature"


def test_working_dir_and_entry_point_are_relative_to_the_repository(tmp_path, remote, lines):
    location = prepare_code({"repository": remote.url, "entry_point": "helper.py", "working_dir": "src"},
                            tmp_path / "work", agent_config(tmp_path), lines.append)
    assert location.cwd == location.root / "src" and (location.cwd / "helper.py").is_file()


def test_a_missing_working_dir_is_an_error(tmp_path, remote, lines):
    with pytest.raises(CodeError, match="nowhere"):
        prepare_code({"repository": remote.url, "entry_point": "x.py", "working_dir": "nowhere"},
                     tmp_path / "work", agent_config(tmp_path), lines.append)


def test_the_uncommitted_diff_is_applied(tmp_path, remote, lines):
    diff = remote.diff_against(remote.commits["v1"], {"train.py": "print('edited')\n", "new_file.py": "X = 1\n"})
    location = prepare_code({"repository": remote.url, "entry_point": "train.py",
                             "version_num": remote.commits["v1"], "diff": diff},
                            tmp_path / "work", agent_config(tmp_path), lines.append)
    assert (location.root / "train.py").read_text() == "print('edited')\n"
    assert (location.root / "new_file.py").read_text() == "X = 1\n"


def test_a_diff_that_does_not_apply_fails_the_task(tmp_path, remote, lines):
    diff = remote.diff_against(remote.commits["v1"], {"train.py": "print('edited')\n"})
    with pytest.raises(CodeError) as error:  # the diff was made against v1, v2 changed the same lines
        prepare_code({"repository": remote.url, "entry_point": "train.py", "version_num": remote.commits["v2"],
                      "diff": diff.replace("VERSION = ", "VERSION=")}, tmp_path / "work", agent_config(tmp_path),
                     lines.append)
    assert error.value.status_reason == "failed applying git diff"
    assert remote.url in str(error.value)


def test_a_literal_script_with_a_repository_replaces_the_entry_point(tmp_path, remote, lines):
    location = prepare_code({"repository": remote.url, "entry_point": "notebook.py", "diff": "print('nb')\n"},
                            tmp_path / "work", agent_config(tmp_path), lines.append)
    assert (location.cwd / "notebook.py").read_text() == "print('nb')\n"


@pytest.mark.parametrize("script, message", [
    ({"repository": "/nonexistent/repository.git"}, "/nonexistent/repository.git"),
    ({"version_num": "0" * 40}, "commit 0000000000000000000000000000000000000000"),
    ({"branch": "no-such-branch"}, "branch no-such-branch"),
    ({"tag": "no-such-tag"}, "tag no-such-tag"),
])
def test_what_cannot_be_cloned_fails_with_the_stock_reason(tmp_path, remote, lines, script, message):
    script = {"repository": remote.url, "entry_point": "train.py", **script}
    with pytest.raises(CodeError) as error:
        prepare_code(script, tmp_path / "work", agent_config(tmp_path), lines.append)
    assert error.value.status_reason == "failed cloning repository"
    assert message in str(error.value)


def test_the_vcs_cache_serves_a_known_commit_without_the_remote(tmp_path, lines):
    remote = make_repository(tmp_path / "remote")
    config = agent_config(tmp_path)
    prepare_code({"repository": remote.url, "entry_point": "train.py"}, tmp_path / "w1", config, lines.append)
    mirrors = [p for p in (tmp_path / "vcs-cache").iterdir() if p.is_dir()]
    assert len(mirrors) == 1 and mirrors[0].name.startswith("train.")
    # A new commit is picked up by a branch checkout (the mirror fetches) ...
    v3 = remote.commit({"train.py": 'VERSION = "v3"\n'}, "v3")
    location = prepare_code({"repository": remote.url, "entry_point": "train.py", "branch": "main"},
                            tmp_path / "w2", config, lines.append)
    assert head(location) == v3
    # ... and once the remote is gone, a commit the mirror holds still checks out: no fetch was needed.
    hidden = remote.bare.rename(remote.bare.with_name("gone.git"))
    try:
        location = prepare_code({"repository": remote.url, "entry_point": "train.py",
                                 "version_num": remote.commits["v1"]}, tmp_path / "w3", config, lines.append)
        assert version_of(location) == "v1"
        assert any("no fetch needed" in line for line in lines)
        with pytest.raises(CodeError, match="failed cloning repository"):  # a branch needs the remote
            prepare_code({"repository": remote.url, "entry_point": "train.py", "branch": "main"},
                         tmp_path / "w4", config, lines.append)
        assert mirrors[0].is_dir(), "a failed re-clone must not drop the mirror"
    finally:
        hidden.rename(remote.bare)
    # The work copy does not depend on the cache: it survives the cache's removal.
    shutil.rmtree(tmp_path / "vcs-cache")
    assert subprocess.run(["git", "fsck", "--no-progress"], cwd=location.root, capture_output=True).returncode == 0


def test_without_the_vcs_cache_the_clone_is_direct(tmp_path, remote, lines):
    config = agent_config(tmp_path, vcs_cache={"enabled": False, "path": str(tmp_path / "vcs-cache")})
    location = prepare_code({"repository": remote.url, "entry_point": "train.py", "tag": "v1.0"},
                            tmp_path / "work", config, lines.append)
    assert version_of(location) == "v1"
    assert not (tmp_path / "vcs-cache").exists()


def test_the_code_folder_is_emptied_first(tmp_path, remote, lines):
    config = agent_config(tmp_path)
    (tmp_path / "work" / "code" / "stale").mkdir(parents=True)
    prepare_code({"repository": remote.url, "entry_point": "train.py"}, tmp_path / "work", config, lines.append)
    assert not (tmp_path / "work" / "code" / "stale").exists()
