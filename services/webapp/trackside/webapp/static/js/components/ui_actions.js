// Custom context-menu actions written by the administrator (services.organization.ui_actions: lists per
// object type of {name, tooltip, action {method, url, payload, headers}}, `${id}` replaced by the object's id),
// and the pointer-positioned context menu that shows them.
//
//   uiActionItems(type, ids) -> Promise<[{label, title, run}]>   type: 'task' | 'model' | 'project' | 'queue'
//       One item per configured action (none configured: []). run() performs the action once per id and
//       toasts the outcome ("3 of 4 succeeded…"). A browser action is a fetch() from this page to the
//       action's URL (the target decides about CORS); a `server_side` one is organization.run_ui_action, run
//       by the webhooks service, so its URL and secrets never reach the browser.
//   contextMenu(event, items) -> close()   items: an array or a Promise of one, of
//       {label, title?, run, disabled?, danger?} or {separator: true}. Opens a role=menu at the pointer (or
//       under the focused element for the keyboard's context-menu key); arrows/Home/End move, Enter runs,
//       Escape, Tab, an outside click, scrolling or resizing close it.
import {api} from '../api.js';
import {h, toast} from '../dom.js';

const BROWSER_TIMEOUT_MS = 30000;
const PARALLEL_REQUESTS = 4;
const SLOW_MS = 1500; // a run still going after this says so, so a click is never left without an answer

let configured = null; // Promise of {project: [...], task: [...], ...}, once per page load
let warned = false;

/** The configured actions, asked once per page load (a failure is retried at the next menu, told once). */
export function loadUiActions() {
  configured ??= api('organization.get_ui_actions', {}).catch((error) => {
    console.warn('custom actions unavailable', error);
    if (!warned) toast(`Custom actions are unavailable: ${error.message}`, 'error', 8000);
    warned = true;
    configured = null;
    return {};
  });
  return configured;
}

/** `${id}` replaced everywhere in a string (the reference's only variable). */
export const substitute = (text, id) => String(text).replaceAll('${id}', id);

export async function uiActionItems(type, ids) {
  const actions = (await loadUiActions())[type] || [];
  if (!ids.length) return [];
  return actions.filter((a) => a?.name).map((action) => ({
    label: ids.length > 1 ? `${action.name} (${ids.length})` : action.name,
    title: action.tooltip || null,
    custom: true,
    run: () => runUiAction(type, action, ids),
  }));
}

/** Perform one action for every id, then one toast that sums it up. Resolves to the per-id results. */
export async function runUiAction(type, action, ids) {
  const slow = setTimeout(() => toast(`"${action.name}" running${ids.length > 1 ? ` for ${ids.length} objects` : ''}…`,
    'info', 3000), SLOW_MS);
  let results;
  try {
    results = action.server_side
      ? (await api('organization.run_ui_action', {type, name: action.name, ids})).results || []
      : await eachLimited(ids, PARALLEL_REQUESTS, (id) => browserRequest(action.action || {}, id));
  } catch (error) {
    results = ids.map((id) => ({id, ok: false, status_code: null, error: error.message}));
  } finally {
    clearTimeout(slow);
  }
  reportResults(action.name, results);
  return results;
}

/** One browser request for one id: {id, ok, status_code, error}. */
export async function browserRequest(spec, id) {
  const method = String(spec.method || 'GET').toUpperCase();
  const headers = Object.fromEntries(Object.entries(spec.headers || {})
    .map(([name, value]) => [substitute(name, id), substitute(value, id)]));
  let body;
  if (spec.payload !== undefined && spec.payload !== null && spec.payload !== '' && !['GET', 'HEAD'].includes(method)) {
    body = substitute(typeof spec.payload === 'string' ? spec.payload : JSON.stringify(spec.payload), id);
  }
  let url;
  try {
    url = new URL(substitute(spec.url || '', encodeURIComponent(id)), location.href);
  } catch {
    return {id, ok: false, status_code: null, error: `invalid URL "${spec.url || ''}"`};
  }
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), BROWSER_TIMEOUT_MS);
  try {
    // No cookies of ours or the target's: the action says itself what it sends (headers, payload).
    const response = await fetch(url, {method, headers, body, mode: 'cors', credentials: 'omit',
      signal: abort.signal});
    return {id, ok: response.ok, status_code: response.status,
      error: response.ok ? null : `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`};
  } catch (error) {
    // fetch() tells neither the page nor us why (unreachable, refused, CORS): say what it may be.
    const why = error.name === 'AbortError' ? `no answer from ${url.host} in ${BROWSER_TIMEOUT_MS / 1000} s`
      : `could not reach ${url.host} (unreachable, or blocked by the browser's CORS rules)`;
    return {id, ok: false, status_code: null, error: why};
  } finally {
    clearTimeout(timer);
  }
}

async function eachLimited(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const at = next++;
      results[at] = await fn(items[at]);
    }
  };
  await Promise.all(Array.from({length: Math.min(limit, items.length)}, worker));
  return results;
}

const shortId = (id) => String(id || '').slice(0, 8);
const outcome = (r) => (r.ok ? `HTTP ${r.status_code}` : (r.error || (r.status_code ? `HTTP ${r.status_code}` : 'failed')));

