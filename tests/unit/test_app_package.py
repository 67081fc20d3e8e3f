"""App packages: reading archives safely and validating app.conf, every problem named (issue 17 item 1)."""
import io
import zipfile

import pytest

from support.app_packages import (SIMPLE_APP_ASSETS, app_conf, build_tar_gz, build_zip, simple_app_files)
from trackside.shared.apps import PackageError, load_package, read_archive
from trackside.shared.apps.choices import choices_query
from trackside.shared.apps.package import load_conf

T = "t.app.conf"
STR_FIELD = '{name: a, type: string, target: {field: hyperparams, section: S, name: a}}'


def _problems(exc):
    return [(p.file, p.path, p.message) for p in exc.value.problems]


@pytest.mark.parametrize("build", [build_zip, build_tar_gz], ids=["zip", "tar.gz"])
def test_the_documented_simple_app_package_loads(build):
    pkg = load_package(build(simple_app_files()), "simple-app.zip")
    app = pkg.app
    assert (pkg.id, pkg.version, pkg.conf_file) == ("simple-app", "1.0.0", "simple-app.app.conf")
    assert set(pkg.assets) == set(SIMPLE_APP_ASSETS)
    assert app["icon"] == "${ASSET:app-simple-app@2x.png}"
    assert (app["resumable"], app["featured"], app["details_page"], app["badges"]) == (False, 500, "task", [])
    project = app["wizard"]["entries"][0]
    assert (project["type"], project["required"], project["target"]) == (
        "dropdown", True, {"field": "hyperparams", "section": "General", "name": "project", "format": "str"})
    assert choices_query(project["choices"]) == (
        "projects.get_all", {"name": "^(?i)(?!example).*$", "only_fields": ["id", "name"], "order_by": ["name"]})
    assert app["wizard"]["entries"][1]["required"] is False


def test_a_folder_wrapped_package_loads():
    files = {"simple-app/" + k: v for k, v in simple_app_files().items()}
    assert load_package(build_zip(files)).id == "simple-app"


@pytest.mark.parametrize("key, value, expected", [
    ("version", "1.0", "1.0"),
    ("resumable", "true", True),
    ("featured", "10", 10),
    ("category", "Tools", "Tools"),
    ("badges", '["beta", "gpu"]', ["beta", "gpu"]),
    ("icon", '"https://example.com/i.png"', "https://example.com/i.png"),
])
def test_root_keys(key, value, expected):
    pkg = load_conf(T, app_conf(extra=f"{key}: {value}"), {})
    assert pkg.app[key] == expected


ZIP_SLIP = {"../evil.txt": b"x", **simple_app_files()}
ABSOLUTE = {"/etc/passwd": b"x", **simple_app_files()}


@pytest.mark.parametrize("archive, expected", [
    (build_zip(ZIP_SLIP), [("../evil.txt", "", "absolute or escaping path")]),
    (build_zip(ABSOLUTE), [("/etc/passwd", "", "absolute or escaping path")]),
    (build_tar_gz(simple_app_files(), links={"assets/link": "/etc/passwd"}),
     [("assets/link", "", "links and special files are not allowed")]),
    (b"not an archive at all", [("p.zip", "", "not a zip or tar.gz archive")]),
], ids=["traversal", "absolute", "symlink", "garbage"])
def test_unsafe_archives_are_refused(archive, expected):
    with pytest.raises(PackageError) as exc:
        load_package(archive, "p.zip")
    assert _problems(exc) == expected


def test_folder_entries_count_against_the_file_cap():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(5):
            zf.writestr(f"assets/d{i}/", b"")
    with pytest.raises(PackageError) as exc:
        read_archive(buf.getvalue(), "p.zip", max_files=3)
    assert _problems(exc) == [("p.zip", "", "more than 3 files")]


def test_zip_symlink_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("assets/link")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(PackageError) as exc:
        read_archive(buf.getvalue(), "p.zip")
    assert _problems(exc) == [("assets/link", "", "links and special files are not allowed")]


