"""``trackside-admin``: argument parsing and messages; the work is in the sibling modules."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pymongo.errors import PyMongoError

from trackside.shared.admin import elastic_hint
from trackside.shared.admin.manifest import ArchiveError
from trackside.shared.admin.secure_conf import admin_credentials, create_secure_conf
from trackside.shared.admin.settings import default_config_dir, load_installation
from trackside.shared.config import ConfigError, load_config
from trackside.shared.embedded.web_admin import ensure_web_admin, web_admin_login, web_login_file

PROG = "trackside-admin"


def _say(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog=PROG, description="Trackside operations: configuration, backup, restore, "
                                  "schema migrations. Configured like the services (CLEARML_* variables, "
                                  "CLEARML_CONFIG_DIR).")
    commands = top.add_subparsers(dest="command", required=True)
    init = commands.add_parser("init-config", help="write secure.conf (token secret, first admin key) and the web "
                               "app's first sign-in (apiserver/auth.conf) when absent")
    init.add_argument("--config-dir", type=Path, help="default: the first folder of CLEARML_CONFIG_DIR, "
                      "else /opt/clearml/config")
    for name, helptext in (("backup", "archive the databases and the file server's folder"),
                           ("restore", "restore an archive written by backup")):
        sub = commands.add_parser(name, help=helptext)
        if name == "backup":
            sub.add_argument("--out", type=Path, required=True, help="archive to write (.tar, or .tar.gz); - for a "
                             "gzipped archive on stdout")
        else:
            sub.add_argument("archive", type=Path)
            sub.add_argument("--force", action="store_true", help="replace data the target already holds")
        sub.add_argument("--files-dir", type=Path, help="the file server's folder (default: as the file "
                         "server reads it: CLEARML_UPLOAD_FOLDER, else fileserver.upload_folder)")
        sub.add_argument("--no-files", action="store_true", help="leave the file server's folder out")
    migrate = commands.add_parser("migrate", help="apply pending schema migrations (the API does at start-up)")
    migrate.add_argument("--status", action="store_true", help="list applied and pending steps, change nothing")
    check = commands.add_parser("check-counters", help="compare every project's statistics counters with a "
                                "recomputation from its tasks (reads every task)")
    check.add_argument("--fix", action="store_true", help="rebuild the counters that disagree")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        _say(f"configuration error: {exc}")
        return 2
    except (ArchiveError, FileNotFoundError) as exc:
        _say(f"refused: {exc}")
        return 1
    except PyMongoError as exc:
        _say(f"MongoDB: {exc}")
        return 1
    except OSError as exc:  # a folder not writable, a disk full: the reason, not a traceback
        _say(f"failed: {exc}")
        return 1


def init_config(args) -> int:
    config_dir = args.config_dir or default_config_dir()
    if not create_secure_conf(config_dir, f"{PROG} init-config"):
        _say(f"{config_dir / 'secure.conf'} exists; kept as it is")
    else:
        key, secret = admin_credentials(config_dir)
        _say(f"wrote {config_dir / 'secure.conf'} (mode 0600). The first admin's credentials, shown only now:")
        print(f"CLEARML_API_ACCESS_KEY={key}\nCLEARML_API_SECRET_KEY={secret}", flush=True)
    _init_web_sign_in(config_dir)
    return 0


def _init_web_sign_in(config_dir: Path) -> None:
    """The web app's first sign-in, as `make run` does it: a fixed admin user with a generated password in
    apiserver/auth.conf (0600), unless the folder already configures fixed users. Also on an installation
    older than the web app, whose secure.conf already exists."""
    path = web_login_file(config_dir)
    if path.exists():
        _say(f"{path} exists; kept as it is")
        return
    folder_only = {"CLEARML_CONFIG_DIR": str(config_dir)}
    if load_config(folder_only).get_bool("apiserver.auth.fixed_users.enabled", False):
        _say(f"fixed users are configured in {config_dir}: no web admin generated")
        return
    ensure_web_admin(config_dir, f"{PROG} init-config")
    login = web_admin_login(load_config(folder_only))
    if login is None:  # another file in the folder overrides the generated users
        _say(f"wrote {path}, but the folder's other files override its users")
        return
    _say(f"wrote {path} (mode 0600). The web app's sign-in, shown only now:")
    print(f"TRACKSIDE_WEB_USER={login[0]}\nTRACKSIDE_WEB_PASSWORD={login[1]}", flush=True)


def _site(args):
    site = load_installation()
    if args.files_dir:
        site = type(site)(mongo=site.mongo, upload_folder=args.files_dir.absolute(), events_store=site.events_store)
    return site


def backup(args) -> int:
    from trackside.shared.admin.backup import backup as run

    site = _site(args)
    run(site, args.out, include_files=not args.no_files, say=_say)
    if site.events_store == "elastic":
        _say(elastic_hint.BACKUP)
    return 0


def restore(args) -> int:
    from trackside.shared.admin.restore import TargetInUse, restore as run

    if not args.archive.is_file():
        raise FileNotFoundError(f"{args.archive}: no such file")
    try:
        restored = run(_site(args), args.archive, force=args.force, include_files=not args.no_files, say=_say)
    except TargetInUse as exc:
        _say(f"refused: {exc}")
        return 1
    if restored.events_store == "elastic":
        _say(elastic_hint.RESTORE)
    _say("done; restart the API so every process reads the restored users and settings")
    return 0


def migrate(args) -> int:
    try:
        from trackside.api.migrations import STEPS, apply_pending, applied_ids
    except ImportError:
        _say("the API package (trackside-api) is not installed here: run this in the server image")
        return 2
    from trackside.shared.storage.mongo import connect

    db = connect(load_installation().mongo["backend"])
    done = applied_ids(db)
    if args.status:
        for step in STEPS:
            print(f"{'applied' if step.id in done else 'pending'}  {step.id}  {step.description}")
        return 0
    applied = apply_pending(db)
    _say(f"applied {', '.join(applied)}" if applied else "nothing to apply: every migration is recorded")
    return 0


def check_counters(args) -> int:
    from trackside.shared.project_counters import check_all
    from trackside.shared.storage.mongo import connect

    wrong = check_all(connect(load_installation().mongo["backend"]), args.fix)
    for counter in wrong:
        print(counter)
    _say(f"{len(wrong)} project counters {'rebuilt' if args.fix else 'disagree'}" if wrong else "every counter agrees")
    return 1 if wrong and not args.fix else 0


COMMANDS = {"init-config": init_config, "backup": backup, "restore": restore, "migrate": migrate,
            "check-counters": check_counters}


if __name__ == "__main__":
    sys.exit(main())
