// One application instance: its status, actions (open the task, rename, stop, relaunch) and the app's dashboard
// (apps.get_instance_info): `lines` drawn as rows with their own `style`, each element a titled card drawn by a
// module under dashboard/ that reuses the task page's components. While the instance is queued or running the
// info is re-read every few seconds: the status, html texts and parameters update in place, plots and debug
// images are re-read, scalars and the console follow on their own timers (they ask isRunning()).
import {api} from '../../api.js';
import {errorBox, fmtDate, h, replace, statusBadge, toast} from '../../dom.js';
import {confirmDialog, formDialog} from '../../components/dialogs.js';

export const ACTIVE = new Set(['queued', 'in_progress']);
const POLL_MS = 3000;

const ELEMENTS = {
  html: () => import('./dashboard/html.js'),
  scalar: () => import('./dashboard/series.js'),
  'scalar-histogram': () => import('./dashboard/series.js'),
  plot: () => import('./dashboard/plot.js'),
  'debug-images': () => import('./dashboard/images.js'),
  log: () => import('./dashboard/log.js'),
  hyperparameter: () => import('./dashboard/params.js'),
  configuration: () => import('./dashboard/params.js'),
};

/** A line's `style`: an object of CSS properties (camelCase or kebab-case) or CSS text. */
export function applyStyle(el, style) {
  if (!style) return;
  if (typeof style === 'string') { el.style.cssText += `;${style}`; return; }
  for (const [name, value] of Object.entries(style)) {
    const property = name.includes('-') ? name : name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    el.style.setProperty(property, String(value));
  }
}

export function taskLink(instance) {
  return `/projects/${encodeURIComponent(instance.project || '*')}/tasks/${encodeURIComponent(instance.id)}/execution`;
}

/**
 * mountDashboard(container, {instanceId, onChange(instance), onRelaunched(newId)}) -> cleanup.
 * onChange: the instance's list entry changed (status, name), so the list can follow without waiting.
 */
