// Placeholder: the models page (being written).
import {h, replace} from '../dom.js';

export async function render({root}) {
  replace(root, h('h1', {}, 'models'), h('p', {class: 'muted'}, 'This page is being built.'));
}
