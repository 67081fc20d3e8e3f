// Compare: each task's latest debug samples, a column per task.
import {api, appConfig, fileUrl} from '../../api.js';
import {errorBox, h, replace} from '../../dom.js';
import {mediaKind} from '../../components/debug_samples.js';

export async function render(container, {tasks, ids}) {
  const body = h('div', {}, h('p', {class: 'muted'}, 'Loading debug samples…'));
  container.append(body);
  try {
    const config = await appConfig();
    const answer = await api('events.debug_images', {metrics: ids.map((task) => ({task})), iters: 1});
    const byTask = new Map((answer.metrics || []).map((m) => [m.task, m.iterations?.[0]]));
    replace(body, h('div', {class: 'side-by-side'}, tasks.map((t) => {
      const latest = byTask.get(t.id);
      const events = latest?.events || [];
      return h('section', {class: 'sample-group', 'aria-label': `Debug samples of ${t.name}`},
        h('h2', {}, t.name), h('p', {class: 'muted'}, latest ? `Iteration ${latest.iter}` : 'No debug samples'),
        h('div', {class: 'sample-thumbs'}, events.map((e) => h('a', {class: 'sample-thumb button',
          href: `/projects/*/tasks/${t.id}/info-output/debugImages`},
        mediaKind(e.url) === 'image'
          ? h('img', {class: 'sample-media', src: fileUrl(e.url, config), alt: `${e.metric} / ${e.variant}`,
            loading: 'lazy'})
          : h('div', {class: 'sample-media sample-icon'}, mediaKind(e.url)),
        h('span', {class: 'sample-caption'}, `${e.metric} / ${e.variant}`)))));
    })));
  } catch (error) {
    replace(body, errorBox(error));
  }
  return undefined;
}
