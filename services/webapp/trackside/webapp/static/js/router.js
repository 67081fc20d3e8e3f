// Client-side routes at the reference app's paths, so links the SDK prints and links people paste keep working.
// A route is a pattern of segments (":name" captures one, "*rest" captures the remainder) and a view module
// that exports render(ctx) -> optional cleanup function. Matrix parameters (";ids=a,b") are parsed off a segment.

const routes = [];
let current = null; // {cleanup, path}

export function route(pattern, load, options = {}) {
  routes.push({parts: pattern.split('/').filter(Boolean), load, ...options});
}

/** Redirect rules: a function from the path to another path (or null). */
const redirects = [];
export function redirect(fn) {
  redirects.push(fn);
}

function parseSegment(segment) {
  const [name, ...matrix] = segment.split(';');
  const params = {};
  for (const item of matrix) {
    const [key, value = ''] = item.split('=');
    params[decodeURIComponent(key)] = decodeURIComponent(value);
  }
  return {name: decodeURIComponent(name), params};
}

export function match(pathname) {
  const segments = pathname.split('/').filter(Boolean).map(parseSegment);
  for (const candidate of routes) {
    const params = {};
    const matrix = {};
    let ok = true;
    let i = 0;
    for (; i < candidate.parts.length; i++) {
      const part = candidate.parts[i];
      if (part.startsWith('*')) {
        params[part.slice(1)] = segments.slice(i).map((s) => s.name).join('/');
        i = segments.length;
        break;
      }
      const segment = segments[i];
      if (!segment) { ok = false; break; }
      Object.assign(matrix, segment.params);
      if (part.startsWith(':')) params[part.slice(1)] = segment.name;
      else if (part !== segment.name) { ok = false; break; }
    }
    if (ok && i === segments.length) return {route: candidate, params, matrix};
    if (ok && candidate.parts.length === 0 && segments.length === 0) return {route: candidate, params, matrix};
  }
  return null;
}

export function navigate(path, {replace = false} = {}) {
  if (replace) history.replaceState({}, '', path);
  else history.pushState({}, '', path);
  render();
}

/** Change the query string of the current page without re-rendering (table state kept in the URL). */
export function setQuery(values) {
  const url = new URL(location.href);
  for (const [key, value] of Object.entries(values)) {
    if (value === null || value === undefined || value === '') url.searchParams.delete(key);
    else url.searchParams.set(key, value);
  }
  history.replaceState({}, '', url.pathname + url.search + url.hash);
}

export async function render() {
  for (const rule of redirects) {
    const target = rule(location.pathname);
    if (target && target !== location.pathname) {
      history.replaceState({}, '', target + location.search);
      break;
    }
  }
  const root = document.getElementById('view');
  const found = match(location.pathname);
  if (current?.cleanup) {
    try { current.cleanup(); } catch (error) { console.error(error); }
  }
  current = null;
  document.dispatchEvent(new CustomEvent('trackside:navigate', {detail: {path: location.pathname}}));
  if (!found) {
    root.replaceChildren(Object.assign(document.createElement('h1'), {textContent: 'Page not found'}));
    return;
  }
  const token = Symbol('render');
  current = {token};
  const module = await found.route.load();
  if (current?.token !== token) return; // navigated away while loading
  const query = new URLSearchParams(location.search);
  const cleanup = await module.render({root, params: found.params, matrix: found.matrix, query,
    path: location.pathname, options: found.route});
  if (current?.token === token) current.cleanup = cleanup;
  else if (typeof cleanup === 'function') cleanup();
}

/** Same-origin links navigate in place; modified clicks, downloads and other targets behave normally. */
export function start() {
  document.addEventListener('click', (event) => {
    const link = event.target.closest('a[href]');
    if (!link || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    if (link.target && link.target !== '_self') return;
    if (link.hasAttribute('download') || link.dataset.external !== undefined) return;
    const url = new URL(link.href, location.href);
    if (url.origin !== location.origin || !match(url.pathname)) return;
    event.preventDefault();
    navigate(url.pathname + url.search + url.hash);
  });
  window.addEventListener('popstate', () => render());
  render();
}
