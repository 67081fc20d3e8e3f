// The `html` element: the text the API resolved against the task (${hyperparams...} filled in, HTML-escaped) in
// a sandboxed iframe without scripts (sandbox="allow-same-origin" only: the page can measure its height, its
// content can run nothing). Rewritten only when the text changed, so a live refresh does not flicker.
import {h} from '../../../dom.js';
import {assetLinker, linkAssetsIn} from './asset_links.js';

// Readable defaults inside the frame; the app's own <style> comes after them and wins.
const FRAME_CSS = `<style>html{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330}
body{margin:8px 10px;overflow-wrap:anywhere}h1,h2,h3{margin:.3em 0 .4em;line-height:1.2}h1{font-size:20px}
h2{font-size:17px}h3{font-size:15px}p{margin:.35em 0}a{color:#2f6fed}table{border-collapse:collapse}
td,th{border:1px solid #dfe3ea;padding:3px 8px;text-align:left}img{max-width:100%}
pre,code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}</style>`;

export function mount(body, element) {
  const frame = h('iframe', {class: 'app-html-frame', sandbox: 'allow-same-origin', title: element.title || 'HTML',
    referrerpolicy: 'no-referrer'});
  body.append(frame);
  let shown = null;
  // Sized to its content (the line's own height, when set, still bounds the card).
  const fit = () => {
    // The <html> box, not scrollHeight: that is never less than the frame's own (default 150 px) height.
    const box = frame.contentDocument?.documentElement?.getBoundingClientRect();
    if (box) frame.style.height = `${Math.max(40, Math.ceil(box.height))}px`;
  };
  frame.addEventListener('load', () => {
    fit();
    // Images (an app's assets) arriving after the text change its height again.
    for (const img of frame.contentDocument?.images || []) if (!img.complete) img.addEventListener('load', fit);
  });
  const update = async (el) => {
    const link = await assetLinker();
    const text = linkAssetsIn(el.text, link);
    if (text === shown) return;
    shown = text;
    frame.srcdoc = `<!doctype html><html><head><meta charset="utf-8">${FRAME_CSS}</head><body>${text}</body></html>`;
  };
  update(element);
  return {update: (info, el) => update(el)};
}
