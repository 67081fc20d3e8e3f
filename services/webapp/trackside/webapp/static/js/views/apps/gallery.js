// Applications (/applications): the installed custom applications as cards in category tabs, featured ones
// first (apps.get_apps: featured, then name), each with its icon, provider, description, badges, version,
// running and total instances and a Launch button that opens the wizard. Admins also see disabled apps,
// greyed, with an "Enabled" switch (apps.enable / apps.disable). A card opens the app's page.
// /applications?launch=<id> opens that app's wizard at once (links from elsewhere).
import {api, appConfig} from '../../api.js';
import {navigate, setQuery} from '../../router.js';
import {errorBox, h, replace, toast} from '../../dom.js';
import {assetUrl} from './assets.js';
import {openLaunchWizard} from './wizard.js';

const ADMIN_ROLES = new Set(['admin', 'root', 'system']);
const DEFAULT_FEATURED = 500;
const REFRESH_MS = 15000;

/** Featured (lower first), then name: the API's order, kept when the page filters. */
export function byFeatured(a, b) {
  return (a.featured ?? DEFAULT_FEATURED) - (b.featured ?? DEFAULT_FEATURED)
    || String(a.name || a.id).localeCompare(String(b.name || b.id));
}

export async function render({root, query}) {
  const config = await appConfig();
  const admin = ADMIN_ROLES.has(config?.user?.role);
  const state = {category: query.get('category') || '', apps: null, signature: ''};
  const tabs = h('div', {class: 'tabs app-tabs', role: 'tablist', 'aria-label': 'Application categories'});
  const grid = h('div', {class: 'cards app-cards', role: 'list', 'aria-label': 'Applications'});
  const status = h('p', {class: 'muted', role: 'status'});
  replace(root, h('div', {class: 'toolbar'}, h('h1', {}, 'Applications')), tabs, status, grid);

  async function load() {
    try {
      const data = await api('apps.get_apps', admin ? {include_disabled: true} : {});
      const apps = [...(data.apps || [])].sort(byFeatured);
      const signature = JSON.stringify(apps);
      if (signature === state.signature) return;  // nothing changed: keep focus and open menus
      state.apps = apps;
      state.signature = signature;
      draw();
    } catch (err) {
      if (state.apps === null) replace(grid, errorBox(err));
      else toast(err.message, 'error');
    }
  }

  function draw() {
    const apps = state.apps;
    const categories = [...new Set(apps.map((a) => a.category).filter(Boolean))].sort((a, b) => a.localeCompare(b));
    if (state.category && !categories.includes(state.category)) state.category = '';
    replace(tabs, !apps.length ? [] : ['', ...categories].map((category) => h('button', {type: 'button', role: 'tab',
      'aria-selected': String(category === state.category), onclick: () => {
        state.category = category;
        setQuery({category: category || null});
        draw();
      }}, category || 'All')));
    if (!apps.length) {
      status.textContent = '';
      replace(grid, emptyState(config));
      return;
    }
    const shown = apps.filter((a) => !state.category || a.category === state.category);
    status.textContent = `${shown.length} application${shown.length === 1 ? '' : 's'}`;
    replace(grid, shown.map((app) => appCard(app, admin, load)));
  }

  await load();
  const launchId = query.get('launch');
  if (launchId) {
    setQuery({launch: null});  // a reload does not open it again
    openLaunchWizard(launchId);
  }
  const timer = setInterval(() => { if (document.visibilityState === 'visible') load(); }, REFRESH_MS);
  return () => clearInterval(timer);
}

function appCard(app, admin, reload) {
  const headingId = `app-card-${app.id}`;
  const page = `/applications/${encodeURIComponent(app.id)}`;
  const enabled = app.enabled !== false;
  const instances = app.instances || {};
  const icon = iconFor(app);
  const launch = h('button', {type: 'button', class: 'primary', disabled: !enabled,
    'aria-label': `Launch ${app.name}`, onclick: () => openLaunchWizard(app.id, {
      onLaunched: (id) => navigate(`${page}/instances/${encodeURIComponent(id)}`)})}, 'Launch');
  const toggle = admin ? enabledSwitch(app, reload) : null;
  const card = h('article', {class: `card app-card${enabled ? '' : ' app-disabled'}`, role: 'listitem',
    'aria-labelledby': headingId, dataset: {app: app.id}},
  h('div', {class: 'app-card-head'}, icon,
    h('div', {class: 'app-card-title'},
      h('h2', {id: headingId}, h('a', {href: page}, app.name || app.id)),
      app.provider ? h('p', {class: 'muted small'}, app.provider) : null)),
  app.description ? h('p', {class: 'description'}, app.description) : null,
  h('ul', {class: 'event-chips', 'aria-label': 'Badges'},
    enabled ? null : h('li', {class: 'tag app-disabled-tag'}, 'Disabled'),
    (app.badges || []).map((b) => h('li', {class: 'tag'}, b))),
  h('p', {class: 'app-meta muted small'},
    h('span', {}, app.version ? `v${app.version}` : ''),
    h('span', {class: 'app-instance-count'}, instanceText(instances))),
  h('div', {class: 'app-card-actions'}, toggle, h('span', {class: 'spacer'}), launch));
  // The whole card opens the app's page; its buttons, links and switch keep their own job.
  card.addEventListener('click', (event) => {
    if (event.target.closest('a, button, input, label')) return;
    navigate(page);
  });
  return card;
}

function instanceText({running = 0, total = 0}) {
  if (!total) return 'No instances';
  return `${running} running · ${total} instance${total === 1 ? '' : 's'}`;
}

function iconFor(app) {
  const letter = h('span', {class: 'app-icon app-icon-letter', 'aria-hidden': 'true'},
    (app.name || app.id || '?').trim().charAt(0).toUpperCase());
  const src = assetUrl(app.icon_url);
  if (!src) return letter;
  const img = h('img', {class: 'app-icon', src, alt: '', loading: 'lazy'});
  img.addEventListener('error', () => img.replaceWith(letter), {once: true});
  return img;
}

function enabledSwitch(app, reload) {
  const input = h('input', {type: 'checkbox', role: 'switch', checked: app.enabled !== false,
    'aria-label': `Enabled: ${app.name}`});
  input.addEventListener('change', async () => {
    input.disabled = true;
    try {
      await api(input.checked ? 'apps.enable' : 'apps.disable', {app: app.id});
      toast(`${app.name} ${input.checked ? 'enabled' : 'disabled'}`, 'success');
      await reload();
    } catch (err) {
      input.checked = !input.checked;
      toast(err.message, 'error');
    } finally {
      input.disabled = false;
    }
  });
  return h('label', {class: 'check app-switch'}, input, 'Enabled');
}

function emptyState(config) {
  const host = config?.api_url || 'http://<api server>:8008';
  return h('div', {class: 'empty-state', role: 'listitem'},
    h('h2', {}, 'No applications installed'),
    h('p', {class: 'muted'}, 'An administrator installs an application package (a zip or tar.gz of ',
      h('code', {}, '<id>.app.conf'), ' and ', h('code', {}, 'assets/'), ') with:'),
    h('pre', {class: 'code'}, `trackside-apps upload --host ${host} --user <admin key> --password <admin secret> `
      + '--files my-app.zip'));
}
