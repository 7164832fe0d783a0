/**
 * The Salesforce bundle (`/assets/salesforce.js`): the widget as an Open CTI softphone at
 * `/salesforce/softphone`, and the sign-in popup's hand-off at `/salesforce/login`.
 */
import './salesforce.css';
import { h, render } from 'preact';
import { PhoneController } from '../phone/controller.ts';
import { SoftphonePanel } from '../ui/Panel.tsx';
import { forget, handOff, signInWithPopup, sipSocketUrl, storedSession, useSession, type FrameSession } from './auth.ts';
import { loadOpenCti, type OpenCti } from './opencti.ts';
import { SalesforceSoftphone } from './softphone.ts';

function meta(name: string): string {
  return document.querySelector<HTMLMetaElement>(`meta[name="${name}"]`)?.content ?? '';
}

/** The org's origin: what Salesforce put in the adapter URL, else the page that frames us. */
function salesforceOrigin(): string {
  const given = meta('ringside-sf-origin');
  if (given) return given;
  try {
    return document.referrer ? new URL(document.referrer).origin : '';
  } catch {
    return '';
  }
}

interface Debug {
  state(): unknown;
  signedIn(): boolean;
  cti(): boolean;
}

class SoftphonePage {
  private controller: PhoneController | undefined;
  private bridge: SalesforceSoftphone | undefined;
  private cti: OpenCti | null = null;
  private readonly panel = document.getElementById('ringside-softphone')!;
  private readonly signin = document.getElementById('ringside-sf-signin')!;
  private readonly note = document.getElementById('ringside-sf-signin-note')!;

  async start(): Promise<void> {
    (window as unknown as { ringside: Debug }).ringside = {
      state: () => this.controller?.state ?? null,
      signedIn: () => this.controller !== undefined,
      cti: () => this.cti !== null,
    };
    document.getElementById('ringside-sf-login')!.addEventListener('click', () => void this.signIn());
    const origin = salesforceOrigin();
    const ctiLoading = origin ? loadOpenCti(origin, meta('ringside-sf-api') || '62.0') : Promise.resolve(null);
    const stored = storedSession();
    const signedIn = stored ? await useSession(stored) : false;
    this.cti = await ctiLoading;
    if (!this.cti) console.warn('Open CTI is not available: open this page from a Salesforce call center (docs/salesforce.md)');
    if (signedIn) this.run(stored!);
    else this.showSignIn('');
  }

  private showSignIn(message: string): void {
    this.signin.hidden = false;
    this.panel.hidden = true;
    this.note.textContent = message;
    if (this.cti) void this.cti.setSoftphonePanelHeight({ heightPX: 240 });
  }

  private async signIn(): Promise<void> {
    this.note.textContent = 'Signing in in the new window…';
    try {
      const session = await signInWithPopup();
      if (!(await useSession(session))) throw new Error('Ringside did not accept the sign-in: try again.');
      this.run(session);
    } catch (err) {
      this.note.textContent = (err as Error).message;
    }
  }

  private run(session: FrameSession): void {
    this.signin.hidden = true;
    this.panel.hidden = false;
    // No cookie reaches this frame: the widget's requests carry the frame's session (useSession
    // set the API's auth hook), and every (re)connection of the phone gets a fresh token.
    const controller = new PhoneController(session.user.id, () => this.signedOut(), { socketUrl: sipSocketUrl });
    this.controller = controller;
    controller.start();
    render(h(SoftphonePanel, { controller }), this.panel);
    if (this.cti) {
      this.bridge = new SalesforceSoftphone(this.cti, controller);
      this.bridge.start(this.panel);
    }
  }

  private signedOut(): void {
    this.bridge?.stop();
    this.bridge = undefined;
    this.controller?.stop();
    this.controller = undefined;
    render(null, this.panel);
    forget();
    this.showSignIn('Signed out of Ringside.');
  }
}

const handoff = meta('ringside-sf-handoff');
if (handoff) handOff(handoff, meta('ringside-sf-state'));
else if (document.getElementById('ringside-softphone')) void new SoftphonePage().start();
