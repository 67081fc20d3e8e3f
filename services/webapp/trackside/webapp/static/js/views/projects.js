// Projects (/projects and /projects/<id>/projects): one card per project with its task count and status
// breakdown (projects.get_all_ex with include_stats, active tasks, summed over sub-projects), nested projects,
// search, and create / rename / move / delete with the reference app's validation.
import {api} from '../api.js';
import {setQuery} from '../router.js';
import {debounce, errorBox, fmtDate, fmtDuration, h, replace, toast} from '../dom.js';
import {alertDialog, confirmDialog, formDialog, pickProject} from '../components/dialogs.js';
import {escapeRegex, forgetProject} from '../components/project_header.js';
import {menuItems, uiActionItems} from '../components/ui_actions.js';

const PAGE_SIZE = 50;
// Shown on the cards, in this order; the rest are summed as "other".
const STATUS_GROUPS = [
  ['in_progress', 'Running'], ['queued', 'Queued'], ['completed', 'Completed'], ['failed', 'Failed'],
  ['stopped', 'Aborted'], ['published', 'Published'], ['created', 'Draft'],
];
const HIDDEN_KINDS = {system_tags: ['-pipeline', '-dataset', '-Annotation', '-report']};

/** The reference app's rules for a project's name (one path segment). */
export function nameProblem(name) {
  if (!name) return 'Please add name.';
  if (!name.trim()) return "Project name can't contain only spaces.";
  if (name.length < 3) return 'Project name should contain more than 3 characters.';
  if (name.includes('/')) return "Project name can't contain slash (/)";
  return null;
}

async function pathTaken(path, exceptId = null) {
  const data = await api('projects.get_all_ex', {name: `^${escapeRegex(path)}$`, only_fields: ['id'],
    search_hidden: true});
  return (data.projects || []).some((p) => p.id !== exceptId);
}

const parentOf = (path) => (path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '');
const baseOf = (path) => path.split('/').pop();