export function mountDashboard(container, {instanceId, onChange = () => {}, onRelaunched = () => {}}) {
  let info = null;
  let destroyed = false;
  let timer = null;
  const mounted = []; // {element, handle}
  const head = h('div', {class: 'app-instance-head'});
  const body = h('div', {class: 'app-dashboard'},
    h('p', {class: 'muted'}, 'Loading dashboard…'));
  replace(container, head, body);

  const running = () => ACTIVE.has(info?.instance?.status);
  const fail = (el, error) => replace(el, errorBox(error));

  async function act(what, run) {
    try {
      await run();
    } catch (error) {
      toast(`${what} failed: ${error.message}`, 'error');
    }
  }

  async function stop() {
    const ok = await confirmDialog({title: 'Stop instance', confirmLabel: 'Stop', danger: true,
      message: `Stop “${info.instance.name}”? Its task is stopped (a queued one leaves the queue).`});
    if (ok) await act('Stop', async () => { await api('apps.stop_instance', {instance: instanceId}); await poll(); });
  }

  async function relaunch() {
    const ok = await confirmDialog({title: 'Relaunch instance', confirmLabel: 'Relaunch',
      message: `Relaunch “${info.instance.name}” with the same settings on the app's current version? `
        + 'This instance is stopped and archived.'});
    if (ok) {
      await act('Relaunch', async () => {
        const {id} = await api('apps.relaunch_instance', {instance: instanceId});
        toast('Relaunched', 'success');
        onRelaunched(id);
      });
    }
  }

  async function rename() {
    const values = await formDialog({title: 'Rename instance', submitLabel: 'Rename',
      fields: [{name: 'name', label: 'Name', value: info.instance.name, required: true}],
      validate: (v) => (v.name.trim() ? null : 'A name is required'),
      submit: (v) => api('apps.edit_instance', {instance: instanceId, name: v.name.trim()})});
    if (values) await poll();
  }

  let headShown = null;
  function drawHead() {
    const instance = info.instance;
    // Rebuilt only when something in it changed, so a focused button keeps its focus between refreshes.
    const signature = JSON.stringify([instance, Boolean(info.app)]);
    if (signature === headShown) return;
    headShown = signature;
    const active = ACTIVE.has(instance.status);
    const message = [instance.status_message, instance.status_reason].filter(Boolean).join(' · ');
    replace(head,
      h('div', {class: 'app-instance-title'},
        h('h2', {class: 'app-instance-name'}, instance.name || instance.id),
        h('span', {class: 'app-instance-status'}, statusBadge(instance.status)),
        h('span', {class: 'spacer'}),
        h('a', {class: 'button', href: taskLink(instance)}, 'Open task'),
        h('button', {type: 'button', onclick: rename}, 'Rename'),
        h('button', {type: 'button', class: 'danger', onclick: stop, disabled: !active}, 'Stop'),
        h('button', {type: 'button', onclick: relaunch}, 'Relaunch')),
      h('p', {class: 'app-instance-meta muted'},
        message ? h('span', {class: 'app-status-message'}, message) : null,
        h('span', {}, `By ${instance.user?.name || instance.user?.id || 'unknown'}`),
        instance.started ? h('span', {}, `started ${fmtDate(instance.started)}`) : null,
        h('span', {}, `updated ${fmtDate(instance.last_update)}`),
        info.app ? h('span', {}, `version ${instance.version || info.app.version}`)
          : h('span', {class: 'app-gone'}, 'the application was removed')));
  }

  async function drawLines() {
    const lines = info.dashboard?.lines || [];
    if (!lines.length) { replace(body, h('p', {class: 'muted'}, 'This application has no dashboard.')); return; }
    const ctx = {taskId: instanceId, isRunning: running, info: () => info, fail};
    const rows = lines.map((line, lineIndex) => {
      const row = h('div', {class: 'app-line', dataset: {line: lineIndex}});
      applyStyle(row, line.style);
      for (const [index, element] of (line.contents || []).entries()) {
        const cardBody = h('div', {class: 'app-element-body'});
        const title = element.title || element.type;
        row.append(h('section', {class: `app-element app-element-${element.type}`,
          'aria-label': title, dataset: {type: element.type}},
        h('h3', {class: 'app-element-title'}, title), cardBody));
        const entry = {line: lineIndex, index, element, handle: null};
        mounted.push(entry);
        const load = ELEMENTS[element.type];
        if (!load) {
          cardBody.append(h('p', {class: 'muted'}, `Unknown element type “${element.type}”`));
          continue;
        }
        load().then((module) => {
          if (!destroyed) entry.handle = module.mount(cardBody, element, ctx) || {};
        }).catch((error) => fail(cardBody, error));
      }
      return row;
    });
    replace(body, rows);
  }

  function updateElements() {
    for (const entry of mounted) {
      const fresh = info.dashboard?.lines?.[entry.line]?.contents?.[entry.index] || entry.element;
      try {
        entry.handle?.update?.(info, fresh);
        entry.handle?.refresh?.();
      } catch (error) {
        console.warn('dashboard element refresh failed', error);
      }
    }
  }

  async function load() {
    try {
      info = await api('apps.get_instance_info', {instance: instanceId});
    } catch (error) {
      replace(body, errorBox(error));
      return;
    }
    if (destroyed) return;
    drawHead();
    onChange(info.instance);
    await drawLines();
    schedule();
  }

  async function poll() {
    try {
      const next = await api('apps.get_instance_info', {instance: instanceId});
      if (destroyed) return;
      const wasActive = running();
      const changed = next.instance.status !== info.instance.status || next.instance.name !== info.instance.name;
      info = next;
      drawHead();
      if (changed) onChange(info.instance);
      // One more round after the instance ended: what it reported last.
      if (running() || wasActive) updateElements();
    } catch (error) {
      console.warn('instance refresh failed', error);
    }
    schedule();
  }

  function schedule() {
    clearTimeout(timer);
    if (destroyed || !running()) return;
    timer = setTimeout(() => {
      if (document.visibilityState === 'visible') poll(); else schedule();
    }, POLL_MS);
  }

  load();
  return () => {
    destroyed = true;
    clearTimeout(timer);
    for (const entry of mounted) {
      try { entry.handle?.destroy?.(); } catch (error) { console.error(error); }
    }
  };
}
