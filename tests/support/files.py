"""A small file server client for tests: requests shaped like the clearml SDK's (one multipart part per upload,
field name and filename both the object path with a leading ``/``), with the API's Bearer token."""
from __future__ import annotations

import mimetypes
import secrets
from typing import Iterable, Iterator

import requests

from support.client import ApiClient


class FilesClient:
    def __init__(self, url: str, token: str | None = None):
        self.url = url.rstrip("/")
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    @classmethod
    def logged_in(cls, files_url: str, api: ApiClient) -> "FilesClient":
        return cls(files_url, api.token)

    def upload(self, name: str, data: bytes, **kwargs) -> requests.Response:
        path = "/" + name.lstrip("/")
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return self.session.post(f"{self.url}/", files={path: (path, data, content_type)}, **kwargs)

    def upload_stream(self, name: str, chunks: Iterable[bytes], **kwargs) -> requests.Response:
        """Upload without holding the content in memory here either (chunked transfer encoding)."""
        boundary = secrets.token_hex(16)
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        return self.session.post(f"{self.url}/", data=multipart_stream(name, chunks, boundary),
                                 headers=headers, **kwargs)

    def get(self, name: str, **kwargs) -> requests.Response:
        return self.session.get(f"{self.url}/{name}", **kwargs)

    def head(self, name: str, **kwargs) -> requests.Response:
        return self.session.head(f"{self.url}/{name}", **kwargs)

    def delete(self, name: str, **kwargs) -> requests.Response:
        return self.session.delete(f"{self.url}/{name}", **kwargs)

    def delete_many(self, files, **kwargs) -> requests.Response:
        return self.session.post(f"{self.url}/delete_many", json={"files": files}, **kwargs)


def multipart_stream(name: str, chunks: Iterable[bytes], boundary: str) -> Iterator[bytes]:
    path = "/" + name.lstrip("/")
    yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{path}\"; filename=\"{path}\"\r\n"
           "Content-Type: application/octet-stream\r\n\r\n").encode()
    yield from chunks
    yield f"\r\n--{boundary}--\r\n".encode()
