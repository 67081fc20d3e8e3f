"""An app package: exactly one ``<id>.app.conf`` (HOCON) plus optional ``assets/``, validated as a whole."""
from dataclasses import dataclass, field

from pyhocon import ConfigFactory

from trackside.shared.apps.archive import read_archive
from trackside.shared.apps.errors import PackageError, Problem
from trackside.shared.apps.validate import validate_app

CONF_SUFFIX = ".app.conf"
ASSETS_DIR = "assets/"


@dataclass
class AppPackage:
    """A valid package: ``app`` is the app.conf as plain data with defaults applied; ``assets`` by file name."""
    app: dict
    assets: dict = field(default_factory=dict)
    conf_file: str = ""

    @property
    def id(self) -> str:
        return self.app["id"]

    @property
    def version(self) -> str:
        return self.app["version"]


def _strip_single_top_folder(files: dict) -> dict:
    """``zip -r x.zip folder/`` wraps everything in one folder; the doc's command does not. Accept both."""
    tops = {name.split("/", 1)[0] for name in files}
    if len(tops) == 1 and all("/" in name for name in files) and tops != {ASSETS_DIR.rstrip("/")}:
        top = next(iter(tops)) + "/"
        if not any(name.endswith(CONF_SUFFIX) and "/" not in name for name in files):
            return {name[len(top):]: data for name, data in files.items()}
    return files


def split_layout(files: dict, archive_name: str):
    """(conf file name, conf text, assets by name inside assets/), or PackageError with every layout problem."""
    files = _strip_single_top_folder(files)
    problems, confs, assets = [], [], {}
    for name, data in sorted(files.items()):
        if name.startswith(ASSETS_DIR):
            assets[name[len(ASSETS_DIR):]] = data
        elif "/" not in name and name.endswith(CONF_SUFFIX):
            confs.append(name)
        else:
            problems.append(Problem(name, "", f"unexpected file: a package holds one *{CONF_SUFFIX} and assets/"))
    if len(confs) != 1:
        found = ", ".join(confs) or "none"
        problems.append(Problem(archive_name, "", f"needs exactly one *{CONF_SUFFIX} at its root (found: {found})"))
    if problems:
        raise PackageError(problems)
    conf_file = confs[0]
    try:
        text = files[conf_file].decode("utf-8")
    except UnicodeDecodeError:
        raise PackageError([Problem(conf_file, "", "not UTF-8 text")]) from None
    return conf_file, text, assets


def parse_conf(text: str, conf_file: str) -> dict:
    """The HOCON text as plain data (quoted ``${ASSET:..}`` / ``${hyperparams..}`` stay literal strings)."""
    try:
        parsed = ConfigFactory.parse_string(text)
    except Exception as exc:  # pyhocon's ConfigException, or pyparsing's own types on syntax errors
        raise PackageError([Problem(conf_file, "", f"HOCON syntax error: {exc}")]) from None
    return parsed.as_plain_ordered_dict()


def load_conf(conf_file: str, text: str, assets: dict) -> AppPackage:
    """Validate one app.conf against its assets (usable without an archive, e.g. for tests and overrides)."""
    conf = parse_conf(text, conf_file)
    app, problems = validate_app(conf, conf_file, set(assets))
    expected_id = conf_file[: -len(CONF_SUFFIX)]
    if isinstance(conf.get("id"), str) and conf["id"] != expected_id:
        problems.append(Problem(conf_file, "id", f"must match the file name ({expected_id!r})"))
    if problems:
        raise PackageError(problems)
    return AppPackage(app=app, assets=assets, conf_file=conf_file)


def load_package(data: bytes, archive_name: str = "package.zip") -> AppPackage:
    """Read and validate an uploaded zip/tar.gz; PackageError lists every problem found."""
    conf_file, text, assets = split_layout(read_archive(data, archive_name), archive_name)
    return load_conf(conf_file, text, assets)
