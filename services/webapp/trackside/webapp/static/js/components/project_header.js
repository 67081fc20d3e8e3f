// The heading of a project's pages (tasks, models): breadcrumbs to the projects tree and links between the
// project's tasks and models. projectId '*' means every project.
import {api} from '../api.js';
import {h} from '../dom.js';

const cache = new Map();

/** The project's {id, name} ('*' -> "All projects"); cached for the page's life. */
export function projectInfo(projectId) {
  if (!projectId || projectId === '*') return Promise.resolve({id: '*', name: 'All projects'});
  if (!cache.has(projectId)) {
    cache.set(projectId, api('projects.get_all_ex', {id: [projectId], only_fields: ['id', 'name', 'basename'],
      include_stats: false, search_hidden: true}).then((d) => d.projects?.[0] || {id: projectId, name: projectId})
      .catch(() => ({id: projectId, name: projectId})));
  }
  return cache.get(projectId);
}

export function forgetProject(projectId) {
  cache.delete(projectId);
}

/** Breadcrumbs (Projects / a / b) and Tasks | Models links; `section` is 'tasks' or 'models'. */
export function projectHeader(projectId, section, project) {
  const parts = projectId === '*' ? [] : (project?.name || '').split('/');
  const crumbs = [h('a', {href: '/projects'}, 'Projects')];
  parts.forEach((part, i) => {
    crumbs.push(' / ');
    crumbs.push(i === parts.length - 1 ? h('span', {}, part) : h('span', {class: 'muted'}, part));
  });
  if (projectId === '*') crumbs.push(' / ', h('span', {}, 'All projects'));
  const link = (name, label) => h('a', {href: `/projects/${projectId}/${name}`,
    'aria-current': section === name ? 'page' : null}, label);
  return h('div', {class: 'page-head'},
    h('nav', {class: 'breadcrumbs', 'aria-label': 'Breadcrumbs'}, crumbs),
    h('div', {class: 'page-title'},
      h('h1', {}, projectId === '*' ? (section === 'models' ? 'All models' : 'All tasks')
        : `${parts[parts.length - 1] || project?.name || ''}`),
      h('nav', {class: 'section-links', 'aria-label': 'Project sections'},
        link('tasks', 'Tasks'), link('models', 'Models'),
        projectId !== '*' ? h('a', {href: `/projects/${projectId}/projects`}, 'Sub-projects') : null)));
}

/** Escape text for a regular expression (search boxes send patterns, as the reference does). */
export function escapeRegex(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
