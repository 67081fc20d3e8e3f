"""Custom applications (issue 17): app packages, their validation, the launch wizard and dashboards.

Pure Python (pyhocon only): the API reads and validates an uploaded package with ``load_package``, checks a
launch with ``validate_launch``, writes the values into the instance task with ``apply_targets`` and
resolves a dashboard's html with ``resolve_html``. Nothing here touches the database.
"""
from trackside.shared.apps.errors import LaunchError, PackageError, Problem
from trackside.shared.apps.package import AppPackage, load_package, read_archive
from trackside.shared.apps.wizard import validate_launch
from trackside.shared.apps.targets import apply_targets
from trackside.shared.apps.choices import choices_query
from trackside.shared.apps.dashboard import resolve_html, html_references

__all__ = [
    "AppPackage", "LaunchError", "PackageError", "Problem", "apply_targets", "choices_query",
    "html_references", "load_package", "read_archive", "resolve_html", "validate_launch",
]
