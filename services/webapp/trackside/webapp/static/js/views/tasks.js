// Placeholder: the tasks page (being written).
import {h, replace} from '../dom.js';

export async function render({root}) {
  replace(root, h('h1', {}, 'tasks'), h('p', {class: 'muted'}, 'This page is being built.'));
}
