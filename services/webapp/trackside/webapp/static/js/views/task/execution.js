// Execution tab: source code (repository, branch, commit, entry point, working directory), uncommitted changes,
// installed packages, container, output destination.
import {h} from '../../dom.js';

export function kvList(rows) {
  const list = h('dl', {class: 'kv'});
  for (const [label, value] of rows) {
    list.append(h('dt', {}, label), h('dd', {}, value === undefined || value === null || value === '' ? '—' : value));
  }
  return list;
}

export function section(title, ...children) {
  const id = `sec-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return h('section', {class: 'panel', 'aria-labelledby': id}, h('h2', {id}, title), ...children);
}

export function codeBlock(text, label, empty = 'Empty') {
  if (!text) return h('p', {class: 'muted'}, empty);
  return h('pre', {class: 'code', tabindex: '0', 'aria-label': label}, text);
}

function requirementsText(requirements) {
  if (!requirements) return '';
  if (typeof requirements === 'string') return requirements;
  const parts = [];
  for (const [kind, value] of Object.entries(requirements)) {
    if (!value) continue;
    const text = Array.isArray(value) ? value.join('\n') : String(value);
    parts.push(Object.keys(requirements).length > 1 ? `# ${kind}\n${text}` : text);
  }
  return parts.join('\n\n');
}

export async function render(container, {task}) {
  const script = task.script || {};
  const container_ = task.container || {};
  const execution = task.execution || {};
  container.append(
    section('Source code', kvList([
      ['Repository', script.repository],
      ['Branch', script.branch],
      ['Commit', script.version_num ? h('code', {}, script.version_num) : script.tag],
      ['Script path', script.entry_point],
      ['Working directory', script.working_dir],
      ['Binary', script.binary],
    ])),
    section('Uncommitted changes', codeBlock(script.diff, 'Uncommitted changes', 'No uncommitted changes')),
    section('Installed packages', codeBlock(requirementsText(script.requirements), 'Installed packages',
      'No packages recorded')),
    section('Container', kvList([
      ['Image', container_.image || execution.docker_cmd],
      ['Arguments', container_.arguments],
    ]), h('h3', {}, 'Setup shell script'), codeBlock(container_.setup_shell_script, 'Setup shell script', 'None')),
    section('Output', kvList([
      ['Destination', task.output?.destination],
      ['Queue', execution.queue],
      ['Worker', task.last_worker],
    ])),
  );
  return undefined;
}
