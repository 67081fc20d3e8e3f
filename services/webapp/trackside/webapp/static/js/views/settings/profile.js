// Settings / Profile: the signed-in user (name editable through users.update; company, role, id), and what
// this server is (server.info versions, server.config sign-in mode and features, the addresses in use).
import {api} from '../../api.js';
import {errorBox, fmtDate, h, replace, toast} from '../../dom.js';
import {clientHosts} from './credentials.js';

const MAX_NAME = 128;
const FEATURE_LABELS = {
  reports: 'Reports', pipelines: 'Pipelines', serving: 'Model serving', storage_settings: 'Storage settings',
  webhooks: 'Webhooks', public_objects: 'Public objects',
};

export function nameProblem(name) {
  if (!name.trim()) return 'Enter a name.';
  if (name.trim().length > MAX_NAME) return `A name has at most ${MAX_NAME} characters.`;
  return null;
}

export async function render({root}) {
  replace(root, h('h1', {}, 'Profile'), h('p', {class: 'muted'}, 'Loading…'));
  let user, info, config, hosts;
  try {
    [{user}, info, config, hosts] = await Promise.all([
      api('users.get_current_user', {}), api('server.info', {}), api('server.config', {}), clientHosts()]);
  } catch (err) {
    replace(root, h('h1', {}, 'Profile'), errorBox(err));
    return undefined;
  }
  replace(root, h('h1', {}, 'Profile'), userPanel(user, config), serverPanel(info, config, hosts));
  return undefined;
}

/** What changing the name does not change, per sign-in mode (fixed users are named by the configuration). */
function nameHelp(config) {
  return config.login?.basic?.enabled
    ? 'Shown on your tasks, models and in this bar. Fixed users are named in the server\'s configuration, '
      + 'which sets the name again when the server restarts.'
    : 'Shown on your tasks, models and in this bar. You keep signing in with the name you signed up with.';
}

function userPanel(user, config) {
  const input = h('input', {id: 'profile-name', name: 'name', type: 'text', value: user.name || '',
    autocomplete: 'name', maxlength: MAX_NAME, 'aria-describedby': 'profile-name-error profile-name-help'});
  const error = h('p', {class: 'field-error', id: 'profile-name-error', role: 'alert', hidden: true});
  const save = h('button', {type: 'submit', class: 'primary'}, 'Save');
  const showError = (text) => {
    error.textContent = text || '';
    error.hidden = !text;
    if (text) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
  };
  const form = h('form', {class: 'name-form', novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    const problem = nameProblem(input.value);
    if (problem) { showError(problem); return; }
    const name = input.value.trim();
    save.disabled = true;
    try {
      await api('users.update', {user: user.id, name});
      user.name = name;
      input.value = name;
      showError(null);
      const topbar = document.getElementById('user-name');
      if (topbar) topbar.textContent = name;
      toast('Name saved', 'success');
    } catch (err) {
      showError(err.message);
    } finally {
      save.disabled = false;
    }
  }},
  h('label', {for: 'profile-name'}, 'Name'),
  h('div', {class: 'name-row'}, input, save), error,
  h('p', {class: 'muted small field-help', id: 'profile-name-help'}, nameHelp(config)));
  return h('section', {class: 'panel settings-panel', 'aria-labelledby': 'profile-user'},
    h('h2', {id: 'profile-user'}, 'User'),
    form,
    h('dl', {class: 'kv'},
      h('dt', {}, 'Company'), h('dd', {}, user.company?.name || user.company?.id || ''),
      h('dt', {}, 'Role'), h('dd', {}, user.role || ''),
      user.email ? [h('dt', {}, 'Email'), h('dd', {}, user.email)] : null,
      h('dt', {}, 'User ID'), h('dd', {}, h('code', {}, user.id)),
      user.created ? [h('dt', {}, 'Member since'), h('dd', {}, fmtDate(user.created))] : null));
}

function serverPanel(info, config, hosts) {
  const features = Object.entries(config.features || {});
  const basic = config.login?.basic?.enabled;
  const rows = [
    ['Server version', info.version || config.version],
    ['Build', [info.build, info.commit].filter(Boolean).join(' ')],
    ['API version', info.api_version || config.api_version],
    ['Feature set', config.feature_set],
    ['Sign-in', basic ? 'User name and password (fixed users)' : 'Name only (no passwords)'],
    ['Events store', {mongo: 'MongoDB', elastic: 'Elasticsearch'}[config.events_store] || config.events_store],
    // As the credentials' snippets give them: what a client configures.
    ['API server', hosts.api],
    ['File server', hosts.files || config.files_server],
    ['Max download rows', config.max_download_items?.toLocaleString()],
  ].filter(([, value]) => value !== undefined && value !== null && value !== '');
  return h('section', {class: 'panel settings-panel', 'aria-labelledby': 'profile-server'},
    h('h2', {id: 'profile-server'}, 'Server'),
    h('dl', {class: 'kv server-info'}, rows.map(([label, value]) => [h('dt', {}, label), h('dd', {}, String(value))])),
    features.length ? [h('h3', {}, 'Features'),
      h('ul', {class: 'feature-list'}, features.map(([name, on]) => h('li', {class: on ? 'on' : 'off'},
        h('span', {class: 'feature-mark', 'aria-hidden': 'true'}, on ? '✓' : '–'),
        `${FEATURE_LABELS[name] || name}${on ? '' : ' (not served)'}`)))] : null);
}
