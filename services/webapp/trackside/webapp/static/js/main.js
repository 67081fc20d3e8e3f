// The app's entry point: the route table (the reference app's paths) and the page frame.
import {appConfig, csrfToken} from './api.js';
import {redirect, route, start} from './router.js';

const views = {
  projects: () => import('./views/projects.js'),
  tasks: () => import('./views/tasks.js'),
  task: () => import('./views/task.js'),
  models: () => import('./views/models.js'),
  model: () => import('./views/model.js'),
  compare: () => import('./views/compare.js'),
  workers: () => import('./views/workers.js'),
  queues: () => import('./views/queues.js'),
  settings: () => import('./views/settings.js'),
  applications: () => import('./views/apps/gallery.js'),
  appPage: () => import('./views/apps/app_page.js'),
};

// Old and short paths the reference app (or people) use, rewritten to the canonical one.
redirect((path) => (path === '/' || path === '/dashboard' ? '/projects' : null));
redirect((path) => path.replace(/^\/projects\/([^/]+)\/experiments(?=\/|$)/, '/projects/$1/tasks'));
redirect((path) => path.replace(/^\/projects\/([^/]+)\/compare-experiments(?=[;/]|$)/, '/projects/$1/compare-tasks'));
redirect((path) => (/^\/workers-and-queues\/?$/.test(path) ? '/workers-and-queues/workers' : null));
redirect((path) => (/^\/settings\/?$/.test(path) ? '/settings/profile' : null));
redirect((path) => (/^\/projects\/[^/]+\/?$/.test(path) && path !== '/projects/' ? path.replace(/\/?$/, '/tasks') : null));

route('projects', views.projects);
route('projects/:projectId/projects', views.projects);
route('projects/:projectId/tasks', views.tasks);
route('projects/:projectId/tasks/:taskId', views.task);
route('projects/:projectId/tasks/:taskId/*tab', views.task);
route('projects/:projectId/models', views.models);
route('projects/:projectId/models/:modelId', views.model);
route('projects/:projectId/models/:modelId/*tab', views.model);
route('projects/:projectId/compare-tasks', views.compare);
route('projects/:projectId/compare-tasks/*tab', views.compare);
route('workers-and-queues/workers', views.workers);
route('workers-and-queues/queues', views.queues);
route('settings/:section', views.settings);
route('applications', views.applications);
route('applications/:appId', views.appPage);
route('applications/:appId/instances/:instanceId', views.appPage);

function highlightNav() {
  const path = location.pathname;
  const section = path.startsWith('/workers-and-queues') ? 'workers-and-queues'
    : path.startsWith('/applications') ? 'applications'
    : path.startsWith('/settings') ? 'settings'
    : /\/models(\/|$)/.test(path) ? 'models'
    : /\/(tasks|compare-tasks)([/;]|$)/.test(path) ? 'tasks' : 'projects';
  for (const link of document.querySelectorAll('[data-nav]')) {
    if (link.dataset.nav === section) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

async function frame() {
  // Registered before the first render, so the first page is highlighted too.
  document.addEventListener('trackside:navigate', highlightNav);
  const config = await appConfig();
  const name = document.getElementById('user-name');
  if (name && config?.user) name.textContent = config.user.name || '';
  const form = document.getElementById('logout-form');
  if (form) form.elements.csrf_token.value = csrfToken();
}

frame();
start();
