/**
 * Turbo Drive makes CRM navigation swap the page body instead of loading a new document, so the
 * JavaScript — and the softphone with its call — lives on from page to page. What the CRM pages
 * need beyond Turbo's defaults:
 *
 * - Successful POSTs answer 303 and errors 400/409 with the form again: Turbo renders both.
 *   A few settings forms answer 200 with the page instead of redirecting, which Turbo refuses
 *   ("Form responses must redirect"); those are rendered here from the response in hand.
 * - Pages without the panel (an error page) would drop it, and with it the call's media: the live
 *   panel is carried into such pages, floating, while a phone runs.
 * - Signing out stops the phone before the session ends (a clean un-REGISTER).
 * - A record's Activity timeline is a Turbo Frame that reloads alone when an activity changes
 *   (timeline.ts).
 */
import * as Turbo from '@hotwired/turbo';
import type { Widget } from '../widget.ts';
import { PANEL_ID } from '../widget.ts';
import { installTimelineRefresh } from './timeline.ts';

export function installTurboGlue(widget: Widget): void {
  installTimelineRefresh();

  document.addEventListener('turbo:before-fetch-response', (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== 'post') return;
    const { fetchResponse } = event.detail;
    const response = fetchResponse.response;
    if (response.redirected || response.status !== 200 || !response.headers.get('content-type')?.includes('text/html')) return;
    event.preventDefault();
    void fetchResponse.responseHTML.then((responseHTML) => {
      if (responseHTML === undefined) return;
      // The page stays at the form's own address (reloading it is a GET of the page, not a resubmit).
      Turbo.visit(location.href, { action: 'replace', response: { statusCode: 200, responseHTML, redirected: false } });
    });
  });

  document.addEventListener('turbo:before-render', (event) => {
    const panel = document.getElementById(PANEL_ID);
    const { newBody } = event.detail;
    if (!panel || !widget.active || newBody.querySelector(`#${PANEL_ID}`)) return;
    const render = event.detail.render;
    event.detail.render = (current, next) => {
      // Moved within one task: a media element taken out and put back at once keeps playing.
      // Straight under <body> it floats (softphone.css); the next page with a place for it takes
      // it back, as Turbo does with any permanent element.
      next.append(panel);
      return render(current, next);
    };
  });

  document.addEventListener('turbo:submit-start', (event) => {
    const form = event.detail.formSubmission.formElement;
    if (new URL(form.action, location.href).pathname === '/logout') widget.signOut();
  });
}
