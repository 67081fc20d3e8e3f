// A table's settings ({columns, sort}) kept in the user's preferences (users.get_preferences /
// users.set_preferences) under trackside_tables.<table>.<project id | "all">.
import {api} from '../api.js';
import {toast} from '../dom.js';

const ROOT = 'trackside_tables';
const slot = (projectId) => (!projectId || projectId === '*' ? 'all' : projectId);

export async function loadTablePrefs(table, projectId) {
  try {
    const data = await api('users.get_preferences', {});
    return data.preferences?.[ROOT]?.[table]?.[slot(projectId)] || null;
  } catch {
    return null;
  }
}

// One write at a time, the newest value last: two quick changes must not land in the wrong order. Sent at
// once rather than debounced, so a click followed by leaving the page keeps the choice.
const pending = new Map(); // key -> latest value not yet sent
let writing = null;

export function saveTablePrefs(table, projectId, value) {
  pending.set(`${ROOT}.${table}.${slot(projectId)}`, value);
  writing ??= (async () => {
    while (pending.size) {
      const preferences = Object.fromEntries(pending);
      pending.clear();
      try {
        await api('users.set_preferences', {preferences});
      } catch (err) {
        toast(`Could not save the table's settings: ${err.message}`, 'error');
      }
    }
    writing = null;
  })();
  return writing;
}
