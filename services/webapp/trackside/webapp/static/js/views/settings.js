// Placeholder: the settings page is being built (issue 16).
import {h, replace} from '../dom.js';

export async function render({root}) {
  replace(root, h('h1', {}, 'settings'));
}
