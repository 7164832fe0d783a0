/**
 * The browser side of Ringside, loaded by every signed-in page: Turbo navigation, the CRM pages'
 * buttons, and the softphone widget. Built by Vite into web/dist/assets/ringside.{js,css}.
 */
import './styles/crm.css';
import './styles/softphone.css';
import '@hotwired/turbo';
import { installCrmActions } from './crm/actions.ts';
import { installTurboGlue } from './crm/turbo.ts';
import './invite/index.ts';
import { Widget } from './widget.ts';

const widget = new Widget();
installCrmActions();
installTurboGlue(widget);
// turbo:load follows the first page load and every visit; turbo:render also follows a form's
// error page (400/409), which is rendered without a visit.
document.addEventListener('turbo:load', () => widget.sync());
document.addEventListener('turbo:render', () => widget.sync());
if (document.readyState !== 'loading') widget.sync();
else document.addEventListener('DOMContentLoaded', () => widget.sync(), { once: true });
