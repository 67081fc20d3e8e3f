// What the settings sections share for secrets: copying text, and the dialog that shows a secret once.
//
//   copyButton(getText, label)                 -> <button> that copies getText() and says so
//   copyBlock(text, {label, className})        -> a <pre> with its own copy button
//   showOnce({title, intro, rows, blocks})     -> Promise: a dialog with the values to copy, closed by "Done"
import {h, toast} from '../../dom.js';
import {openDialog} from '../../components/dialogs.js';

/** Copy text: the Clipboard API where the page is a secure context, else a selected textarea (plain http). */
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // Permission refused: fall back below.
    }
  }
  const area = h('textarea', {readonly: true, style: {position: 'fixed', opacity: '0', top: '0', left: '0'}}, text);
  (document.querySelector('dialog[open]') || document.body).append(area);
  area.select();
  let ok = false;
  try { ok = document.execCommand('copy'); } catch { ok = false; }
  area.remove();
  return ok;
}

export function copyButton(getText, label = 'Copy') {
  const button = h('button', {type: 'button', class: 'copy-button', 'aria-label': label}, 'Copy');
  button.addEventListener('click', async () => {
    const ok = await copyText(getText());
    button.textContent = ok ? 'Copied' : 'Copy failed';
    if (!ok) toast('The browser refused to copy: select the text and copy it yourself.', 'error');
    setTimeout(() => { button.textContent = 'Copy'; }, 1500);
  });
  return button;
}

/** A code block with a copy button; the text is exactly what gets copied. */
export function copyBlock(text, {label = 'Copy', className = ''} = {}) {
  return h('div', {class: `copy-block ${className}`},
    h('pre', {class: 'code'}, text),
    copyButton(() => text, label));
}

/**
 * A dialog that shows freshly made secrets, which the server never shows again. rows: [{label, value}]
 * (each with a copy button); blocks: [{heading, text, label}] (snippets to paste).
 */
export function showOnce({title, intro, rows = [], blocks = [], className = 'secret-dialog'}) {
  return openDialog(title, (close) => h('form', {onsubmit: (event) => { event.preventDefault(); close(true); }},
    h('p', {class: 'once-warning', role: 'note'}, intro
      || 'Copy the secret now: it is shown only this once and cannot be recovered, only replaced.'),
    h('dl', {class: 'secret-rows'}, rows.map((row) => [
      h('dt', {}, row.label),
      h('dd', {}, h('code', {class: 'secret-value', 'data-secret-row': row.label}, row.value),
        copyButton(() => row.value, `Copy ${row.label.toLowerCase()}`))])),
    blocks.map((block) => h('div', {class: 'secret-block'},
      h('h3', {}, block.heading),
      block.note ? h('p', {class: 'muted small'}, block.note) : null,
      copyBlock(block.text, {label: block.label || `Copy ${block.heading}`}))),
    h('div', {class: 'actions'}, h('button', {type: 'submit', class: 'primary'}, 'Done'))),
  {className});
}
