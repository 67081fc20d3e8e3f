// An application's page: /applications/<app> and /applications/<app>/instances/<instance>. The header (icon,
// name, version, provider, description, badges, Launch) and the instance list stay while the selected instance's
// dashboard (dashboard.js) changes; without instances the app's `no_info_html` page is shown instead (a
// sandboxed frame). `?launch=1` opens the launch wizard (views/apps/wizard.js, loaded when needed).
import {api} from '../../api.js';
import {errorBox, h, replace, toast} from '../../dom.js';
import {match, navigate} from '../../router.js';
import {mountDashboard} from './dashboard.js';
import {assetLinker} from './dashboard/asset_links.js';
import {instancePath, mountInstanceList} from './instances.js';

let page = null; // {appId, el, app, list, detail, dashboard: {id, cleanup}}

async function loadApp(appId) {
  const {apps = []} = await api('apps.get_apps', {id: [appId]});
  const app = apps.find((a) => a.id === appId);
  if (!app) throw new Error(`Application ${appId} was not found`);
  return app;
}

async function launch(appId) {
  try {
    const {openLaunchWizard} = await import('./wizard.js');
    openLaunchWizard(appId, {onLaunched: (id) => navigate(instancePath(appId, id))});
  } catch (error) {
    toast(`The launch form could not be opened: ${error.message}`, 'error');
  }
}

function header(app, link) {
  const icon = link(app.icon_url);
  return h('header', {class: 'app-page-header'},
    h('div', {class: 'breadcrumbs'}, h('a', {href: '/applications'}, 'Applications'), ' / '),
    h('div', {class: 'app-page-title'},
      icon ? h('img', {class: 'app-page-icon', src: icon, alt: ''}) : h('span', {class: 'app-page-icon'}),
      h('div', {class: 'app-page-text'},
        h('h1', {}, app.name || app.id, ' ', h('span', {class: 'muted app-page-version'}, `v${app.version}`)),
        h('p', {class: 'muted app-page-provider'}, app.provider || ''),
        app.description ? h('p', {class: 'app-page-description'}, app.description) : null,
        (app.badges || []).length
          ? h('ul', {class: 'app-badges', 'aria-label': 'Badges'},
            app.badges.map((badge) => h('li', {class: 'app-badge'}, badge)))
          : null),
      h('span', {class: 'spacer'}),
      h('button', {type: 'button', class: 'primary', disabled: app.enabled === false,
        onclick: () => launch(app.id)}, 'Launch')));
}

function placeholder(app, link) {
  const url = link(app.no_info_html_url);
  if (url) {
    return h('iframe', {class: 'app-no-info', src: url, sandbox: '', title: `${app.name}: about`,
      referrerpolicy: 'no-referrer'});
  }
  return h('div', {class: 'app-no-info-text'},
    h('h2', {}, 'No instances yet'),
    h('p', {class: 'muted'}, `Launch ${app.name || app.id} to see its dashboard here.`));
}

function showInstance(mine, instanceId) {
  if (mine.dashboard?.id === instanceId) return;
  mine.dashboard?.cleanup?.();
  mine.list.select(instanceId);
  if (!mine.list.has(instanceId)) mine.list.refresh(); // just launched or relaunched: listed at once
  const slot = h('div', {class: 'app-instance-detail'});
  replace(mine.detail, slot);
  mine.dashboard = {id: instanceId, cleanup: mountDashboard(slot, {
    instanceId,
    onChange: (instance) => mine.list.patch(instance),
    onRelaunched: (id) => navigate(instancePath(mine.appId, id)),
  })};
}

/** After each read of the list: the page without an instance picks the newest, or shows the placeholder. */
function onInstances(mine, instances) {
  if (page !== mine || mine.wanted) return;
  if (instances.length) {
    navigate(instancePath(mine.appId, instances[0].id), {replace: true});
  } else if (mine.dashboard?.id !== null) {
    mine.dashboard?.cleanup?.();
    mine.dashboard = {id: null, cleanup: null};
    replace(mine.detail, placeholder(mine.app, mine.link));
  }
}

export async function render(ctx) {
  const {root, params, query} = ctx;
  const {appId, instanceId = null} = params;
  if (!(page && page.appId === appId && root.contains(page.el))) {
    page?.destroy();
    page = null;
    replace(root, h('p', {class: 'muted'}, 'Loading application…'));
    let app;
    let link;
    try {
      [app, link] = await Promise.all([loadApp(appId), assetLinker()]);
    } catch (error) {
      replace(root, errorBox(error));
      return undefined;
    }
    const detail = h('section', {class: 'app-detail', 'aria-label': 'Instance'});
    const side = h('aside', {class: 'app-instances'});
    const el = h('div', {class: 'app-page', dataset: {app: appId}}, header(app, link),
      h('div', {class: 'app-page-body'}, side, detail));
    const mine = {appId, el, app, link, detail, dashboard: null, wanted: instanceId};
    mine.list = mountInstanceList(side, {appId, onLoad: (instances) => onInstances(mine, instances)});
    mine.destroy = () => { mine.list.destroy(); mine.dashboard?.cleanup?.(); };
    page = mine;
    replace(root, el);
  }
  const mine = page;
  mine.wanted = instanceId;
  document.title = `${mine.app.name || appId} · Applications · Trackside`;
  if (instanceId) showInstance(mine, instanceId);
  if (query.get('launch') === '1') {
    const url = new URL(location.href);
    url.searchParams.delete('launch');
    history.replaceState({}, '', url.pathname + url.search);
    launch(appId);
  }
  // Leaving the app page ends the list's and the dashboard's polling; a move between its own routes keeps them.
  // (The router has already moved to the next path when it calls this.)
  return () => {
    const stays = match(location.pathname)?.params?.appId === appId && location.pathname.startsWith('/applications/');
    if (!stays && page === mine) { mine.destroy(); page = null; }
  };
}
