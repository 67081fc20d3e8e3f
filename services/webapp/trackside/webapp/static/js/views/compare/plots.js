// Compare: the tasks' plots side by side.
import {mountPlots} from '../../components/plots_panel.js';

export async function render(container, {ids, names}) {
  return mountPlots(container, {ids, names});
}
