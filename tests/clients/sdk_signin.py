"""Sign in with the SDK's own Session (key and secret from the environment) and make one call.

Prints ``{"token": bool, "status": int}``: whether the session holds a token, and the call's HTTP status.
"""
import json

from clearml.backend_api.session import Session

session = Session()
reply = session.send_request("users", "get_current_user", json={})
print(json.dumps({"token": bool(session.token), "status": reply.status_code}))
