// Artifacts tab: input and output models (linking to the model page) and artifacts, at the reference's paths
// artifacts/input-model/<m>, artifacts/output-model/<m>, artifacts/artifact/<key>/<mode> (data audit) and
// artifacts/other/<key>/<mode>. Downloads go through the web app's /files proxy with the user's token.
import {api, appConfig, fileUrl} from '../../api.js';
import {fmtDate, h, replace} from '../../dom.js';
import {codeBlock, kvList} from './execution.js';

function fmtBytes(n) {
  if (n === null || n === undefined) return '';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}

function downloadLink(uri, config, label = 'Download') {
  if (!uri) return null;
  const url = fileUrl(uri, config);
  const local = url.startsWith('/files/');
  return h('a', {href: url, class: 'button', download: local ? '' : null, target: local ? null : '_blank',
    rel: 'noopener', 'data-external': ''}, local ? label : `${label} (external)`);
}

function listItems(task, models) {
  const list = [];
  for (const kind of ['input', 'output']) {
    for (const entry of task.models?.[kind] || []) {
      const model = models.get(entry.model) || {};
      list.push({kind: `${kind}-model`, key: entry.model, label: model.name || entry.name || entry.model,
        group: kind === 'input' ? 'Input models' : 'Output models', entry, model});
    }
  }
  for (const artifact of task.execution?.artifacts || []) {
    const audit = artifact.type === 'data-audit-table' || artifact.type_data?.content_type === 'data-audit-table';
    list.push({kind: audit ? 'artifact' : 'other', key: artifact.key, mode: artifact.mode || 'output',
      label: artifact.key, group: audit ? 'Data audit' : 'Other artifacts', artifact});
  }
  return list;
}

function modelDetail(item, config) {
  const m = item.model;
  const project = m.project?.id || m.project || '*';
  return h('div', {},
    h('div', {class: 'toolbar'}, h('h2', {}, item.label), h('span', {class: 'spacer'}),
      h('a', {class: 'button', href: `/projects/${project}/models/${item.key}/general`}, 'Open model page'),
      downloadLink(m.uri, config)),
    kvList([
      ['Model ID', h('code', {}, item.key)],
      ['Name on the task', item.entry.name],
      ['Framework', m.framework],
      ['URL', m.uri],
      ['Ready', m.ready === undefined ? '' : String(m.ready)],
      ['Created', fmtDate(m.created)],
    ]),
    m.design?.design ? h('div', {}, h('h3', {}, 'Network'), codeBlock(m.design.design, 'Model network')) : null);
}

function artifactDetail(item, config) {
  const a = item.artifact;
  const preview = a.type_data?.preview;
  return h('div', {},
    h('div', {class: 'toolbar'}, h('h2', {}, a.key), h('span', {class: 'spacer'}),
      downloadLink(a.uri, config)),
    kvList([
      ['Key', a.key], ['Type', a.type], ['Mode', a.mode], ['File path', a.uri],
      ['Size', fmtBytes(a.content_size)], ['Hash', a.hash], ['Content type', a.type_data?.content_type],
      ['Created', a.timestamp ? fmtDate(a.timestamp * 1000) : ''],
    ]),
    ...(a.display_data || []).length ? [h('h3', {}, 'Metadata'),
      kvList(a.display_data.map((pair) => [String(pair[0]), String(pair[1])]))] : [],
    h('h3', {}, 'Preview'), codeBlock(preview, `Preview of ${a.key}`, 'No preview'));
}

export async function render(container, ctx) {
  const {task} = ctx;
  const config = await appConfig();
  const ids = [...(task.models?.input || []), ...(task.models?.output || [])].map((e) => e.model).filter(Boolean);
  const models = new Map();
  if (ids.length) {
    try {
      const {models: found = []} = await api('models.get_all_ex', {id: ids, only_fields:
        ['id', 'name', 'uri', 'framework', 'project', 'ready', 'created', 'design']});
      for (const m of found) models.set(m.id, m);
    } catch (error) {
      console.warn(error);
    }
  }
  const list = listItems(task, models);
  const [kind, key, mode] = ctx.rest;
  const selected = list.find((i) => i.kind === kind && i.key === key && (!mode || !i.mode || i.mode === mode))
    || list[0];
  const nav = h('nav', {class: 'side-list', 'aria-label': 'Artifacts and models'});
  for (const group of ['Input models', 'Output models', 'Data audit', 'Other artifacts']) {
    const members = list.filter((i) => i.group === group);
    nav.append(h('h3', {}, group));
    if (!members.length) { nav.append(h('p', {class: 'muted'}, 'None')); continue; }
    nav.append(h('ul', {}, members.map((i) => h('li', {}, h('a', {
      href: i.mode ? ctx.path(i.kind, i.key, i.mode) : ctx.path(i.kind, i.key),
      'aria-current': i === selected ? 'page' : null}, i.label)))));
  }
  const pane = h('div', {class: 'detail-pane'});
  if (!selected) replace(pane, h('p', {class: 'muted'}, 'This task has no models or artifacts'));
  else replace(pane, selected.model ? modelDetail(selected, config) : artifactDetail(selected, config));
  container.classList.add('split');
  container.append(nav, pane);
  return undefined;
}
