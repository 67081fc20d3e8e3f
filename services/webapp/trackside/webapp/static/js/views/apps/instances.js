// The app page's instance list (apps.get_instances for one app, newest first): name, status, who launched it,
// started/updated; each row links to the instance's dashboard. Re-read every few seconds while shown.
import {api} from '../../api.js';
import {errorBox, fmtDate, h, replace, statusBadge} from '../../dom.js';

const POLL_MS = 5000;
const PAGE_SIZE = 100;

export function instancePath(appId, instanceId) {
  return `/applications/${encodeURIComponent(appId)}/instances/${encodeURIComponent(instanceId)}`;
}

/**
 * mountInstanceList(container, {appId, onLoad(instances, total)}) -> {select(id), has(id), refresh(),
 * patch(instance), destroy()}. onLoad runs after every read (the page picks an instance or shows the no-instances
 * placeholder).
 */
export function mountInstanceList(container, {appId, onLoad = () => {}}) {
  let selected = null;
  let instances = [];
  let total = 0;
  let destroyed = false;
  let shown = null;
  const count = h('span', {class: 'muted app-instance-count'});
  const list = h('ul', {class: 'app-instance-list', 'aria-label': 'Instances'});
  const note = h('p', {class: 'muted', hidden: true});
  replace(container, h('div', {class: 'app-instances-head'}, h('h2', {}, 'Instances'), count), note, list);

  function draw() {
    // Redrawn only when something changed, so a focused link keeps its focus between refreshes.
    const signature = JSON.stringify([selected, total, instances]);
    if (signature === shown) return;
    shown = signature;
    count.textContent = total ? String(total) : '';
    note.hidden = instances.length > 0;
    note.textContent = 'No instances yet';
    replace(list, instances.map((instance) => {
      const current = instance.id === selected;
      return h('li', {class: `app-instance${current ? ' selected' : ''}`, dataset: {instance: instance.id}},
        h('a', {href: instancePath(appId, instance.id), 'aria-current': current ? 'page' : null},
          h('span', {class: 'app-instance-row'},
            h('span', {class: 'app-instance-label'}, instance.name || instance.id), statusBadge(instance.status)),
          h('span', {class: 'app-instance-sub muted'}, [instance.user?.name,
            instance.started ? `started ${fmtDate(instance.started)}` : `created ${fmtDate(instance.created)}`]
            .filter(Boolean).join(' · ')),
          h('span', {class: 'app-instance-sub muted'}, `updated ${fmtDate(instance.last_update)}`)));
    }));
  }

  // One read at a time: a second call while one is out shares it.
  let reading = null;
  function refresh() {
    reading ??= read().finally(() => { reading = null; });
    return reading;
  }

  async function read() {
    try {
      const answer = await api('apps.get_instances', {app: appId, page: 0, page_size: PAGE_SIZE});
      if (destroyed) return;
      instances = answer.instances || [];
      total = answer.total ?? instances.length;
      draw();
      onLoad(instances, total);
    } catch (error) {
      if (destroyed) return;
      shown = null; // drawn again once a read succeeds
      replace(list, h('li', {}, errorBox(error)));
    }
  }

  refresh();
  const timer = setInterval(() => { if (document.visibilityState === 'visible') refresh(); }, POLL_MS);
  return {
    select(id) { selected = id; draw(); },
    has: (id) => instances.some((i) => i.id === id),
    refresh,
    /** The dashboard read a newer state of one instance: shown at once. */
    patch(instance) {
      const at = instances.findIndex((i) => i.id === instance.id);
      if (at >= 0) { instances[at] = {...instances[at], ...instance}; draw(); }
    },
    destroy() { destroyed = true; clearInterval(timer); },
  };
}
