// API asset URLs ("/apps.get_asset?app=..&version=..&file=..") as URLs the browser can load: the web app's asset
// proxy (assetUrl from ../assets.js). Loaded lazily so the dashboard works before the proxy exists; without it an
// asset URL maps to null (the caller shows text instead).
let linker = null;

export function assetLinker() {
  linker ??= import('../assets.js')
    .then((module) => (typeof module.assetUrl === 'function' ? module.assetUrl : null))
    .catch(() => null)
    .then((assetUrl) => (url) => {
      if (!url) return null;
      if (!String(url).startsWith('/apps.get_asset')) return url; // a public URL stays as given
      return assetUrl ? assetUrl(url) : null;
    });
  return linker;
}

/** Every API asset URL inside an html text rewritten (attribute values and CSS url()). */
export function linkAssetsIn(text, link) {
  return String(text || '').replace(/\/apps\.get_asset\?[^"'\s)<>]*/g, (url) => {
    const decoded = url.replace(/&amp;/g, '&');
    return (link(decoded) || url).replace(/&/g, '&amp;');
  });
}
