"""Users other than the admin test key: created with auth.create_user, acting through auth.get_token_for_user."""
from __future__ import annotations

from support.client import ApiClient
from support.names import unique


def company_of(api: ApiClient) -> str:
    return api.ok("users.get_current_user")["user"]["company"]["id"]


def new_user(api: ApiClient, role: str = "user", name: str | None = None) -> tuple[str, ApiClient]:
    """A new user of the admin ``api``'s company and a client logged in as them."""
    name = name or unique("user")
    user_id = api.ok("auth.create_user", name=name, company=company_of(api), email=f"{name}@example.com",
                     role=role)["id"]
    return user_id, client_as(api, user_id)


def client_as(api: ApiClient, user_id: str) -> ApiClient:
    client = ApiClient(api.base_url, version=api.version)
    client.token = api.ok("auth.get_token_for_user", user=user_id)["token"]
    return client
