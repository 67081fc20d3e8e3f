// Compare: every task's scalars overlaid, one request per chart for all tasks, same controls as a task's.
import {mountScalars} from '../../components/scalars_panel.js';

export async function render(container, {ids, names}) {
  return mountScalars(container, {ids, names});
}
