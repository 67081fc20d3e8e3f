// Settings / Webhooks: the company's webhooks (webhooks.get_all) as cards with their state (enabled, disabled
// and why, failing since when), filters and actions: create and edit (webhook_form.js), the signing secret
// shown once after create and rotate, test, enable/disable, delete, and a deliveries panel per webhook.
import {api} from '../../api.js';
import {errorBox, fmtDate, h, replace, toast} from '../../dom.js';
import {alertDialog, confirmDialog} from '../../components/dialogs.js';
import {showOnce} from './secrets.js';
import {webhookDialog} from './webhook_form.js';
import {deliveriesPanel} from './webhook_deliveries.js';

/** {label, kind, detail} of a webhook's state, for its badge. */
export function webhookState(webhook) {
  if (!webhook.enabled) {
    return {label: 'Disabled', kind: 'disabled', detail: webhook.disabled_reason || null};
  }
  if (webhook.failing_since) {
    return {label: 'Failing', kind: 'failing', detail: `failing since ${fmtDate(webhook.failing_since)}`};
  }
  return {label: 'Enabled', kind: 'enabled', detail: null};
}

/**
 * The body webhooks.create / update take from the dialog's values. Update: only what changed, and an emptied
 * template as "" (the API's "clear it"; null there means "not given").
 */
export function webhookBody(values, before = null) {
  const template = values.payload_template.trim() ? values.payload_template : null;
  const body = {
    name: values.name.trim(), url: values.url.trim(), event_types: values.event_types, projects: values.projects,
    statuses: values.statuses, enabled: values.enabled,
  };
  if (!before) return template === null ? body : {...body, payload_template: template};
  const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  const changes = Object.fromEntries(Object.entries(body).filter(([key, value]) => !same(value, before[key])));
  if (!same(template, before.payload_template || null)) changes.payload_template = template ?? '';
  return changes;
}

function secretDialog(title, secret, intro) {
  return showOnce({title, intro, rows: [{label: 'Signing secret', value: secret}]});
}

