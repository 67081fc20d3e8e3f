"""Custom apps installed for the web app's gallery and wizard tests: the example app (examples/apps/numpy-trainer,
as its README packs it) and small apps of other categories, uploaded through apps.upload as the admin."""
from __future__ import annotations

from pathlib import Path

from support.app_packages import app_conf, build_zip

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "apps" / "numpy-trainer"
EXAMPLE_ID = "numpy-trainer"
# A 1x1 PNG: an icon the browser can decode (the gallery checks that the image loaded).
PIXEL_PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                          "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a5f1c96b0000000049454e44ae426082")


def example_files() -> dict:
    files = {f"{EXAMPLE_ID}.app.conf": (EXAMPLE / f"{EXAMPLE_ID}.app.conf").read_bytes()}
    for path in sorted((EXAMPLE / "assets").iterdir()):
        files[f"assets/{path.name}"] = path.read_bytes()
    return files


ONE_FIELD = """{ name: path, title: "Path", type: string, required: true, default: "/data",
    target { field: hyperparams, section: General, name: path } }"""


def small_app_files(app_id: str, name: str, category: str, featured: int, badges: list[str],
                    description: str, entries: str = ONE_FIELD) -> dict:
    """An asset icon, a placeholder page and the wizard ``entries`` (HOCON; default: one string field)."""
    header = f"""
id: "{app_id}"
name: "{name}"
provider: "Gallery tests"
description: "{description}"
category: "{category}"
featured: {featured}
badges: [{", ".join(f'"{b}"' for b in badges)}]
icon: "${{ASSET:icon.png}}"
no_info_html: "${{ASSET:no-info.html}}"
"""
    conf = app_conf(entries=entries)
    conf = conf.replace("id: t\nname: T\n", header)
    return {f"{app_id}.app.conf": conf.encode(), "assets/icon.png": PIXEL_PNG,
            "assets/no-info.html": b"<p>No instance yet</p><script>document.title = 'ran'</script>"}


def upload_app(stack, client, files: dict, filename: str = "app.zip") -> dict:
    """apps.upload (multipart, as trackside-apps sends it) as the client's user; the API's answer."""
    reply = client.session.post(f"{stack.api_url}/apps.upload", headers={"Authorization": f"Bearer {client.token}"},
                                files={"file": (filename, build_zip(files), "application/zip")}, timeout=60)
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


def stop_open_instances(client, app_id: str) -> None:
    """Stop what a test launched and left queued or running: a later module's custom-apps agent would take it."""
    open_ = client.ok("apps.get_instances", app=app_id, status=["created", "queued", "in_progress"])["instances"]
    for instance in open_:
        client.ok("apps.stop_instance", instance=instance["id"], force=True)