@pytest.mark.parametrize("files, limits, message", [
    ({"assets/big": b"\0" * 5000}, {"max_bytes": 4096}, "uncompressed size over 4096 bytes"),
    ({f"assets/{i}": b"" for i in range(4)}, {"max_files": 3}, "more than 3 files"),
], ids=["bytes", "files"])
@pytest.mark.parametrize("build", [build_zip, build_tar_gz], ids=["zip", "tar.gz"])
def test_bombs_are_capped(build, files, limits, message):
    with pytest.raises(PackageError) as exc:
        read_archive(build(files), "p.zip", **limits)
    assert _problems(exc) == [("p.zip", "", message)]


@pytest.mark.parametrize("files, expected", [
    ({"assets/x": b""}, [("p.zip", "", "needs exactly one *.app.conf at its root (found: none)")]),
    ({"a.app.conf": b"", "b.app.conf": b""},
     [("p.zip", "", "needs exactly one *.app.conf at its root (found: a.app.conf, b.app.conf)")]),
    ({**simple_app_files(), "main.py": b""},
     [("main.py", "", "unexpected file: a package holds one *.app.conf and assets/")]),
    ({"t.app.conf": b"id: {"}, None),
], ids=["no-conf", "two-confs", "stray-file", "hocon-syntax"])
def test_bad_layouts(files, expected):
    with pytest.raises(PackageError) as exc:
        load_package(build_zip(files), "p.zip")
    if expected is None:
        assert exc.value.problems[0].file == "t.app.conf" and "HOCON syntax error" in exc.value.problems[0].message
    else:
        assert _problems(exc) == expected


