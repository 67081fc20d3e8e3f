"""``trackside-apps``: install, list and remove custom applications, check and pack app packages.

    trackside-apps upload --host URL --user KEY --password SECRET --files a.zip [b.zip ...]
    trackside-apps delete --host URL --user KEY --password SECRET -app ID [ID ...]
    trackside-apps list   --host URL --user KEY --password SECRET
    trackside-apps check  a.zip [folder ...]             (offline)
    trackside-apps pack   FOLDER [--output x.zip] [--repository URL] [--branch B]   (offline)

The reference's script names work too: ``upload_apps.py --host ... --files app.zip`` and
``manage_apps.py delete --host ... -app ID`` (console scripts of the same name). Without the flags the
host and key come from CLEARML_API_HOST, CLEARML_API_ACCESS_KEY and CLEARML_API_SECRET_KEY.
Exit codes: 0 done, 1 refused or failed (a bad package, the API said no, unreachable), 2 wrong usage.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from trackside.shared.apps.client import ApiFailure, AppsClient, Unreachable
from trackside.shared.apps.errors import PackageError
from trackside.shared.apps.pack import pack_folder
from trackside.shared.apps.package import load_package

PROG = "trackside-apps"
ENV_HOST, ENV_KEY, ENV_SECRET = "CLEARML_API_HOST", "CLEARML_API_ACCESS_KEY", "CLEARML_API_SECRET_KEY"
OK, FAILED, USAGE = 0, 1, 2


class _Output:
    """Messages to stdout/stderr with the secret key masked wherever it might be echoed back."""

    def __init__(self, prog: str):
        self.prog, self.secret = prog, None

    def _mask(self, text: str) -> str:
        # A very short "secret" would mask ordinary words: real secret keys are long.
        return text.replace(self.secret, "***") if self.secret and len(self.secret) >= 8 else text

    def out(self, text: str) -> None:
        print(self._mask(text), flush=True)

    def err(self, text: str) -> None:
        print(self._mask(f"{self.prog}: {text}"), file=sys.stderr, flush=True)


# -- argument parsing -----------------------------------------------------------------------------------
def _server_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("server (default: the CLEARML_API_* environment variables)")
    group.add_argument("--host", help=f"the API's URL, e.g. http://localhost:8008 (default: ${ENV_HOST})")
    group.add_argument("--user", help=f"an administrator's access key (default: ${ENV_KEY})")
    group.add_argument("--password", help=f"its secret key (default: ${ENV_SECRET})")


def _upload_flags(parser: argparse.ArgumentParser) -> None:
    _server_flags(parser)
    parser.add_argument("--files", nargs="+", type=Path, required=True, metavar="PACKAGE",
                        help="app packages (.zip, .tar.gz) to install; a newer version keeps the older ones")


def _delete_flags(parser: argparse.ArgumentParser) -> None:
    _server_flags(parser)
    parser.add_argument("-app", "--app", dest="apps", nargs="+", required=True, metavar="ID",
                        help="the app id(s) to remove (all versions; existing instance tasks stay)")


def _app_flags(parser: argparse.ArgumentParser) -> None:
    _server_flags(parser)
    parser.add_argument("-app", "--app", dest="apps", nargs="+", required=True, metavar="ID")


def _list_flags(parser: argparse.ArgumentParser) -> None:
    _server_flags(parser)
    parser.add_argument("--json", action="store_true", help="print the API's answer as JSON")


def parser(prog: str = PROG, commands: tuple[str, ...] | None = None) -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog=prog, description="Install, list and remove Trackside custom applications; "
                                  "check and pack app packages.")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    table = {
        "upload": ("install app packages (an admin's credentials)", _upload_flags),
        "delete": ("remove apps (an admin's credentials)", _delete_flags),
        "list": ("list the installed apps", _list_flags),
        "enable": ("let users launch apps again (an admin's credentials)", _app_flags),
        "disable": ("stop new launches of apps (an admin's credentials)", _app_flags),
        "check": ("validate packages or app folders offline", _check_flags),
        "pack": ("zip an app folder in the documented layout, validated", _pack_flags),
    }
    for name, (helptext, add_flags) in table.items():
        if commands is None or name in commands:
            add_flags(sub.add_parser(name, help=helptext, description=helptext))
    return top


def _check_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("packages", nargs="+", type=Path, metavar="PACKAGE_OR_FOLDER")


def _pack_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, help="the app's folder: <id>.app.conf and assets/")
    parser.add_argument("--output", "-o", type=Path, help="the archive to write (default: ./<id>.zip)")
    parser.add_argument("--repository", help="set task.script.repository in the packed conf (the code's git URL)")
    parser.add_argument("--branch", help="set task.script.branch in the packed conf")


# -- commands -------------------------------------------------------------------------------------------
def _client(args, say: _Output) -> AppsClient | None:
    host = args.host or os.environ.get(ENV_HOST)
    key = args.user or os.environ.get(ENV_KEY)
    secret = args.password or os.environ.get(ENV_SECRET)
    say.secret = secret
    missing = [flag for flag, value in (("--host", host), ("--user", key), ("--password", secret)) if not value]
    if missing:
        say.err(f"missing {', '.join(missing)} (or {ENV_HOST}, {ENV_KEY}, {ENV_SECRET})")
        return None
    return AppsClient(host, key, secret)


def _failure(exc: ApiFailure, say: _Output, what: str) -> None:
    if exc.status == 429:  # the sign-in throttle: retrying at once only extends the lock
        say.err(f"the API is refusing sign-ins for now ({exc.message}); wait a little and try again")
    elif exc.status == 401 or (exc.endpoint == "auth.login" and exc.status < 500):
        say.err(f"the API refused the credentials ({exc.message}); check --user and --password")
    elif exc.status == 403:
        say.err(f"{what}: needs an admin's credentials (the API answered: {exc.message})")
    elif exc.error_data.get("problems"):  # the message repeats them all on one line: one per line instead
        problems = exc.error_data["problems"]
        say.err(f"{what}: invalid app package, {len(problems)} problem{'s' if len(problems) > 1 else ''}:")
        for problem in problems:
            where = ": ".join(str(problem.get(k)) for k in ("file", "path") if problem.get(k))
            say.err(f"  {where}: {problem.get('message')}" if where else f"  {problem.get('message')}")
    else:
        say.err(f"{what}: {exc.message}")


def _fatal(exc: ApiFailure) -> bool:
    """Failures that the next package or app would meet too."""
    return exc.endpoint == "auth.login" or exc.status in (401, 403)


def upload(args, say: _Output) -> int:
    client = _client(args, say)
    if client is None:
        return USAGE
    result = OK
    for path in args.files:
        if not path.is_file():
            say.err(f"{path}: no such file")
            result = FAILED
            continue
        try:
            data = client.upload(path)
        except ApiFailure as exc:
            _failure(exc, say, f"{path}: refused")
            if _fatal(exc):
                return FAILED
            result = FAILED
            continue
        app = data.get("app") or {}
        how = "replaced the same version" if data.get("replaced") else "installed"
        say.out(f"{path}: {how}: {app.get('id')} {app.get('version')}")
    return result


def _per_app(endpoint: str, done: str):
    def command(args, say: _Output) -> int:
        client = _client(args, say)
        if client is None:
            return USAGE
        result = OK
        for app in args.apps:
            try:
                client.call(endpoint, app=app)
            except ApiFailure as exc:
                _failure(exc, say, app)
                if _fatal(exc):
                    return FAILED
                result = FAILED
                continue
            say.out(f"{app}: {done}")
        return result
    return command


def _instances(app: dict) -> str:
    counts = app.get("instances") or {}
    total, running = counts.get("total", 0), counts.get("running", 0)
    return f"{total} ({running} running)" if running else str(total)


def list_apps(args, say: _Output) -> int:
    client = _client(args, say)
    if client is None:
        return USAGE
    try:
        apps = client.call("apps.get_apps", include_disabled=True)["apps"]
    except ApiFailure as exc:
        if exc.status != 403 or exc.endpoint != "apps.get_apps":
            raise
        apps = client.call("apps.get_apps")["apps"]  # include_disabled is an admin's: a user sees enabled ones
    if args.json:
        say.out(json.dumps(apps, indent=2))
        return OK
    rows = [("ID", "VERSION", "ENABLED", "CATEGORY", "INSTANCES")]
    rows += [(a["id"], a.get("version", ""), "yes" if a.get("enabled", True) else "no", a.get("category") or "-",
              _instances(a)) for a in apps]
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        say.out("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())
    if not apps:
        say.out("(no apps installed)")
    return OK


def _print_problems(name: str, exc: PackageError, say: _Output) -> None:
    for problem in exc.problems:
        say.err(f"{name}: {problem}")


def check(args, say: _Output) -> int:
    result = OK
    for path in args.packages:
        try:
            if path.is_dir():
                archive_name, data = pack_folder(path)
            else:
                archive_name, data = path.name, path.read_bytes()
            package = load_package(data, archive_name)
        except PackageError as exc:
            _print_problems(str(path), exc, say)
            result = FAILED
            continue
        except OSError as exc:
            say.err(f"{path}: {exc.strerror or exc}")
            result = FAILED
            continue
        say.out(f"{path}: ok: {package.id} {package.version} ({len(package.assets)} assets)")
    return result


def pack(args, say: _Output) -> int:
    if not args.folder.is_dir():
        say.err(f"{args.folder}: not a folder")
        return USAGE
    try:
        name, data = pack_folder(args.folder, args.repository, args.branch)
        package = load_package(data, name)  # never write an archive the API would refuse
    except PackageError as exc:
        _print_problems(str(args.folder), exc, say)
        return FAILED
    except OSError as exc:
        say.err(f"{args.folder}: {exc}")
        return FAILED
    output = args.output or Path(name)
    try:
        output.write_bytes(data)
    except OSError as exc:
        say.err(f"{output}: {exc.strerror or exc}")
        return FAILED
    say.out(f"{output}: {package.id} {package.version}, {len(package.assets)} assets, "
            f"repository {package.app['task']['script'].get('repository')}")
    return OK


COMMANDS = {
    "upload": upload, "delete": _per_app("apps.delete", "deleted"), "list": list_apps,
    "enable": _per_app("apps.enable", "enabled"), "disable": _per_app("apps.disable", "disabled"),
    "check": check, "pack": pack,
}


def _run(args, say: _Output) -> int:
    try:
        return COMMANDS[args.command](args, say)
    except Unreachable as exc:
        say.err(str(exc))
        return FAILED
    except ApiFailure as exc:
        _failure(exc, say, exc.endpoint)
        return FAILED


def main(argv: list[str] | None = None) -> int:
    return _run(parser().parse_args(argv), _Output(PROG))


def upload_apps_main(argv: list[str] | None = None) -> int:
    """``upload_apps.py --host ... --user ... --password ... --files app.zip``: the reference's install script."""
    prog = "upload_apps.py"
    top = argparse.ArgumentParser(prog=prog, description="Install custom app packages (an admin's credentials).")
    _upload_flags(top)
    args = top.parse_args(argv)
    args.command = "upload"
    return _run(args, _Output(prog))


def manage_apps_main(argv: list[str] | None = None) -> int:
    """``manage_apps.py delete|list|enable|disable --host ... [-app ID]``: the reference's management script."""
    prog = "manage_apps.py"
    return _run(parser(prog, ("delete", "list", "enable", "disable")).parse_args(argv), _Output(prog))


if __name__ == "__main__":
    sys.exit(main())
