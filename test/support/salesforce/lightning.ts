/**
 * The browser side of the Salesforce stand-in (contract §7, checklist 19): a Lightning record page
 * with the Open CTI softphone in its utility bar, and the Open CTI script the softphone loads.
 *
 * - `GET /lightning/r/{Type}/{Id}/view?softphone=<adapter URL>`: the record (name, phone fields,
 *   activity history) and an iframe with the adapter URL plus `sfdcIframeOrigin` and
 *   `mode=Lightning`, as Salesforce frames a call center's softphone. Phone numbers are links only
 *   after `enableClickToDial`; clicking one fires the softphone's `onClickToDial` listener with
 *   `{number, recordId, recordName, objectType}`.
 * - `GET /support/api/{v}/lightning/opencti_min.js`: defines `window.sforce.opencti` in the
 *   softphone's frame; every method call travels to the page by `postMessage`, is recorded there
 *   (`window.__opencti.calls`, in order, callbacks stripped) and answered with
 *   `{success, returnValue, errors}`. `screenPop` (SOBJECT) shows the record; `searchAndScreenPop`
 *   searches the phone fields with the same index and lag as SOSL, shows the one match or a search
 *   page, and returns the matches keyed by Id; `refreshView` re-reads the activity history;
 *   `setSoftphonePanelVisibility`/`Height` open and size the panel. Test hooks in the frame:
 *   `sforce.opencti.__fireClickToDial(payload)` and `__fireNavigationChange(payload)`.
 */

