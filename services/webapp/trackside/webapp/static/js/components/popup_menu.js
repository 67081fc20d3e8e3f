// A menu that floats over the page: under a menu button, or at the pointer for a right-click. Items are the
// shape ui_actions.js gives ({label, title, run, disabled, danger}), so custom UI actions append to ours.
// role=menu with menuitems, arrow keys move, Escape closes and gives focus back, a click outside closes.
//
//   openMenu(anchor: Element | {x, y}, items, {label, returnFocus})   -> close()
import {h} from '../dom.js';

let current = null; // the open menu's close()

export function openMenu(anchor, items, {label = 'Actions', returnFocus = null} = {}) {
  current?.();
  const menu = h('div', {role: 'menu', class: 'menu popup-menu', 'aria-label': label});
  const close = () => {
    if (current !== close) return;
    current = null;
    menu.remove();
    document.removeEventListener('mousedown', outside, true);
    window.removeEventListener('resize', close);
    if (anchor instanceof Element) anchor.setAttribute('aria-expanded', 'false');
  };
  const outside = (event) => {
    if (!menu.contains(event.target) && !(anchor instanceof Element && anchor.contains(event.target))) close();
  };
  for (const item of items) {
    menu.append(h('button', {type: 'button', role: 'menuitem', disabled: item.disabled, title: item.title || null,
      class: item.danger ? 'danger' : null, onclick: async () => {
        close();
        returnFocus?.focus?.();
        await item.run();
      }}, item.label));
  }
  menu.addEventListener('keydown', (event) => {
    const list = [...menu.querySelectorAll('[role=menuitem]:not([disabled])')];
    const at = list.indexOf(document.activeElement);
    if (event.key === 'Escape' || event.key === 'Tab') {
      event.preventDefault();
      close();
      (returnFocus || (anchor instanceof Element ? anchor : null))?.focus();
    }
    if (event.key === 'ArrowDown') { event.preventDefault(); list[(at + 1) % list.length]?.focus(); }
    if (event.key === 'ArrowUp') { event.preventDefault(); list[(at - 1 + list.length) % list.length]?.focus(); }
  });
  document.body.append(menu);
  // Placed by the anchor (or the pointer), kept inside the window.
  const point = anchor instanceof Element
    ? (() => { const r = anchor.getBoundingClientRect(); return {x: r.right - menu.offsetWidth, y: r.bottom + 4}; })()
    : anchor;
  const left = Math.max(4, Math.min(point.x, innerWidth - menu.offsetWidth - 4));
  const top = point.y + menu.offsetHeight > innerHeight - 4 ? Math.max(4, point.y - menu.offsetHeight) : point.y;
  Object.assign(menu.style, {left: `${left}px`, top: `${top}px`});
  if (anchor instanceof Element) anchor.setAttribute('aria-expanded', 'true');
  document.addEventListener('mousedown', outside, true);
  window.addEventListener('resize', close);
  current = close;
  menu.querySelector('[role=menuitem]:not([disabled])')?.focus();
  return close;
}

/** A "⋯" button that opens `items()` (a function: the items are built when opened, so they are current). */
export function menuButton(label, items) {
  const button = h('button', {type: 'button', class: 'icon-button', 'aria-haspopup': 'menu', 'aria-expanded': 'false',
    'aria-label': label, title: label});
  button.append('⋯');
  button.addEventListener('click', async () => {
    if (button.getAttribute('aria-expanded') === 'true') { current?.(); return; }
    openMenu(button, await items(), {label});
  });
  return button;
}
