"""``${ASSET:<file>}`` references: an app's icon, placeholder html and dashboard html name files in assets/."""
import re

ASSET_REF = re.compile(r"\$\{ASSET:([^}]*)\}")


def asset_refs(text: str) -> list:
    return ASSET_REF.findall(text) if isinstance(text, str) else []


def check_asset_refs(chk, text, path: str) -> None:
    for name in asset_refs(text):
        if name not in chk.assets:
            chk.error(path, f"${{ASSET:{name}}} names a file missing from assets/")


def resolve_assets(text: str, asset_url) -> str:
    """Replace each reference with ``asset_url(file)`` (the API's get_asset URL for this app and version)."""
    return ASSET_REF.sub(lambda m: asset_url(m.group(1)), text)
