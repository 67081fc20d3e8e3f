// Settings (/settings/<section>): a side menu of sections, as the reference app's settings page, and the
// chosen section's module drawn beside it. Each section module exports render({root}) -> optional cleanup.
import {h, replace} from '../dom.js';

export const SECTIONS = [
  {path: 'profile', label: 'Profile', load: () => import('./settings/profile.js')},
  {path: 'workspace-configuration', label: 'Workspace', load: () => import('./settings/credentials.js')},
  {path: 'webhooks', label: 'Webhooks', load: () => import('./settings/webhooks.js')},
];

export async function render({root, params}) {
  const section = SECTIONS.find((s) => s.path === params.section);
  const content = h('section', {class: 'settings-content', 'aria-live': 'polite'});
  const menu = h('nav', {class: 'settings-menu', 'aria-label': 'Settings sections'},
    h('ul', {}, SECTIONS.map((s) => h('li', {}, h('a', {href: `/settings/${s.path}`,
      'aria-current': s === section ? 'page' : null}, s.label)))));
  replace(root,
    h('nav', {class: 'breadcrumbs', 'aria-label': 'Breadcrumbs'}, 'Settings',
      section ? [' / ', h('span', {}, section.label)] : null),
    h('div', {class: 'settings-page'}, menu, content));
  if (!section) {
    replace(content, h('h1', {}, 'Section not found'),
      h('p', {class: 'muted'}, `There is no settings section "${params.section}".`));
    return undefined;
  }
  const module = await section.load();
  return module.render({root: content});
}
