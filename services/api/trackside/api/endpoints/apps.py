"""apps.*: custom applications (issue 17; bll/apps.py, bll/app_instances.py, bll/app_store.py).

Any user of the company reads apps and launches instances; installing, enabling, disabling and deleting apps is
for admins. Dropdown choices are read by running the source's get_all endpoint as the caller
(:func:`_choices_reader`), so a wizard lists exactly what that user's get_all call would.
"""
from __future__ import annotations

import mimetypes
from dataclasses import replace
from datetime import timezone

from flask import Response
from marshmallow import fields, validate

from trackside.api import errors
from trackside.api.bll.task_status import TASK_STATUSES
from trackside.api.bll.users import ADMIN_ROLES
from trackside.api.context import Call
from trackside.api.registry import REGISTRY, endpoint
from trackside.api.schema import Bool, Dict, Int, OneOf, RequestSchema, Str, StrList

SINCE = "2.31"
ADMINS = tuple(ADMIN_ROLES)
# Uploads larger than the package reader's uncompressed cap cannot be valid packages.
MAX_UPLOAD_BYTES = 64 * 1024 * 1024


def _choices_reader(call: Call):
    """``read(endpoint, body) -> rows``: the source's get_all endpoint, run with the caller's identity."""
    def read(name: str, body: dict) -> list:
        target = REGISTRY.resolve(name, call.api_version)
        try:
            data = target.schema().load(body)
        except Exception as exc:  # the app's filter does not fit the query: the wizard says so
            raise errors.ValidationError(f"dropdown choices query for {name} is invalid: {exc}") from None
        result = target.handler(replace(call, endpoint=name, data=data))
        return next((value for value in result.values() if isinstance(value, list)), [])
    return read


# -- installing (admins) ---------------------------------------------------------------------------------
class UploadRequest(RequestSchema):
    file = fields.Raw(required=True)
    filename = Str()


@endpoint("apps.upload", UploadRequest, min_version=SINCE, roles=ADMINS, upload=True)
def upload(call: Call) -> dict:
    data = call.data["file"]
    if not isinstance(data, bytes) or not data:
        raise errors.MissingRequiredFields("missing required fields: file (the package archive)", fields=["file"])
    if len(data) > MAX_UPLOAD_BYTES:
        raise errors.ValidationError(f"the archive is over {MAX_UPLOAD_BYTES} bytes", fields=["file"])
    return call.app.apps.upload(call.identity, data, call.data.get("filename") or "")


class AppRequest(RequestSchema):
    app = Str(required=True)


@endpoint("apps.enable", AppRequest, min_version=SINCE, roles=ADMINS)
def enable(call: Call) -> dict:
    return call.app.apps.set_enabled(call.identity, call.data["app"], True)


@endpoint("apps.disable", AppRequest, min_version=SINCE, roles=ADMINS)
def disable(call: Call) -> dict:
    return call.app.apps.set_enabled(call.identity, call.data["app"], False)


@endpoint("apps.delete", AppRequest, min_version=SINCE, roles=ADMINS)
def delete(call: Call) -> dict:
    return call.app.apps.delete(call.identity, call.data["app"])


# -- the gallery and the wizard --------------------------------------------------------------------------
class GetAppsRequest(RequestSchema):
    id = StrList()
    category = Str()
    include_disabled = Bool(load_default=False)


@endpoint("apps.get_apps", GetAppsRequest, min_version=SINCE)
def get_apps(call: Call) -> dict:
    data = call.data
    if data["include_disabled"] and call.identity.role not in ADMIN_ROLES:
        raise errors.RoleNotAllowed("include_disabled is for admins", fields=["include_disabled"])
    return {"apps": call.app.apps.get_apps(call.identity.company, data.get("id"), data.get("category"),
                                           data["include_disabled"])}


class GetAssetRequest(RequestSchema):
    app = Str(required=True)
    version = Str()
    file = Str(required=True)


@endpoint("apps.get_asset", GetAssetRequest, min_version=SINCE)
def get_asset(call: Call) -> Response:
    data = call.data
    blob = call.app.apps.get_asset(call.identity.company, data["app"], data.get("version"), data["file"])
    mimetype = mimetypes.guess_type(data["file"])[0] or "application/octet-stream"
    # Assets are the uploader's files: an html one must not run scripts with the API's origin.
    return Response(blob, mimetype=mimetype,
                    headers={"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"})


@endpoint("apps.get_launch_template", AppRequest, min_version=SINCE)
def get_launch_template(call: Call) -> dict:
    return call.app.apps.launch_template(call.identity, call.data["app"], _choices_reader(call))


class LaunchRequest(AppRequest):
    launch_params = Dict(load_default=dict)
    task_name = Str()


@endpoint("apps.launch_instance", LaunchRequest, min_version=SINCE)
def launch_instance(call: Call) -> dict:
    data = call.data
    return call.app.apps.launch(call.identity, data["app"], data["launch_params"] or {}, data.get("task_name"),
                                _choices_reader(call))


class VersionRequest(AppRequest):
    version = Str()


@endpoint("apps.get_info_template", VersionRequest, min_version=SINCE)
def get_info_template(call: Call) -> dict:
    return call.app.apps.info_template(call.identity.company, call.data["app"], call.data.get("version"))


# -- instances ---------------------------------------------------------------------------------------------
class GetInstancesRequest(RequestSchema):
    app = Str()
    status = fields.List(OneOf(TASK_STATUSES))
    updated_since = fields.AwareDateTime(default_timezone=timezone.utc)
    page = Int(load_default=0, validate=validate.Range(min=0))
    page_size = Int(load_default=50, validate=validate.Range(min=1, max=500))


@endpoint("apps.get_instances", GetInstancesRequest, min_version=SINCE)
def get_instances(call: Call) -> dict:
    data = call.data
    if data.get("app"):
        call.app.apps.store.require(call.identity.company, data["app"])
    return call.app.apps.instances.get_all(call.identity.company, data.get("app"), data.get("status"),
                                           data.get("updated_since"), data["page"], data["page_size"])


class InstanceRequest(RequestSchema):
    instance = Str(required=True)


@endpoint("apps.get_instance_info", InstanceRequest, min_version=SINCE)
def get_instance_info(call: Call) -> dict:
    return call.app.apps.instances.info(call.identity.company, call.data["instance"])


class StopInstanceRequest(InstanceRequest):
    force = Bool(load_default=False)


@endpoint("apps.stop_instance", StopInstanceRequest, min_version=SINCE)
def stop_instance(call: Call) -> dict:
    return call.app.apps.instances.stop(call.identity, call.data["instance"], call.data["force"])


@endpoint("apps.relaunch_instance", InstanceRequest, min_version=SINCE)
def relaunch_instance(call: Call) -> dict:
    return call.app.apps.instances.relaunch(call.identity, call.data["instance"], _choices_reader(call))


class EditInstanceRequest(InstanceRequest):
    name = Str(required=True)


@endpoint("apps.edit_instance", EditInstanceRequest, min_version=SINCE)
def edit_instance(call: Call) -> dict:
    return call.app.apps.instances.rename(call.identity, call.data["instance"], call.data["name"])