export function openCtiScript(pageOrigin: string): string {
  return `(() => {
  const PAGE = ${JSON.stringify(pageOrigin)};
  let seq = 0;
  const pending = new Map();
  const listeners = {};
  function send(method, args) {
    const id = ++seq;
    const clean = {};
    for (const [k, v] of Object.entries(args || {})) if (typeof v !== 'function') clean[k] = v;
    if (args && typeof args.callback === 'function') pending.set(id, args.callback);
    window.parent.postMessage({ __opencti: true, id, method, args: JSON.parse(JSON.stringify(clean)) }, PAGE);
  }
  window.addEventListener('message', (e) => {
    if (e.origin !== PAGE || !e.data) return;
    if (e.data.__openctiReply) {
      const cb = pending.get(e.data.id);
      pending.delete(e.data.id);
      if (cb) cb(e.data.response);
    } else if (e.data.__openctiEvent && listeners[e.data.__openctiEvent]) {
      listeners[e.data.__openctiEvent](e.data.payload);
    }
  });
  const method = (name) => (args) => send(name, args);
  window.sforce = window.sforce || {};
  window.sforce.opencti = {
    SCREENPOP_TYPE: { SOBJECT: 'sobject', URL: 'url', OBJECTHOME: 'objecthome', LIST: 'list', SEARCH: 'search', NEW_RECORD_MODAL: 'newRecord', FLOW: 'flow' },
    CALL_TYPE: { INBOUND: 'inbound', OUTBOUND: 'outbound', INTERNAL: 'internal' },
    enableClickToDial: method('enableClickToDial'),
    disableClickToDial: method('disableClickToDial'),
    screenPop: method('screenPop'),
    searchAndScreenPop: method('searchAndScreenPop'),
    saveLog: method('saveLog'),
    refreshView: method('refreshView'),
    setSoftphonePanelVisibility: method('setSoftphonePanelVisibility'),
    isSoftphonePanelVisible: method('isSoftphonePanelVisible'),
    setSoftphonePanelHeight: method('setSoftphonePanelHeight'),
    setSoftphonePanelWidth: method('setSoftphonePanelWidth'),
    getAppViewInfo: method('getAppViewInfo'),
    getCallCenterSettings: method('getCallCenterSettings'),
    notifyInitializationComplete: () => send('notifyInitializationComplete', {}),
    onClickToDial: (args) => { listeners.clickToDial = args.listener; send('onClickToDial', {}); },
    onNavigationChange: (args) => { listeners.navigationChange = args.listener; send('onNavigationChange', {}); },
    __fireClickToDial: (payload) => listeners.clickToDial && listeners.clickToDial(payload),
    __fireNavigationChange: (payload) => listeners.navigationChange && listeners.navigationChange(payload),
  };
})();
`;
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The record page with the softphone in the utility bar. */
export function lightningPage(options: { recordId: string; softphoneUrl: string; pageOrigin: string }): string {
  const frameUrl = new URL(options.softphoneUrl);
  frameUrl.searchParams.set('sfdcIframeOrigin', options.pageOrigin);
  frameUrl.searchParams.set('mode', 'Lightning');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Salesforce (stand-in)</title>
<style>
  body { font-family: sans-serif; margin: 0; }
  #record { padding: 1rem; }
  #utility { position: fixed; right: 1rem; bottom: 0; width: 360px; border: 1px solid #888; background: #fafafa; }
  #utility[hidden] { display: none; }
  #softphone { width: 100%; height: 480px; border: 0; display: block; }
</style></head>
<body>
<main id="record" data-record-id="${escape(options.recordId)}"></main>
<section id="utility" aria-label="Phone utility"><iframe id="softphone" title="Softphone" allow="microphone; camera; autoplay; clipboard-write" src="${escape(frameUrl.href)}"></iframe></section>
<script>
(() => {
  const RINGSIDE = ${JSON.stringify(frameUrl.origin)};
  const frame = document.getElementById('softphone');
  const utility = document.getElementById('utility');
  const main = document.getElementById('record');
  const state = { calls: [], clickToDial: false, refreshes: 0, page: null };
  window.__opencti = state;
  const esc = (t) => String(t ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
  async function showRecord(id) {
    const r = await (await fetch('/__admin/cti/record/' + encodeURIComponent(id))).json();
    state.page = { kind: 'record', id };
    const phones = (r.phones || []).map((p) => '<li>' + esc(p.field) + ': ' + (state.clickToDial
      ? '<a href="#" class="click-to-dial" data-number="' + esc(p.value) + '">' + esc(p.value) + '</a>'
      : '<span class="phone">' + esc(p.value) + '</span>') + '</li>').join('');
    const tasks = (r.tasks || []).map((t) => '<li class="task">' + esc(t.Subject) + ' · ' + esc(t.CallType) + ' · ' + esc(t.CallDisposition) + '</li>').join('');
    main.innerHTML = '<h1 id="record-name">' + esc(r.name) + '</h1><p id="record-type">' + esc(r.type) + '</p><ul id="phones">' + phones + '</ul>'
      + '<h2>Activity History</h2><ul id="activity">' + tasks + '</ul>';
    for (const a of main.querySelectorAll('a.click-to-dial')) a.addEventListener('click', (e) => {
      e.preventDefault();
      frame.contentWindow.postMessage({ __openctiEvent: 'clickToDial', payload: { number: a.dataset.number, recordId: r.id, recordName: r.name, objectType: r.type } }, RINGSIDE);
    });
  }
  function showSearch(term, hits) {
    state.page = { kind: 'search', term };
    main.innerHTML = '<h1 id="search-title">Search results for ' + esc(term) + '</h1><ul id="search-results">'
      + hits.map((h) => '<li>' + esc(h.Name) + ' (' + esc(h.RecordType) + ')</li>').join('') + '</ul>';
  }
  async function rerender() {
    if (state.page && state.page.kind === 'record') await showRecord(state.page.id);
  }
  async function answer(method, args) {
    switch (method) {
      case 'enableClickToDial': state.clickToDial = true; await rerender(); return null;
      case 'disableClickToDial': state.clickToDial = false; await rerender(); return null;
      case 'screenPop':
        if (args.type === 'sobject') await showRecord(args.params.recordId);
        else if (args.type === 'search') showSearch(args.params.searchString, []);
        return null;
      case 'searchAndScreenPop': {
        const hits = await (await fetch('/__admin/cti/search?q=' + encodeURIComponent(args.searchParams))).json();
        if (!args.deferred) {
          if (hits.length === 1) await showRecord(hits[0].Id);
          else showSearch(args.searchParams, hits);
        }
        return Object.fromEntries(hits.map((h) => [h.Id, h]));
      }
      case 'refreshView': state.refreshes++; await rerender(); return null;
      case 'setSoftphonePanelVisibility': utility.hidden = !args.visible; return null;
      case 'isSoftphonePanelVisible': return { visible: !utility.hidden };
      case 'setSoftphonePanelHeight': frame.style.height = Math.max(240, Math.min(2560, args.heightPX)) + 'px'; return null;
      case 'setSoftphonePanelWidth': utility.style.width = Math.max(200, Math.min(1920, args.widthPX)) + 'px'; return null;
      case 'getAppViewInfo': return state.page && state.page.kind === 'record' ? { url: location.href, recordId: state.page.id } : { url: location.href };
      default: return null;
    }
  }
  window.addEventListener('message', async (e) => {
    if (e.source !== frame.contentWindow || e.origin !== RINGSIDE || !e.data || !e.data.__opencti) return;
    const { id, method, args } = e.data;
    state.calls.push({ method, args });
    let response;
    try {
      response = { success: true, returnValue: await answer(method, args || {}), errors: null };
    } catch (err) {
      response = { success: false, returnValue: null, errors: [String(err)] };
    }
    frame.contentWindow.postMessage({ __openctiReply: true, id, response }, RINGSIDE);
  });
  void showRecord(main.dataset.recordId);
})();
</script>
</body></html>`;
}
