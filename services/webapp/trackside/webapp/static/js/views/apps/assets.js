// An application's asset URL as the page can load it. The API names assets by a path relative to itself
// ("/apps.get_asset?app=A&version=V&file=F"); the browser reaches them through the web app's /app-assets
// route, which adds the session's token. Public URLs (an icon on a CDN) stay as they are.

export function assetUrl(apiUrl) {
  if (!apiUrl || typeof apiUrl !== 'string') return null;
  // Inside dashboard HTML the URL may still carry its escaped ampersands.
  const url = new URL(apiUrl.replace(/&amp;/g, '&'), 'http://api.invalid/');
  if (url.origin !== 'http://api.invalid' || !/^\/(v\d+\.\d+\/)?apps\.get_asset$/.test(url.pathname)) {
    return apiUrl;
  }
  const app = url.searchParams.get('app');
  const version = url.searchParams.get('version');
  const file = url.searchParams.get('file');
  if (!app || !version || !file) return apiUrl;
  const parts = file.split('/').map(encodeURIComponent).join('/');
  return `/app-assets/${encodeURIComponent(app)}/${encodeURIComponent(version)}/${parts}`;
}
