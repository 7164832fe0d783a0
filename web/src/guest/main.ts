/**
 * The guest's join page (`/join/<token>`, rendered by src/web/invitations.ts; built into
 * /assets/guest.js). Before the link opens: a live countdown by the server's clock that reloads
 * the page into the join form when the time comes. Within the window: the name, a camera and
 * microphone preview with device pickers, and **Join call** — JsSIP over the WebSocket
 * `/sip?invite=<token>&name=<name>`, calling the host; the gateway lets this connection call
 * only that user, only within the window. No CRM, no softphone.
 */
import { countdown } from './countdown.ts';
import { GuestCall } from './call.ts';
import { readConfig } from './config.ts';
import { showLocalTime } from './local-time.ts';

const config = readConfig();
if (config) showLocalTime(config);
if (config?.state === 'upcoming') countdown(config);
else if (config?.state === 'open') new GuestCall(config).start();