export async function render({root, params, query}) {
  const parentId = params.projectId && params.projectId !== '*' ? params.projectId : null;
  const state = {search: query.get('q') || '', scrollId: null, done: false, loading: false, generation: 0};
  let parent = null;
  if (parentId) {
    try {
      // Its own tasks only: the card links to them (sub-projects have their own cards).
      parent = (await api('projects.get_all_ex', {id: [parentId], include_stats: true, stats_for_state: 'active',
        stats_with_children: false, include_stats_filter: HIDDEN_KINDS,
        only_fields: ['id', 'name', 'basename', 'description', 'last_update'],
        search_hidden: true})).projects?.[0];
    } catch (err) {
      replace(root, errorBox(err));
      return undefined;
    }
    if (!parent) {
      replace(root, h('h1', {}, 'Project not found'), h('p', {}, h('a', {href: '/projects'}, 'All projects')));
      return undefined;
    }
  }

  const grid = h('div', {class: 'cards project-cards', role: 'list', 'aria-label': 'Projects'});
  const status = h('p', {class: 'muted', role: 'status'});
  const more = h('button', {type: 'button', class: 'load-more', hidden: true, onclick: () => loadPage(false)},
    'Load more projects');
  const search = h('input', {type: 'search', id: 'project-search', value: state.search,
    placeholder: 'Search projects by name or description'});
  search.addEventListener('input', debounce(() => {
    state.search = search.value.trim();
    setQuery({q: state.search || null});
    loadPage(true);
  }, 300));

  const refresh = () => { forgetProject(parentId); loadPage(true); };

  function projectsBody() {
    const body = {
      stats_for_state: 'active', include_stats: true, include_stats_filter: HIDDEN_KINDS,
      shallow_search: !state.search, search_hidden: false, size: PAGE_SIZE, scroll_id: state.scrollId,
      order_by: ['featured', 'name'],
      only_fields: ['id', 'name', 'basename', 'description', 'company', 'user', 'created', 'last_update',
        'system_tags', 'default_output_destination'],
    };
    if (parentId) body.parent = [parentId];
    if (state.search) body._any_ = {pattern: escapeRegex(state.search), fields: ['id', 'basename', 'description']};
    if (state.search && parent) body.name = `^${escapeRegex(parent.name)}/`;
    return body;
  }

  async function loadPage(reset) {
    if (state.loading && !reset) return;
    const mine = reset ? ++state.generation : state.generation;
    if (reset) { state.scrollId = null; state.done = false; }
    state.loading = true;
    status.textContent = 'Loading…';
    try {
      const data = await api('projects.get_all_ex', projectsBody());
      if (mine !== state.generation) return;
      const projects = (data.projects || []).filter((p) => !(p.basename || p.name || '').startsWith('.'));
      state.scrollId = data.scroll_id;
      state.done = (data.projects || []).length < PAGE_SIZE || !data.scroll_id;
      if (reset) replace(grid, firstCard());
      grid.append(...projects.map(projectCard));
      const count = grid.querySelectorAll('[data-project]').length;
      status.textContent = count ? `${count} project${count === 1 ? '' : 's'}`
        : (state.search ? 'No projects match' : (parentId ? 'No sub-projects' : 'No projects yet'));
      more.hidden = state.done;
    } catch (err) {
      if (mine !== state.generation) return;
      status.textContent = '';
      replace(grid, errorBox(err));
    } finally {
      if (mine === state.generation) state.loading = false;
    }
  }

  /** "All tasks" on the top level; the project's own tasks when nested. */
  function firstCard() {
    if (state.search) return null;
    if (!parentId) {
      return h('article', {class: 'card project-card all-tasks', role: 'listitem', 'aria-labelledby': 'card-all'},
        h('h2', {id: 'card-all'}, h('a', {href: '/projects/*/tasks'}, 'All tasks')),
        h('p', {class: 'muted'}, 'Every task of every project'),
        h('p', {}, h('a', {href: '/projects/*/models'}, 'All models')));
    }
    return h('article', {class: 'card project-card own-tasks', role: 'listitem', 'aria-labelledby': 'card-own'},
      h('h2', {id: 'card-own'}, h('a', {href: `/projects/${parentId}/tasks`}, `${baseOf(parent.name)} tasks`)),
      statsBlock(parent),
      h('p', {}, h('a', {href: `/projects/${parentId}/models`}, 'Models')));
  }

  function projectCard(project) {
    const headingId = `card-${project.id}`;
    const children = project.sub_projects || [];
    const href = children.length ? `/projects/${project.id}/projects` : `/projects/${project.id}/tasks`;
    const name = project.basename || baseOf(project.name);
    return h('article', {class: 'card project-card', role: 'listitem', 'aria-labelledby': headingId,
      dataset: {project: project.id}},
    h('div', {class: 'card-head'},
      h('h2', {id: headingId}, h('a', {href}, name)),
      projectMenu(project)),
    state.search && project.name !== name ? h('p', {class: 'muted path'}, project.name) : null,
    project.description ? h('p', {class: 'description'}, project.description) : null,
    statsBlock(project),
    h('p', {class: 'card-links'},
      h('a', {href: `/projects/${project.id}/tasks`, 'aria-label': `Tasks of ${name}`}, 'Tasks'),
      h('a', {href: `/projects/${project.id}/models`, 'aria-label': `Models of ${name}`}, 'Models'),
      children.length ? h('a', {href: `/projects/${project.id}/projects`,
        'aria-label': `Sub-projects of ${name}`}, `${children.length} sub-project${children.length === 1 ? '' : 's'}`)
        : null));
  }

  function statsBlock(project) {
    const stats = project.stats?.active || {};
    const counts = stats.status_count || {};
    const total = stats.total_tasks ?? Object.values(counts).reduce((a, b) => a + b, 0);
    const shown = STATUS_GROUPS.map(([key, label]) => [key, label, (counts[key] || 0) + (key === 'completed'
      ? (counts.closed || 0) : 0)]);
    const other = total - shown.reduce((sum, [, , n]) => sum + n, 0);
    return h('div', {class: 'project-stats'},
      h('p', {class: 'task-total'}, h('strong', {}, String(total)), ` task${total === 1 ? '' : 's'}`,
        stats.total_runtime ? h('span', {class: 'muted'}, ` · ${fmtDuration(stats.total_runtime)} run time`) : null),
      total ? h('div', {class: 'status-bar', role: 'img', 'aria-label': shown.filter(([, , n]) => n)
        .map(([, label, n]) => `${n} ${label.toLowerCase()}`).join(', ')},
      shown.filter(([, , n]) => n).map(([key, label, n]) => h('span', {class: `status-seg status-${key}`,
        style: {flexGrow: String(n)}, title: `${label}: ${n}`}))) : null,
      total ? h('ul', {class: 'status-counts'}, shown.filter(([, , n]) => n).map(([key, label, n]) =>
        h('li', {}, h('span', {class: `dot status-${key}`, 'aria-hidden': 'true'}), `${label} ${n}`)),
      other > 0 ? h('li', {}, `Other ${other}`) : null) : null,
      project.last_update ? h('p', {class: 'muted small'}, `Updated ${fmtDate(project.last_update)}`) : null);
  }

  function projectMenu(project) {
    const name = project.basename || baseOf(project.name);
    const menu = h('div', {role: 'menu', class: 'menu', hidden: true, 'aria-label': `Actions for ${name}`});
    const button = h('button', {type: 'button', class: 'icon-button', 'aria-haspopup': 'menu', 'aria-expanded': 'false',
      'aria-label': `Actions for ${name}`}, '⋯');
    const box = h('div', {class: 'menu-box'}, button, menu);
    const close = () => { menu.hidden = true; button.setAttribute('aria-expanded', 'false'); };
    const item = (label, run) => h('button', {type: 'button', role: 'menuitem', onclick: () => { close(); run(); }},
      label);
    menu.append(
      item('New sub-project', () => createProject(project.name)),
      item('Rename', () => renameProject(project)),
      item('Move to', () => moveProject(project)),
      item('Delete', () => deleteProject(project)));
    button.addEventListener('click', () => {
      const opening = menu.hidden;
      for (const other of document.querySelectorAll('.project-cards .menu')) other.hidden = true;
      menu.hidden = !opening;
      button.setAttribute('aria-expanded', String(opening));
      if (opening) menu.querySelector('[role=menuitem]')?.focus();
      // The custom actions (ui_actions.js), drawn anew each time the menu opens.
      for (const old of menu.querySelectorAll('.custom-action, [role=separator]')) old.remove();
      if (opening) {
        uiActionItems('project', [project.id]).then((extra) => {
          if (!menu.hidden && !menu.querySelector('.custom-action')) menu.append(...menuItems([{separator: true}, ...extra], close));
        });
      }
    });
    menu.addEventListener('keydown', (event) => {
      const items = [...menu.querySelectorAll('[role=menuitem]')];
      const at = items.indexOf(document.activeElement);
      if (event.key === 'Escape') { close(); button.focus(); }
      if (event.key === 'ArrowDown') { event.preventDefault(); items[(at + 1) % items.length].focus(); }
      if (event.key === 'ArrowUp') { event.preventDefault(); items[(at - 1 + items.length) % items.length].focus(); }
    });
    return box;
  }

  async function createProject(inPath = parent?.name || '') {
    const values = await formDialog({
      title: 'New project', submitLabel: 'Create project',
      fields: [
        {name: 'name', label: 'Project name', required: true},
        {name: 'parent', label: 'Create in', value: inPath, placeholder: 'Project path (top level when empty)'},
        {name: 'description', label: 'Description', type: 'textarea'},
      ],
      validate: async (v) => {
        const problem = nameProblem(v.name);
        if (problem) return problem;
        const parentPath = v.parent.trim().replace(/^\/+|\/+$/g, '');
        return (await pathTaken(parentPath ? `${parentPath}/${v.name.trim()}` : v.name.trim()))
          ? 'Project name in this path already exists.' : null;
      },
      submit: async (v) => {
        const parentPath = v.parent.trim().replace(/^\/+|\/+$/g, '');
        await api('projects.create', {name: parentPath ? `${parentPath}/${v.name.trim()}` : v.name.trim(),
          description: v.description.trim() || undefined});
      },
    });
    if (values) { toast(`Project "${values.name.trim()}" created`, 'success'); refresh(); }
  }

  async function renameProject(project) {
    const parentPath = parentOf(project.name);
    const values = await formDialog({
      title: 'Rename project', submitLabel: 'Rename',
      fields: [{name: 'name', label: 'Project name', value: baseOf(project.name), required: true}],
      validate: async (v) => {
        const problem = nameProblem(v.name);
        if (problem) return problem;
        const path = parentPath ? `${parentPath}/${v.name.trim()}` : v.name.trim();
        return path !== project.name && (await pathTaken(path, project.id))
          ? 'Project name in this path already exists.' : null;
      },
      submit: (v) => api('projects.update', {project: project.id,
        name: parentPath ? `${parentPath}/${v.name.trim()}` : v.name.trim()}),
    });
    if (values) { toast('Project renamed', 'success'); refresh(); }
  }

  async function moveProject(project) {
    const target = await pickProject({title: `Move "${baseOf(project.name)}" to`, confirmLabel: 'Move',
      exclude: [project.id]});
    if (!target) return;
    if (target.name === project.name || target.name.startsWith(`${project.name}/`)) {
      await alertDialog({title: 'Cannot move', message: 'A project cannot move into itself or its sub-projects.'});
      return;
    }
    try {
      await api('projects.move', {project: project.id, new_location: target.name});
      toast(`Moved to ${target.name}`, 'success');
      refresh();
    } catch (err) {
      await alertDialog({title: 'Cannot move', message: err.message});
    }
  }

  async function deleteProject(project) {
    const name = baseOf(project.name);
    let contents;
    try {
      contents = await api('projects.validate_delete', {project: project.id});
    } catch (err) {
      toast(err.message, 'error');
      return;
    }
    const tasks = contents.non_archived_tasks || 0;
    const models = contents.non_archived_models || 0;
    if (tasks || models) {
      const parts = [tasks ? `${tasks} un-archived task${tasks === 1 ? '' : 's'}` : null,
        models ? `${models} un-archived model${models === 1 ? '' : 's'}` : null].filter(Boolean).join(' and ');
      await alertDialog({title: 'Unable to delete project', message: h('div', {},
        h('p', {}, `You cannot delete project "${name}" with un-archived tasks or models.`),
        h('p', {}, `It has ${parts}.`),
        h('p', {}, 'Archive, delete or move them to another project first.'))});
      return;
    }
    const archivedTasks = contents.tasks || 0;
    const archivedModels = contents.models || 0;
    const ok = await confirmDialog({title: 'Delete project', confirmLabel: 'Delete', danger: true,
      message: `Delete project "${name}"${archivedTasks || archivedModels
        ? ` with its ${archivedTasks} archived task(s) and ${archivedModels} archived model(s)` : ''}?`
        + ' This cannot be undone.'});
    if (!ok) return;
    try {
      await api('projects.delete', {project: project.id, delete_contents: true});
      toast(`Project "${name}" deleted`, 'success');
      refresh();
    } catch (err) {
      await alertDialog({title: 'Unable to delete project', message: err.message});
    }
  }

  const crumbs = [h('a', {href: '/projects'}, 'Projects')];
  if (parent) {
    const parts = parent.name.split('/');
    parts.forEach((part, i) => crumbs.push(' / ', i === parts.length - 1 ? h('span', {}, part)
      : h('span', {class: 'muted'}, part)));
  }
  replace(root,
    h('nav', {class: 'breadcrumbs', 'aria-label': 'Breadcrumbs'}, crumbs),
    h('div', {class: 'page-title'}, h('h1', {}, parent ? baseOf(parent.name) : 'Projects'),
      parent ? h('nav', {class: 'section-links', 'aria-label': 'Project sections'},
        h('a', {href: `/projects/${parentId}/tasks`}, 'Tasks'),
        h('a', {href: `/projects/${parentId}/models`}, 'Models'),
        h('a', {href: `/projects/${parentId}/projects`, 'aria-current': 'page'}, 'Sub-projects')) : null),
    h('div', {class: 'toolbar'},
      h('div', {class: 'search-field'},
        h('label', {for: 'project-search', class: 'visually-hidden'}, 'Search projects'), search),
      h('span', {class: 'spacer'}),
      h('button', {type: 'button', class: 'primary', onclick: () => createProject()}, 'New project')),
    grid, status, more);
  await loadPage(true);
  return undefined;
}
