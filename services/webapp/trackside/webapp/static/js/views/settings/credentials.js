// Settings / Workspace: the user's API credentials (auth.get_credentials), created with a label
// (auth.create_credentials; the secret shown once with a clearml.conf snippet and the trackside-agent init
// command), relabelled (auth.edit_credentials) and revoked (auth.revoke_credentials) after confirmation.
import {api, appConfig} from '../../api.js';
import {errorBox, fmtDate, h, replace, toast} from '../../dom.js';
import {alertDialog, confirmDialog, formDialog} from '../../components/dialogs.js';
import {showOnce} from './secrets.js';

const MAX_LABEL = 256;

/**
 * The address a client outside the server reaches a service at. The web app's own setting may name a
 * compose or k8s service ("http://apiserver:8008"), which only the server's network resolves: a host name
 * without a dot (other than localhost) is taken to be one, and this page's host is used with its port.
 */
export function publicAddress(url, here = location) {
  if (!url) return '';
  let parsed;
  try { parsed = new URL(url); } catch { return url; }
  const host = parsed.hostname;
  if (!host.includes('.') && !host.includes(':') && host !== 'localhost') parsed.hostname = here.hostname;
  return parsed.toString().replace(/\/$/, '');
}

/** The hosts a client configures, as this browser sees the server. */
export async function clientHosts() {
  const config = await appConfig();
  return {
    web: location.origin,
    api: publicAddress(config.api_url) || location.origin.replace(/:\d+$/, '') + ':8008',
    files: publicAddress(config.files_url),
  };
}

/** clearml.conf's api section, as the reference app's credentials dialog gives it. */
export function clearmlConf(hosts, credential) {
  const lines = ['api {', `  web_server: ${hosts.web}`, `  api_server: ${hosts.api}`];
  if (hosts.files) lines.push(`  files_server: ${hosts.files}`);
  if (credential.label) lines.push(`  # ${credential.label.replace(/\s+/g, ' ')}`);
  lines.push('  credentials {', `    "access_key" = "${credential.access_key}"`,
    `    "secret_key" = "${credential.secret_key}"`, '  }', '}');
  return lines.join('\n');
}

/** The agent's non-interactive init; `--secret-key=` so a secret that starts with '-' is never read as a flag. */
export function agentInit(hosts, credential) {
  const quote = (value) => (/^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`);
  return ['trackside-agent init', `--api-host ${quote(hosts.api)}`, `--web-host ${quote(hosts.web)}`,
    hosts.files ? `--files-host ${quote(hosts.files)}` : null, `--access-key ${quote(credential.access_key)}`,
    `--secret-key=${quote(credential.secret_key)}`].filter(Boolean).join(' \\\n  ');
}

export async function render({root}) {
  const body = h('div', {class: 'credentials-body'}, h('p', {class: 'muted'}, 'Loading…'));
  const create = h('button', {type: 'button', class: 'primary', onclick: () => createCredential()},
    'Create new credentials');
  replace(root,
    h('h1', {}, 'Workspace'),
    h('section', {class: 'panel settings-panel', 'aria-labelledby': 'api-credentials'},
      h('div', {class: 'panel-head'}, h('h2', {id: 'api-credentials'}, 'API credentials'), create),
      h('p', {class: 'muted'}, 'Access key and secret pairs for the ClearML SDK, clearml-agent, trackside-agent '
        + 'and any other client calling the API as you. A secret is shown once, when it is created.'),
      body));

  async function load() {
    try {
      const {credentials = []} = await api('auth.get_credentials', {});
      replace(body, credentials.length ? credentialsTable(credentials)
        : h('p', {class: 'muted'}, 'No credentials yet.'));
    } catch (err) {
      replace(body, errorBox(err));
    }
  }

  function credentialsTable(credentials) {
    return h('div', {class: 'table-wrap'}, h('table', {class: 'data-table credentials-table'},
      h('thead', {}, h('tr', {}, ['Label', 'Access key', 'Created', 'Last used', ''].map((title) =>
        h('th', {scope: 'col'}, title || h('span', {class: 'visually-hidden'}, 'Actions'))))),
      h('tbody', {}, credentials.map((c) => h('tr', {dataset: {accessKey: c.access_key}},
        h('td', {}, c.label || h('span', {class: 'muted'}, 'No label')),
        h('td', {}, h('code', {}, c.access_key)),
        h('td', {}, fmtDate(c.created)),
        h('td', {}, c.last_used ? fmtDate(c.last_used) : h('span', {class: 'muted'}, 'Never')),
        h('td', {class: 'row-actions'}, h('div', {class: 'buttons'},
          h('button', {type: 'button', onclick: () => editLabel(c), 'aria-label': `Edit label of ${c.access_key}`},
            'Edit label'),
          h('button', {type: 'button', class: 'danger', onclick: () => revoke(c),
            'aria-label': `Revoke ${c.access_key}`}, 'Revoke'))))))));
  }

  async function createCredential() {
    let made = null;
    const values = await formDialog({
      title: 'Create credentials', submitLabel: 'Create',
      intro: h('p', {class: 'muted'}, 'A label tells your keys apart (the machine or tool that uses it).'),
      fields: [{name: 'label', label: 'Label', placeholder: 'e.g. laptop, CI, gpu-box-1'}],
      validate: (v) => (v.label.trim().length > MAX_LABEL ? `A label has at most ${MAX_LABEL} characters.` : null),
      submit: async (v) => {
        made = (await api('auth.create_credentials', v.label.trim() ? {label: v.label.trim()} : {})).credentials;
      },
    });
    if (!values || !made) return;
    load();
    const hosts = await clientHosts();
    await showOnce({
      title: 'New credentials',
      rows: [{label: 'Access key', value: made.access_key}, {label: 'Secret key', value: made.secret_key}],
      blocks: [
        {heading: 'clearml.conf', label: 'Copy clearml.conf section',
          note: 'Paste at clearml-init\'s prompt, or replace the api section of ~/clearml.conf.',
          text: clearmlConf(hosts, made)},
        {heading: 'trackside-agent', label: 'Copy trackside-agent command',
          note: 'Configures a machine for trackside-agent in one command.', text: agentInit(hosts, made)},
      ],
    });
  }

  async function editLabel(credential) {
    const values = await formDialog({
      title: 'Edit label', submitLabel: 'Save',
      fields: [{name: 'label', label: 'Label', value: credential.label || ''}],
      validate: (v) => (v.label.trim().length > MAX_LABEL ? `A label has at most ${MAX_LABEL} characters.` : null),
      submit: (v) => api('auth.edit_credentials', {access_key: credential.access_key, label: v.label.trim()}),
    });
    if (values) { toast('Label saved', 'success'); load(); }
  }

  async function revoke(credential) {
    const ok = await confirmDialog({title: 'Revoke credentials', confirmLabel: 'Revoke', danger: true,
      message: h('div', {}, h('p', {}, 'Revoke access key ', h('code', {}, credential.access_key),
        credential.label ? ` (${credential.label})` : '', '?'),
      h('p', {}, 'Every client using it stops working at its next login. This cannot be undone.'))});
    if (!ok) return;
    try {
      await api('auth.revoke_credentials', {access_key: credential.access_key});
      toast('Credentials revoked', 'success');
    } catch (err) {
      await alertDialog({title: 'Could not revoke', message: err.message});
    }
    load();
  }

  await load();
  return undefined;
}
