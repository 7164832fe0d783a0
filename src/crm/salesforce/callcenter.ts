/**
 * The Open CTI call center definition file (contract §8), generated for this server: import it in
 * Setup → Call Centers → Import. Served later by the web layer at `/salesforce/callcenter.xml`.
 */

export interface CallCenterOptions {
  /** This server's public https URL (Lightning requires https for the adapter URL). */
  publicUrl: string;
  /** At most 40 characters, letters and digits, starting with a letter. */
  internalName?: string;
  displayName?: string;
  heightPx?: number;
  widthPx?: number;
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function renderCallCenterXml(options: CallCenterOptions): string {
  const base = options.publicUrl.replace(/\/$/, '');
  const internalName = (options.internalName ?? 'RingsideOpenCTI').replace(/[^A-Za-z0-9]/g, '').replace(/^[^A-Za-z]+/, '').slice(0, 40) || 'RingsideOpenCTI';
  const height = Math.min(2560, Math.max(240, Math.round(options.heightPx ?? 480)));
  const width = Math.min(1920, Math.max(200, Math.round(options.widthPx ?? 340)));
  const item = (order: number, name: string, label: string, value: string) => `    <item sortOrder="${order}" name="${name}" label="${xml(label)}">${xml(value)}</item>`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<callCenter>',
    '  <section sortOrder="0" name="reqGeneralInfo" label="General Information">',
    item(0, 'reqInternalName', 'InternalName', internalName),
    item(1, 'reqDisplayName', 'Display Name', (options.displayName ?? 'Ringside Softphone').slice(0, 1000)),
    item(2, 'reqAdapterUrl', 'CTI Adapter URL', `${base}/salesforce/softphone`),
    item(3, 'reqUseApi', 'Use CTI API', 'true'),
    item(4, 'reqSoftphoneHeight', 'Softphone Height', String(height)),
    item(5, 'reqSoftphoneWidth', 'Softphone Width', String(width)),
    item(6, 'reqSalesforceCompatibilityMode', 'Salesforce Compatibility Mode', 'Lightning'),
    '  </section>',
    '  <section sortOrder="1" name="reqDialingOptions" label="Dialing Options">',
    item(0, 'reqOutsidePrefix', 'Outside Prefix', ''),
    item(1, 'reqLongDistPrefix', 'Long Distance Prefix', ''),
    item(2, 'reqInternationalPrefix', 'International Prefix', ''),
    '  </section>',
    '  <section sortOrder="2" name="ringsideSettings" label="Ringside Settings">',
    item(0, 'ringsideBaseUrl', 'Ringside Base URL', base),
    '  </section>',
    '</callCenter>',
    '',
  ].join('\n');
}
