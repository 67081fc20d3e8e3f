// One webhook's deliveries (webhooks.get_deliveries, newest first, paged by scroll_id): status, event type,
// every attempt with its status code, duration and error, the next attempt, and a redeliver button
// (webhooks.redeliver: the same webhook-id, a new attempt).
//
//   deliveriesPanel(webhook) -> {node, reload()}
import {api} from '../../api.js';
import {errorBox, fmtDate, h, replace, toast} from '../../dom.js';

const PAGE_SIZE = 50;
const FOLLOW_MS = 3000; // while a delivery is pending or retrying, the first page is read again this often
const STATUSES = ['pending', 'retrying', 'succeeded', 'failed'];

/** "HTTP 503 in 120 ms: Service Unavailable" / "no answer in 15000 ms: timed out" for one attempt. */
export function attemptText(attempt) {
  const status = attempt.status_code ? `HTTP ${attempt.status_code}` : 'no answer';
  let error = attempt.error || '';
  if (attempt.status_code && error.startsWith(status)) error = error.slice(status.length).replace(/^[\s:]+/, '');
  const took = attempt.duration_ms !== null && attempt.duration_ms !== undefined
    ? ` in ${Math.round(attempt.duration_ms)} ms` : '';
  return `${status}${took}${error ? `: ${error}` : ''}`;
}

export function deliveriesPanel(webhook) {
  const headingId = `deliveries-${webhook.id}`;
  const filter = h('select', {'aria-label': `Delivery status of ${webhook.name}`},
    h('option', {value: ''}, 'Any status'), STATUSES.map((s) => h('option', {value: s}, s)));
  const rows = h('tbody');
  const status = h('p', {class: 'muted small table-status', role: 'status'});
  const more = h('button', {type: 'button', class: 'load-more', hidden: true, onclick: () => load(false)}, 'Load more');
  const table = h('div', {class: 'table-wrap'}, h('table', {class: 'data-table deliveries-table'},
    h('thead', {}, h('tr', {}, ['Status', 'Event', 'Created', 'Attempts', 'Next attempt', ''].map((t) =>
      h('th', {scope: 'col'}, t || h('span', {class: 'visually-hidden'}, 'Actions'))))),
    rows));
  const body = h('div', {}, table, status, more);
  let scrollId = null;
  let generation = 0;
  let follow = null;

  async function load(reset = true) {
    const mine = reset ? ++generation : generation;
    if (reset) scrollId = null;
    status.textContent = 'Loading…';
    try {
      const data = await api('webhooks.get_deliveries', {webhook: webhook.id, size: PAGE_SIZE,
        ...(filter.value && {status: [filter.value]}), ...(scrollId && {scroll_id: scrollId})});
      if (mine !== generation) return;
      const deliveries = data.deliveries || [];
      if (reset) rows.replaceChildren();
      rows.append(...deliveries.map(deliveryRow));
      scrollId = data.scroll_id || null;
      more.hidden = deliveries.length < PAGE_SIZE || !scrollId;
      const count = rows.children.length;
      status.textContent = count ? `${count} deliver${count === 1 ? 'y' : 'ies'}` : 'No deliveries yet.';
      // Follow deliveries in flight (a test just sent) until they settle; stops once the panel is closed.
      clearTimeout(follow);
      if (reset && deliveries.some((d) => d.status === 'pending' || d.status === 'retrying')) {
        follow = setTimeout(() => { if (node.isConnected) load(true); }, FOLLOW_MS);
      }
    } catch (err) {
      if (mine !== generation) return;
      status.textContent = '';
      replace(body, errorBox(err));
    }
  }

  function deliveryRow(delivery) {
    const attempts = delivery.attempts || [];
    const last = attempts[attempts.length - 1];
    return h('tr', {dataset: {delivery: delivery.id}},
      h('td', {}, h('span', {class: `status delivery-${delivery.status}`}, delivery.status)),
      h('td', {}, h('code', {}, delivery.event_type), h('div', {class: 'muted small delivery-id'}, delivery.id)),
      h('td', {class: 'when'}, fmtDate(delivery.created)),
      h('td', {class: 'attempts-cell'}, attempts.length ? h('details', {},
        h('summary', {}, `${attempts.length} · ${attemptText(last)}`),
        h('ol', {class: 'attempts'}, attempts.map((a) => h('li', {},
          h('span', {class: 'muted'}, fmtDate(a.at)), ' ', attemptText(a)))))
        : h('span', {class: 'muted'}, 'none yet')),
      h('td', {class: 'when'}, delivery.next_attempt_at ? fmtDate(delivery.next_attempt_at)
        : h('span', {class: 'muted'}, '–')),
      h('td', {}, h('button', {type: 'button', 'aria-label': `Redeliver ${delivery.id}`, onclick: async (event) => {
        const button = event.currentTarget;
        button.disabled = true;
        try {
          await api('webhooks.redeliver', {delivery: delivery.id});
          toast('Redelivery queued', 'success');
          load(true);
        } catch (err) {
          toast(err.message, 'error');
          button.disabled = false;
        }
      }}, 'Redeliver')));
  }

  filter.addEventListener('change', () => load(true));
  const node = h('section', {class: 'deliveries', 'aria-labelledby': headingId},
    h('div', {class: 'panel-head'}, h('h3', {id: headingId}, 'Deliveries'),
      h('span', {class: 'spacer'}), filter,
      h('button', {type: 'button', onclick: () => load(true), 'aria-label': `Refresh deliveries of ${webhook.name}`},
        'Refresh')),
    body);
  load(true);
  return {node, reload: () => load(true)};
}
