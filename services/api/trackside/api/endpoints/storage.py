"""storage.*: the company's cloud storage credentials (bll/storage_settings.py)."""
from marshmallow import fields, validate

from trackside.api.context import Call
from trackside.api.registry import endpoint
from trackside.api.schema import Bool, RequestSchema, Str


class AwsBucket(RequestSchema):
    bucket = Str()
    subdir = Str()
    host = Str()
    key = Str()
    secret = Str()
    token = Str()
    multipart = Bool(load_default=True)
    acl = Str()
    secure = Bool(load_default=True)
    region = Str()
    verify = Bool(load_default=True)
    use_credentials_chain = Bool(load_default=False)


class Aws(RequestSchema):
    key = Str()
    secret = Str()
    region = Str()
    token = Str()
    use_credentials_chain = Bool(load_default=False)
    buckets = fields.List(fields.Nested(AwsBucket))


class GoogleBucket(RequestSchema):
    bucket = Str()
    subdir = Str()
    project = Str()
    credentials_json = Str()


class Google(RequestSchema):
    project = Str()
    credentials_json = Str()
    buckets = fields.List(fields.Nested(GoogleBucket))


class AzureContainer(RequestSchema):
    account_name = Str()
    account_key = Str()
    container_name = Str()


class Azure(RequestSchema):
    containers = fields.List(fields.Nested(AzureContainer))


def _without_nulls(section: dict | None) -> dict | None:
    """A section as stored: fields not given (or null) are left out, in entries too."""
    if section is None:
        return None
    clean = {}
    for key, value in section.items():
        if isinstance(value, list):
            value = [{k: v for k, v in item.items() if v is not None} for item in value if item is not None]
        if value is not None:
            clean[key] = value
    return clean


@endpoint("storage.get_settings", RequestSchema, min_version="2.22")
def get_settings(call: Call) -> dict:
    return {"settings": call.app.storage_settings.get(call.identity.company)}


class SetSettingsRequest(RequestSchema):
    aws = fields.Nested(Aws)
    google = fields.Nested(Google)
    azure = fields.Nested(Azure)


@endpoint("storage.set_settings", SetSettingsRequest, min_version="2.31")
def set_settings(call: Call) -> dict:
    settings = {name: _without_nulls(call.data.get(name)) for name in ("aws", "google", "azure")}
    return {"updated": call.app.storage_settings.set(call.identity.company, settings)}


class ResetSettingsRequest(RequestSchema):
    keys = fields.List(fields.String(validate=validate.OneOf(["aws", "google", "azure"])))


@endpoint("storage.reset_settings", ResetSettingsRequest, min_version="2.31")
def reset_settings(call: Call) -> dict:
    keys = sorted(set(call.data.get("keys") or []))
    return {"updated": call.app.storage_settings.reset(call.identity.company, keys)}