BAD_CONFS = [
    ("missing-root", "task { }\nwizard { entries: [] }",
     [("id", "is required"), ("name", "is required"), ("version", "is required"), ("default_queue", "is required")]),
    ("no-entry-point", app_conf().replace('entry_point: "main.py"', ""),
     [("task.script.entry_point", "is required")]),
    ("unknown-root", app_conf(extra="colour: red"), [("colour", "unknown key")]),
    ("wrong-types", app_conf(extra="resumable: 3\nfeatured: x\nbadges: [1]"),
     [("resumable", "must be a boolean, not int"), ("featured", "must be an integer, not str"),
      ("badges[0]", "must be a string, not int")]),
    ("id-vs-file", app_conf().replace("id: t", "id: other"), [("id", "must match the file name ('t')")]),
    ("missing-icon-asset", app_conf(extra='icon: "${ASSET:nope.png}"'),
     [("icon", "${ASSET:nope.png} names a file missing from assets/")]),
    ("missing-no-info-asset", app_conf(extra='no_info_html: "${ASSET:no.html}"'),
     [("no_info_html", "${ASSET:no.html} names a file missing from assets/")]),
    # HOCON merges this task section into app_conf's (which has the entry point).
    ("task-keys", app_conf(extra='task { script { branch: 1 }, hyperparams { S { a: [1] } }, x: 1 }'),
     [("task.x", "unknown key"), ("task.script.branch", "must be a string, not int"),
      ("task.hyperparams.S.a", "a hyperparameter default must be a single value")]),
    ("unknown-wizard-type", app_conf('{name: a, type: slider, target: {field: hyperparams, section: S, name: a}}'),
     [("wizard.entries[0].type", "unknown wizard type 'slider' (one of string, integer, float, dropdown, "
                                 "checkbox, multiline_text, group, list)")]),
    ("missing-target", app_conf("{name: a, type: string}"),
     [("wizard.entries[0].target", "is required: this field's value must be stored in the task")]),
    ("group-child-missing-target", app_conf("{name: g, type: group, item_template: [{name: a, type: integer}]}"),
     [("wizard.entries[0].item_template[0].target", "is required: this field's value must be stored in the task")]),
    ("list-missing-target", app_conf("{name: l, type: list, item_template: {name: i, type: string}}"),
     [("wizard.entries[0].target", "is required: this field's value must be stored in the task")]),
    ("bad-target", app_conf("{name: a, type: string, target: {field: params, name: 1, format: yaml}}"),
     [("wizard.entries[0].target.field", "must be hyperparams or configuration"),
      ("wizard.entries[0].target.name", "must be a string, not int"),
      ("wizard.entries[0].target.format", "must be str or json")]),
    ("hyperparams-without-section", app_conf("{name: a, type: string, target: {field: hyperparams, name: a}}"),
     [("wizard.entries[0].target.section", "is required for a hyperparams target")]),
    ("configuration-with-section", app_conf("{name: a, type: string, target: {field: configuration, section: S, name: a}}"),
     [("wizard.entries[0].target.section", "only a hyperparams target has a section")]),
    ("list-as-str", app_conf("{name: l, type: list, item_template: {name: i, type: string}, "
                             "target: {field: configuration, name: l, format: str}}"),
     [("wizard.entries[0].target.format", "a list is stored as JSON: format must be json")]),
    ("conditional-later", app_conf(STR_FIELD.replace("}}", "}, conditional: {entries: [{name: b, value: x}]}}") + ","
                                   + STR_FIELD.replace("name: a", "name: b")),
     [("wizard.entries[0].conditional.entries[0].name", "names 'b', which is not an earlier field")]),
    ("conditional-self", app_conf(STR_FIELD.replace("}}", "}, conditional: {entries: [{name: a, value: x}]}}")),
     [("wizard.entries[0].conditional.entries[0].name", "names 'a', which is not an earlier field")]),
    ("conditional-unknown", app_conf(STR_FIELD + "," + STR_FIELD.replace("name: a", "name: b").replace(
        "}}", "}, conditional: {entries: [{value: 1}, {name: zz, value: 1}]}}")),
     [("wizard.entries[1].conditional.entries[0].name", "is required"),
      ("wizard.entries[1].conditional.entries[1].name", "names an unknown field 'zz'")]),
    ("default-conditional-on-later", app_conf(
        STR_FIELD.replace("}}", "}, default_conditional_on: {name: b, value: {x: y}}}") + ","
        + STR_FIELD.replace("name: a", "name: b")),
     [("wizard.entries[0].default_conditional_on.name", "names 'b', which is not an earlier field")]),
    ("default-conditional-on-bad-default", app_conf(
        '{name: m, type: checkbox, target: {field: hyperparams, section: S, name: m}},'
        '{name: n, type: integer, target: {field: hyperparams, section: S, name: n}, '
        'default_conditional_on: {name: m, value: {"true": ten}}}'),
     [("wizard.entries[1].default_conditional_on.value.true", "default must be an integer")]),
    ("duplicate-name", app_conf(STR_FIELD + "," + STR_FIELD),
     [("wizard.entries[1].name", "duplicate field name 'a'")]),
    ("entry-keys", app_conf(STR_FIELD.replace("type: string", "type: string, colour: 1, required: yes")),
     [("wizard.entries[0].colour", "unknown key"), ("wizard.entries[0].required", "must be a boolean, not str")]),
    ("bad-defaults", app_conf(
        '{name: i, type: integer, default: x, target: {field: hyperparams, section: S, name: i}},'
        '{name: d, type: dropdown, choices: [a, b], default: c, target: {field: hyperparams, section: S, name: d}},'
        '{name: l, type: list, default: x, item_template: {name: v, type: string},'
        ' target: {field: configuration, name: l}}'),
     [("wizard.entries[0].default", "must be an integer"), ("wizard.entries[1].default", "is not one of the choices"),
      ("wizard.entries[2].default", "must be a list, not str")]),
    ("dropdown-without-choices", app_conf('{name: d, type: dropdown, target: {field: hyperparams, section: S, name: d}}'),
     [("wizard.entries[0].choices", "is required for a dropdown")]),
    ("choices-on-checkbox", app_conf('{name: c, type: checkbox, choices: [a], '
                                     'target: {field: hyperparams, section: S, name: c}}'),
     [("wizard.entries[0].choices", "only a dropdown (or a string's suggestions) has choices, not 'checkbox'")]),
    ("bad-choice-source", app_conf('{name: d, type: dropdown, target: {field: hyperparams, section: S, name: d}, '
                                   'choices: {source: user, display_field: 1, filter: {fields: 2, where: 3}, x: 1}}'),
     [("wizard.entries[0].choices.x", "unknown key"),
      ("wizard.entries[0].choices.source", "must be one of project, task, model, queue, dataset_version"),
      ("wizard.entries[0].choices.display_field", "must be a string, not int"),
      ("wizard.entries[0].choices.filter.where", "unknown key"),
      ("wizard.entries[0].choices.filter.fields", "must be an object, not int")]),
    ("bad-fixed-option", app_conf('{name: d, type: dropdown, target: {field: hyperparams, section: S, name: d}, '
                                  'choices: [a, {label: B}, [1]]}'),
     [("wizard.entries[0].choices[1].value", "is required"),
      ("wizard.entries[0].choices[2]", "an option must be a scalar or {value, label}")]),
    ("item-template-rules", app_conf(
        '{name: g, type: group, target: {field: configuration, name: g}},'
        '{name: s, type: string, item_template: [], target: {field: hyperparams, section: S, name: s}},'
        '{name: l, type: list, item_template: 3, target: {field: configuration, name: l}}'),
     [("wizard.entries[0].item_template", "is required for a group"),
      ("wizard.entries[1].item_template", "only a group or a list has an item_template, not 'string'"),
      ("wizard.entries[2].item_template", "must be a list of entries or one entry")]),
    ("title-template", app_conf('{name: l, type: list, collapsibleTitleTemplate: "Item ${nope}", '
                                'item_template: [{name: a, type: string}], target: {field: configuration, name: l}}'),
     [("wizard.entries[0].collapsibleTitleTemplate", "${nope} names no field of the item_template")]),
    ("unknown-element", app_conf(dashboard='{contents: [{type: video, title: x}]}'),
     [("dashboard.lines[0].contents[0].type", "unknown dashboard element type 'video' (one of html, plot, scalar, "
                                               "scalar-histogram, debug-images, log, hyperparameter, configuration)")]),
    ("element-fields", app_conf(dashboard='{style: 3, contents: [{type: scalar-histogram, metric: m, variant: v, '
                                          'key: epoch, hide_legend: no}, {type: html}, {type: plot, text: x}]}'),
     [("dashboard.lines[0].style", "must be an object of CSS properties or a CSS string"),
      ("dashboard.lines[0].contents[0].hide_legend", "must be a boolean, not str"),
      ("dashboard.lines[0].contents[0].variant", "must be a list, not str"),
      ("dashboard.lines[0].contents[0].key", "must be iter, timestamp or iso_time"),
      ("dashboard.lines[0].contents[1].text", "is required"),
      ("dashboard.lines[0].contents[2].text", "unknown key"),
      ("dashboard.lines[0].contents[2].metric", "is required")]),
    ("html-missing-asset", app_conf(dashboard='{contents: [{type: html, text: "<img src=\\"${ASSET:a.png}\\">"}]}'),
     [("dashboard.lines[0].contents[0].text", "${ASSET:a.png} names a file missing from assets/")]),
]


@pytest.mark.parametrize("conf, expected", [c[1:] for c in BAD_CONFS], ids=[c[0] for c in BAD_CONFS])
def test_bad_app_conf_names_every_problem(conf, expected):
    with pytest.raises(PackageError) as exc:
        load_package(build_zip({T: conf.encode()}), "p.zip")
    assert [(p.path, p.message) for p in exc.value.problems] == expected
    assert {p.file for p in exc.value.problems} == {T}


def test_all_problems_of_a_package_are_reported_together():
    conf = app_conf("{name: a, type: slider}", '{contents: [{type: video}]}', 'icon: "${ASSET:x.png}"')
    with pytest.raises(PackageError) as exc:
        load_package(build_zip({T: conf.encode()}))
    assert [p.path for p in exc.value.problems] == [
        "icon", "wizard.entries[0].type", "dashboard.lines[0].contents[0].type"]
    assert "t.app.conf: icon: ${ASSET:x.png} names a file missing from assets/" in str(exc.value)
