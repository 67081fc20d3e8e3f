// The API, reached through the web app's proxy (/api/<service>.<action>) as the signed-in user. The token
// stays in an HttpOnly cookie; every call carries the CSRF token from the readable `trackside_csrf` cookie.

export class ApiError extends Error {
  constructor(endpoint, status, meta) {
    super(meta?.result_msg || `${endpoint} failed (HTTP ${status})`);
    this.endpoint = endpoint;
    this.status = status;
    this.code = meta?.result_code ?? status;
    this.subcode = meta?.result_subcode ?? 0;
    this.data = meta?.error_data || {}; // e.g. {fields: [...]}: which fields a refusal names
  }
}

export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)trackside_csrf=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : '';
}

export function signInAgain() {
  const next = location.pathname + location.search;
  location.assign(`/login?next=${encodeURIComponent(next)}`);
}

/** POST one endpoint; resolves to the envelope's `data`, rejects with ApiError. */
export async function api(endpoint, body = {}, {signal} = {}) {
  const response = await fetch(`/api/${endpoint}`, {
    method: 'POST',
    headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrfToken()},
    body: JSON.stringify(body),
    credentials: 'same-origin',
    signal,
  });
  let envelope = null;
  try {
    envelope = await response.json();
  } catch {
    // Not JSON (a proxy error page): reported below with the HTTP status.
  }
  if (response.status === 401) {
    signInAgain();
  }
  if (!response.ok || (envelope?.meta && envelope.meta.result_code >= 400)) {
    throw new ApiError(endpoint, response.status, envelope?.meta);
  }
  return envelope?.data ?? {};
}

/** Every item of a get_all-style endpoint, page by page through scroll_id (at most `limit` items). */
export async function apiAll(endpoint, body, listKey, limit = 5000) {
  const items = [];
  let scrollId = null;
  while (items.length < limit) {
    const page = await api(endpoint, {...body, size: Math.min(500, limit - items.length), scroll_id: scrollId});
    const got = page[listKey] || [];
    items.push(...got);
    scrollId = page.scroll_id;
    if (!got.length || !scrollId) break;
  }
  return items;
}

let configPromise = null;
/** The web app's facts about this session: {user, api_version, files_hosts, fixed_users}. */
export function appConfig() {
  configPromise ??= fetch('/app-config.json', {credentials: 'same-origin'}).then((r) => {
    if (r.status === 401) signInAgain();
    return r.json();
  });
  return configPromise;
}

/** A file the SDK reported (absolute file-server URL) as a same-origin URL through the web app's /files proxy. */
export function fileUrl(url, config) {
  if (!url) return url;
  for (const host of config?.files_hosts || []) {
    const base = host.replace(/\/+$/, '');
    if (url.startsWith(base + '/')) return '/files/' + url.slice(base.length + 1);
  }
  return url;
}