/** "Notify" succeeded (HTTP 200) | "Notify" failed: HTTP 500 | "Notify": 3 of 4 succeeded; failed: ab12cd34 (HTTP 500) */
export function summary(name, results) {
  const good = results.filter((r) => r.ok);
  const bad = results.filter((r) => !r.ok);
  if (results.length === 1) {
    return good.length ? `"${name}" succeeded (${outcome(good[0])})` : `"${name}" failed: ${outcome(bad[0])}`;
  }
  const failures = bad.slice(0, 3).map((r) => `${shortId(r.id)} (${outcome(r)})`).join(', ');
  const more = bad.length > 3 ? ` and ${bad.length - 3} more` : '';
  return `"${name}": ${good.length} of ${results.length} succeeded${bad.length ? `; failed: ${failures}${more}` : ''}`;
}

function reportResults(name, results) {
  if (!results.length) return;
  const failed = results.some((r) => !r.ok);
  toast(summary(name, results), failed ? 'error' : 'success', failed ? 10000 : 5000);
}

// ---- the context menu ---------------------------------------------------------------------------------
let openMenu = null; // {element, close}

export function contextMenu(event, items) {
  event.preventDefault?.();
  event.stopPropagation?.();
  openMenu?.close();
  const returnFocus = document.activeElement;
  const anchor = event.currentTarget instanceof Element ? event.currentTarget : event.target;
  // A keyboard-opened menu (the context-menu key, Shift+F10) has no pointer position: use the element's.
  let x = event.clientX;
  let y = event.clientY;
  if (!x && !y && anchor?.getBoundingClientRect) {
    const rect = anchor.getBoundingClientRect();
    x = rect.left + 16;
    y = rect.bottom;
  }
  const menu = h('div', {role: 'menu', class: 'menu context-menu', 'aria-label': 'Actions', tabindex: '-1',
    style: {position: 'fixed', left: `${x}px`, top: `${y}px`, right: 'auto'}},
  h('div', {class: 'muted context-menu-loading'}, 'Loading…'));
  anchor?.classList?.add('menu-target'); // the row the menu is about stays marked while it is open
  const close = () => {
    if (openMenu?.element !== menu) return;
    openMenu = null;
    anchor?.classList?.remove('menu-target');
    menu.remove();
    document.removeEventListener('mousedown', onOutside, true);
    document.removeEventListener('contextmenu', onOutside, true);
    window.removeEventListener('resize', close);
    window.removeEventListener('scroll', onScroll, true);
    window.removeEventListener('blur', close);
  };
  const onOutside = (e) => { if (!menu.contains(e.target)) close(); };
  // Close when the page moved the anchor away under the menu, not on every scroll event: a live page's
  // redraw (a chart, a panel appearing) can scroll some container without moving what the menu is about.
  const anchorAt = anchor?.getBoundingClientRect?.();
  const anchorMoved = () => {
    if (!anchorAt || !anchor.isConnected) return true;
    const now = anchor.getBoundingClientRect();
    return Math.abs(now.top - anchorAt.top) > 2 || Math.abs(now.left - anchorAt.left) > 2;
  };
  const onScroll = (e) => { if (!menu.contains(e.target) && anchorMoved()) close(); };
  openMenu = {element: menu, close};
  document.body.append(menu);
  document.addEventListener('mousedown', onOutside, true);
  document.addEventListener('contextmenu', onOutside, true);
  window.addEventListener('resize', close);
  window.addEventListener('scroll', onScroll, true);
  window.addEventListener('blur', close);

  const enabled = () => [...menu.querySelectorAll('[role=menuitem]:not([disabled])')];
  menu.addEventListener('keydown', (e) => {
    const list = enabled();
    const at = list.indexOf(document.activeElement);
    const focus = (i) => list[(i + list.length) % list.length]?.focus();
    if (e.key === 'Escape') { e.preventDefault(); close(); returnFocus?.focus?.(); }
    else if (e.key === 'Tab') close();
    else if (e.key === 'ArrowDown') { e.preventDefault(); focus(at + 1); }
    else if (e.key === 'ArrowUp') { e.preventDefault(); focus(at < 0 ? -1 : at - 1); }
    else if (e.key === 'Home') { e.preventDefault(); focus(0); }
    else if (e.key === 'End') { e.preventDefault(); focus(-1); }
  });

  Promise.resolve(items).then((list) => {
    if (openMenu?.element !== menu) return;
    const shown = (list || []).filter(Boolean);
    while (shown[0]?.separator) shown.shift();
    if (!shown.length) { close(); return; }
    menu.replaceChildren(...menuItems(shown, close));
    place(menu, x, y);
    (enabled()[0] || menu).focus();
  }, (error) => {
    menu.replaceChildren(h('div', {class: 'form-error', role: 'alert'}, error.message));
  });
  return close;
}

/** Menu buttons for items (a separator is dropped when nothing follows it or it repeats). */
export function menuItems(items, close = () => {}) {
  const nodes = [];
  items.forEach((item, i) => {
    if (item.separator) {
      if (items.slice(i + 1).some((x) => !x.separator) && nodes.at(-1)?.getAttribute('role') !== 'separator') {
        nodes.push(h('div', {role: 'separator', class: 'menu-separator'}));
      }
      return;
    }
    nodes.push(h('button', {type: 'button', role: 'menuitem', title: item.title || null, disabled: !!item.disabled,
      class: [item.danger ? 'danger' : '', item.custom ? 'custom-action' : ''].join(' ').trim() || null,
      onclick: () => { close(); item.run(); }}, item.label));
  });
  return nodes;
}

/** Keep the menu inside the window: flip left/up when it would overflow. */
function place(menu, x, y) {
  const rect = menu.getBoundingClientRect();
  const left = x + rect.width > innerWidth - 4 ? Math.max(4, x - rect.width) : x;
  const top = y + rect.height > innerHeight - 4 ? Math.max(4, y - rect.height) : y;
  Object.assign(menu.style, {left: `${left}px`, top: `${top}px`});
}