export async function render({root}) {
  const list = h('div', {class: 'webhook-list', role: 'list', 'aria-label': 'Webhooks'});
  const status = h('p', {class: 'muted', role: 'status'});
  const create = h('button', {type: 'button', class: 'primary', onclick: () => createWebhook()}, 'New webhook');
  replace(root,
    h('div', {class: 'page-title'}, h('h1', {}, 'Webhooks'), h('span', {class: 'spacer'}), create),
    h('p', {class: 'muted intro'}, 'Signed HTTP POSTs to your endpoints when tasks, models, projects or queues '
      + 'change. Failed deliveries are retried with back-off for about a day; an endpoint that keeps failing is '
      + 'disabled, and says why here.'),
    list, status);

  let eventTypes = null;
  const projectNames = {};
  const openPanels = new Map(); // webhook id -> the deliveries panel shown

  const loadEventTypes = async () => {
    eventTypes ??= (await api('webhooks.get_event_types', {})).event_types || [];
    return eventTypes;
  };

  async function nameProjects(webhooks) {
    const missing = [...new Set(webhooks.flatMap((w) => w.projects || []))].filter((id) => !(id in projectNames));
    if (!missing.length) return;
    try {
      const data = await api('projects.get_all_ex', {id: missing, only_fields: ['id', 'name'], search_hidden: true});
      for (const p of data.projects || []) projectNames[p.id] = p.name;
    } catch {
      // Shown by id.
    }
  }

  async function load() {
    status.textContent = 'Loading…';
    try {
      const {webhooks = []} = await api('webhooks.get_all', {});
      await nameProjects(webhooks);
      webhooks.sort((a, b) => String(a.name).localeCompare(String(b.name)));
      replace(list, webhooks.map(webhookCard));
      status.textContent = webhooks.length ? `${webhooks.length} webhook${webhooks.length === 1 ? '' : 's'}`
        : 'No webhooks yet. Create one to be told when something happens.';
    } catch (err) {
      status.textContent = '';
      const unsupported = err.code === 400 && err.subcode === 1;
      replace(list, unsupported ? h('p', {class: 'muted'}, 'This server does not serve webhooks.') : errorBox(err));
      create.disabled = unsupported;
    }
  }

  function webhookCard(webhook) {
    const headingId = `webhook-${webhook.id}`;
    const state = webhookState(webhook);
    const panelBox = h('div', {class: 'deliveries-box'});
    const deliveriesButton = h('button', {type: 'button', 'aria-expanded': 'false',
      'aria-label': `Deliveries of ${webhook.name}`}, 'Deliveries');
    const showDeliveries = (open) => {
      deliveriesButton.setAttribute('aria-expanded', String(open));
      if (!open) { replace(panelBox); openPanels.delete(webhook.id); return; }
      const panel = deliveriesPanel(webhook);
      openPanels.set(webhook.id, panel);
      replace(panelBox, panel.node);
    };
    deliveriesButton.addEventListener('click', () => showDeliveries(!openPanels.has(webhook.id)));
    if (openPanels.has(webhook.id)) showDeliveries(true);
    const filters = [
      webhook.projects?.length ? `projects: ${webhook.projects.map((id) => projectNames[id] || id).join(', ')}` : null,
      webhook.statuses?.length ? `statuses: ${webhook.statuses.join(', ')}` : null,
      webhook.payload_template ? 'custom payload' : null,
    ].filter(Boolean);
    const action = (label, run, extra = {}) => h('button', {type: 'button', 'aria-label': `${label} ${webhook.name}`,
      onclick: run, ...extra}, label);
    return h('article', {class: `card webhook-card state-${state.kind}`, role: 'listitem', 'aria-labelledby': headingId,
      dataset: {webhook: webhook.id}},
    h('div', {class: 'card-head'},
      h('h2', {id: headingId}, webhook.name),
      h('span', {class: `status webhook-state-${state.kind}`}, state.label)),
    state.detail ? h('p', {class: `state-detail state-${state.kind}`}, state.detail) : null,
    h('p', {class: 'webhook-url'}, h('code', {}, webhook.url)),
    h('ul', {class: 'event-chips', 'aria-label': 'Event types'},
      (webhook.event_types || []).map((t) => h('li', {class: 'tag'}, t))),
    filters.length ? h('p', {class: 'muted small'}, filters.join(' · ')) : null,
    h('p', {class: 'muted small'}, `Created ${fmtDate(webhook.created)}`,
      webhook.last_update ? ` · updated ${fmtDate(webhook.last_update)}` : ''),
    h('div', {class: 'webhook-actions'},
      deliveriesButton,
      action('Test', () => testWebhook(webhook, showDeliveries)),
      action('Edit', () => editWebhook(webhook)),
      action(webhook.enabled ? 'Disable' : 'Enable', () => setEnabled(webhook, !webhook.enabled)),
      action('Rotate secret', () => rotateSecret(webhook)),
      action('Delete', () => deleteWebhook(webhook), {class: 'danger'})),
    panelBox);
  }

  async function createWebhook() {
    let made = null;
    let types;
    try { types = await loadEventTypes(); } catch (err) { toast(err.message, 'error'); return; }
    const values = await webhookDialog({eventTypes: types, projectNames, submit: async (v) => {
      made = await api('webhooks.create', webhookBody(v));
    }});
    if (!values || !made) return;
    load();
    await secretDialog(`Webhook "${values.name.trim()}" created`, made.secret,
      'Your endpoint verifies each delivery\'s webhook-signature with this secret. Copy it now: it is shown only '
      + 'this once (Rotate secret makes a new one).');
  }

  async function editWebhook(webhook) {
    let types;
    try { types = await loadEventTypes(); } catch (err) { toast(err.message, 'error'); return; }
    const values = await webhookDialog({webhook, eventTypes: types, projectNames, submit: async (v) => {
      const changes = webhookBody(v, webhook);
      if (Object.keys(changes).length) await api('webhooks.update', {webhook: webhook.id, ...changes});
    }});
    if (values) { toast('Webhook saved', 'success'); load(); }
  }

  async function setEnabled(webhook, enabled) {
    try {
      await api('webhooks.update', {webhook: webhook.id, enabled});
      toast(enabled ? 'Webhook enabled' : 'Webhook disabled', 'success');
    } catch (err) {
      toast(err.message, 'error');
    }
    load();
  }

  async function testWebhook(webhook, showDeliveries) {
    try {
      await api('webhooks.test', {webhook: webhook.id});
      toast(`Test delivery queued for "${webhook.name}"`, 'success');
      const panel = openPanels.get(webhook.id);
      if (panel) panel.reload(); else showDeliveries(true);
    } catch (err) {
      toast(err.message, 'error');
    }
  }

  async function rotateSecret(webhook) {
    const ok = await confirmDialog({title: 'Rotate signing secret', confirmLabel: 'Rotate',
      message: h('div', {}, h('p', {}, `Make a new signing secret for "${webhook.name}"?`),
        h('p', {}, 'Deliveries carry signatures with both the new and the old secret for 24 hours, so your '
          + 'endpoint can switch over; then the old one stops.'))});
    if (!ok) return;
    let secret;
    try {
      ({secret} = await api('webhooks.rotate_secret', {webhook: webhook.id}));
    } catch (err) {
      await alertDialog({title: 'Could not rotate the secret', message: err.message});
      return;
    }
    await secretDialog(`New secret for "${webhook.name}"`, secret,
      'Copy the new secret now: it is shown only this once. The old secret keeps signing for 24 hours.');
  }

  async function deleteWebhook(webhook) {
    const ok = await confirmDialog({title: 'Delete webhook', confirmLabel: 'Delete', danger: true,
      message: `Delete webhook "${webhook.name}"? Its endpoint gets no more deliveries. This cannot be undone.`});
    if (!ok) return;
    try {
      await api('webhooks.delete', {webhook: webhook.id});
      openPanels.delete(webhook.id);
      toast(`Webhook "${webhook.name}" deleted`, 'success');
    } catch (err) {
      await alertDialog({title: 'Could not delete the webhook', message: err.message});
    }
    load();
  }

  await load();
  return undefined;
}
