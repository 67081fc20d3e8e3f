"""The instance dashboard's pure parts (static/js/views/apps/dashboard*.js), run in Node as the browser runs
them: a line's style (object or CSS text), asset URLs inside an html element's text, an element's variants."""
from __future__ import annotations

import json
from pathlib import Path

from support.node import needs_node, run_module_script

APPS = Path(__file__).resolve().parents[2] / "services/webapp/trackside/webapp/static/js/views/apps"
pytestmark = needs_node

# A stand-in for an element's CSSStyleDeclaration: what setProperty and cssText received.
FAKE_ELEMENT = """(() => { const set = {}; return {set, style: {cssText: '',
    setProperty(name, value) { set[name] = value; }}}; })()"""


def run(expressions: dict) -> dict:
    body = ",".join(f"{json.dumps(k)}: (await ({v}))" for k, v in expressions.items())
    def url(name: str) -> str:
        return json.dumps((APPS / name).as_uri())

    script = (f"import {{applyStyle}} from {url('dashboard.js')};"
              f"import {{assetLinker, linkAssetsIn}} from {url('dashboard/asset_links.js')};"
              f"import {{variantsOf}} from {url('dashboard/series.js')};"
              "const link = await assetLinker();"
              "const styled = (style) => { const el = " + FAKE_ELEMENT + "; applyStyle(el, style);"
              " return {set: el.set, css: el.style.cssText}; };"
              f"console.log(JSON.stringify({{{body}}}));")
    return run_module_script(script)


def test_line_styles_asset_links_and_variants():
    out = run({
        "object": "styled({height: 'initial', backgroundColor: '#fff', 'min-height': '200px'})",
        "text": "styled('height: 300px')",
        "none": "styled(undefined)",
        "html": "linkAssetsIn('<img src=\"/apps.get_asset?app=a&amp;version=1.0&amp;file=i.png\">"
                "<div style=\"background: url(/apps.get_asset?app=a&version=1.0&file=b%20g.png)\"></div>', link)",
        "public": "link('https://cdn.example.com/x.png')",
        "icon": "link('/apps.get_asset?app=a&version=1.0&file=i.svg')",
        "variants": "[variantsOf({variant: ['train', 'validation']}), variantsOf({variant: 'lr'}),"
                    " variantsOf({}), variantsOf({variant: [1]})]",
    })
    assert out["object"]["set"] == {"height": "initial", "background-color": "#fff", "min-height": "200px"}
    assert out["text"]["css"] == ";height: 300px" and out["none"] == {"set": {}, "css": ""}
    assert out["html"] == ('<img src="/app-assets/a/1.0/i.png">'
                           '<div style="background: url(/app-assets/a/1.0/b%20g.png)"></div>')
    assert out["public"] == "https://cdn.example.com/x.png"
    assert out["icon"] == "/app-assets/a/1.0/i.svg"
    assert out["variants"] == [["train", "validation"], ["lr"], [], ["1"]]
