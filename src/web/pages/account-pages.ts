/** Sign in and out, the user's settings, and the admin's user management. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, NotFoundError } from '../../shared/errors.ts';
import { userSchemas } from '../../users/index.ts';
import {
  loginCsrfCookieName,
  clearSessionCookie,
  loginCsrfToken,
  requireAdmin,
  requireUser,
  safeEqual,
  setSessionCookie,
  checkOrigin,
  type AuthOptions,
} from '../auth.ts';
import { html, type Html } from '../html.ts';
import type { WebDeps } from '../index.ts';
import { PASSWORD_LOGIN_OFF, signIn } from '../sign-in.ts';
import { signOutTarget } from '../sso.ts';
import { sessionsSection } from './session-pages.ts';
import { formValidator, type FieldError } from '../validation.ts';
import { document, field, formErrorBanner, formatDateTime, layout } from './layout.ts';
import { context } from './records.ts';
import { testCallerNumber } from '../test-call.ts';
import { demoSeeding } from '../../demo/policy.ts';
import { devicePasswordRealmMismatch } from '../../users/index.ts';
import { changeLoginPassword, disableUser, enableUser, ownerCheckOf, resetDevicePassword, type OwnerCheck } from '../account-security.ts';

/** Only our own paths: never an absolute URL (open redirect) or `//host`. */
function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/(?![/\\])[^\s]*$/.test(next) && !next.startsWith('/login') ? next : '/contacts';
}

function loginPage(opts: { csrf: string; next: string; email?: string; error?: string; notice?: string; demo: boolean; providers: { id: string; name: string }[]; password: boolean }) {
  const sso = opts.providers.map(
    (p) => html`<form method="get" action="/auth/oidc/start" class="sso-form">
          <input type="hidden" name="provider" value="${p.id}">
          <input type="hidden" name="next" value="${opts.next}">
          <p><button type="submit" class="${opts.password ? 'wide' : 'primary wide'}">Sign in with ${p.name}</button></p>
        </form>`,
  );
  return document(
    'Sign in',
    html`<main id="main" class="login">
      <div class="login-card card">
        <p class="brand"><span aria-hidden="true">📞</span> Ringside</p>
        <h1>Sign in</h1>
        ${opts.notice ? html`<p class="banner banner-info" role="status">${opts.notice}</p>` : ''}
        ${opts.error ? html`<p class="banner banner-error" role="alert">${opts.error}</p>` : ''}
        ${sso}
        ${sso.length > 0 && opts.password ? html`<p class="muted small">or with your email and password:</p>` : ''}
        ${opts.password
          ? html`<form method="post" action="/login">
          <input type="hidden" name="_csrf" value="${opts.csrf}">
          <input type="hidden" name="next" value="${opts.next}">
          <div class="field"><label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" required autofocus value="${opts.email ?? ''}"></div>
          <div class="field"><label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required></div>
          <button type="submit" class="primary wide">Sign in</button>
        </form>`
          : ''}
        ${opts.demo && opts.password ? html`<p class="muted small">Demo: alice@example.com, bob@example.com or admin@example.com with the demo password.</p>` : ''}
      </div>
    </main>`,
    { bodyClass: 'login-body' },
  );
}

/**
 * "Reset device password" asks for proof that the owner is at the keyboard (see OwnerCheck): the
 * login password, or — signed in with single sign-on more than a few minutes ago — a new sign-in
 * with the provider, which comes back to the settings page.
 */
function devicePasswordForm(csrf: string, check: OwnerCheck, error?: FieldError): Html {
  const intro = html`<p class="muted small">Ringside generates a new device password and shows it once. Phones registered with the old one stop ringing at once.</p>`;
  if (check.by === 'provider' && !check.recent) {
    return html`${intro}
      ${error ? html`<p class="banner banner-error" role="alert">${error.message}</p>` : ''}
      <p>To reset it, sign in again with ${check.providerName}: ${check.staleBecause}. You come back here.</p>
      <p><a class="button" href="${check.signInAgainUrl}" data-turbo="false">Sign in again with ${check.providerName}</a></p>`;
  }
  return html`<form method="post" action="/settings/device-password" class="narrow-form">
      <input type="hidden" name="_csrf" value="${csrf}">
      ${intro}
      ${error && error.field !== 'password' ? html`<p class="banner banner-error" role="alert">${error.message}</p>` : ''}
      ${check.by === 'password'
        ? field({ name: 'password', label: 'Your password', type: 'password', required: true, autocomplete: 'current-password', hint: 'The one you sign in with: it shows that this is you.' }, {}, error)
        : html`<p class="muted small">You signed in with ${check.providerName} a few minutes ago, so no password is needed.</p>`}
      <button type="submit">Reset device password</button>
    </form>`;
}

export async function accountPages(app: FastifyInstance, deps: WebDeps, authOptions: AuthOptions): Promise<void> {
  const secure = authOptions.secureCookies;
  // The login page names the demo accounts only where they may exist (never their password).
  const demo = demoSeeding(deps.config).seed;
  const providers = deps.config.oidcProviders.map((p) => ({ id: p.id, name: p.name }));
  const passwordLogin = deps.config.PASSWORD_LOGIN;

  app.get('/', async (request, reply) => reply.redirect(request.auth ? '/contacts' : '/login', 303));

  app.get('/login', async (request, reply) => {
    const q = request.query as Record<string, string | undefined>;
    if (request.auth) return reply.redirect(safeNext(q.next), 303);
    const csrf = loginCsrfToken(request, reply, secure);
    const notice = q.signed_out ? 'You are signed out.' : undefined;
    return reply.type('text/html; charset=utf-8').send(loginPage({ csrf, next: safeNext(q.next), demo, providers, password: passwordLogin, ...(notice ? { notice } : {}) }).value);
  });

  app.post('/login', { config: { csrf: false } }, async (request, reply) => {
    const b = (request.body ?? {}) as Record<string, unknown>;
    const email = typeof b.email === 'string' ? b.email.slice(0, 254) : '';
    const password = typeof b.password === 'string' ? b.password.slice(0, 200) : '';
    const next = safeNext(b.next);
    const cookieToken = request.cookies[loginCsrfCookieName(secure)];
    const again = (status: number, error: string) => {
      const csrf = loginCsrfToken(request, reply, secure);
      return reply.code(status).type('text/html; charset=utf-8').send(loginPage({ csrf, next, email, error, demo, providers, password: passwordLogin }).value);
    };
    checkOrigin(request);
    if (!passwordLogin) return again(403, PASSWORD_LOGIN_OFF);
    if (!cookieToken || typeof b._csrf !== 'string' || !safeEqual(b._csrf, cookieToken)) {
      return again(403, 'Your sign-in form expired. Please try again.');
    }
    try {
      const { token } = await signIn(deps, request, email, password);
      setSessionCookie(reply, token, authOptions);
      reply.clearCookie(loginCsrfCookieName(secure), { path: '/', secure });
      return reply.redirect(next, 303);
    } catch (err) {
      if (err instanceof AppError && (err.status === 401 || err.status === 429)) {
        if (err.status === 429) reply.header('retry-after', String(err.extra?.retry_after_s ?? 60));
        return again(err.status, err.message);
      }
      throw err;
    }
  });

  app.post('/logout', async (request, reply) => {
    const target = await signOutTarget(deps, request, reply);
    if (request.auth) await deps.sessions.revoke(request.auth.session.id);
    clearSessionCookie(reply, authOptions);
    return reply.redirect(target, 303);
  });

  // ------------------------------------------------------------------ settings
  const validatePassword = formValidator(userSchemas.PasswordChange);
  const settingsPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    opts: { error?: FieldError; deviceError?: FieldError; notice?: string; status?: number; newDevicePassword?: string } = {},
  ) => {
    const ctx = context(request);
    const ownerCheck = await ownerCheckOf(deps, request.auth!.session, '/settings');
    const u = (await deps.users.get(ctx.user.id)) ?? ctx.user;
    const devices = await deps.sip.location.bindings(u.id);
    const ports = deps.sip.ports;
    const body = html`<h1>Your settings</h1>
      ${opts.notice ? html`<p class="banner banner-info" role="status">${opts.notice}</p>` : ''}
      <section class="card"><h2>Profile</h2>
        <dl class="details">
          <dt>Name</dt><dd>${u.name}</dd><dt>Email</dt><dd>${u.email}</dd>
          <dt>Extension</dt><dd>${u.extension ?? html`<span class="muted">none</span>`}</dd>
          <dt>SIP username</dt><dd><code>${u.sip_username}</code></dd>
          <dt>Time zone</dt><dd>${u.time_zone}</dd>
        </dl>
      </section>
      <section class="card"><h2>Change password</h2>
        ${formErrorBanner(opts.error, ['current_password', 'new_password'])}
        <form method="post" action="/settings/password" class="narrow-form">
          <input type="hidden" name="_csrf" value="${ctx.csrf}">
          ${field({ name: 'current_password', label: 'Current password', type: 'password', required: true, autocomplete: 'current-password' }, {}, opts.error)}
          ${field({ name: 'new_password', label: 'New password', type: 'password', required: true, autocomplete: 'new-password', hint: 'At least 10 characters' }, {}, opts.error)}
          <button type="submit" class="primary">Change password</button>
        </form>
      </section>
      ${await sessionsSection(deps, ctx, request.auth!.session.id, request.query as Record<string, unknown>)}
      <section class="card" aria-labelledby="test-call-heading"><h2 id="test-call-heading">Try it</h2>
        <p>No SIP phone yet? A built-in caller rings every device you have registered — this browser's softphone too — and plays a tone when you answer.</p>
        <form method="post" action="/settings/test-call">
          <input type="hidden" name="_csrf" value="${ctx.csrf}">
          <button type="submit" class="primary">Ring me with a test call</button>
        </form>
      </section>
      <section class="card" aria-labelledby="sip-heading"><h2 id="sip-heading">Desk phones and softphones</h2>
        <p>Set up any SIP phone with these settings: calls to you ring it together with your browser.</p>
        <dl class="details">
          <dt>SIP server</dt><dd><code>${deps.config.SIP_ADVERTISED_HOST ?? deps.config.sipHost}</code>, port <code>${String(ports.udp ?? '')}</code> (UDP or TCP)${ports.tls ? html`, TLS port <code>${String(ports.tls)}</code>` : ''}</dd>
          <dt>Domain</dt><dd><code>${deps.config.SIP_DOMAIN}</code></dd>
          <dt>Username</dt><dd><code>${u.sip_username}</code>${u.extension ? html` (or your extension <code>${u.extension}</code>)` : ''}</dd>
          <dt>Password</dt><dd>${opts.newDevicePassword
            ? html`<code id="device-password">${opts.newDevicePassword}</code> <span class="muted small">Shown only now: enter it in your phones.</span>`
            : html`<span class="muted">Shown once, when it is reset: Ringside keeps only a hash of it.</span>`}</dd>
        </dl>
        ${devicePasswordRealmMismatch(u, deps.config.SIP_DOMAIN)
          ? html`<p class="banner banner-warn" role="alert">Your device password was made for the SIP domain <code>${u.sip_realm ?? ''}</code>; this server's domain is now <code>${deps.config.SIP_DOMAIN}</code>, so your phones cannot sign in with it. Reset it below and enter the new one in your phones.</p>`
          : u.sip_realm === null ? html`<p class="banner banner-info" role="status">You have no device password yet: reset it below to get one.</p>` : ''}
        <h3>Registered devices</h3>
        ${devices.length === 0
          ? html`<p class="muted">No device is registered right now.</p>`
          : html`<ul class="device-list">${devices.map((d) => html`<li>${d.device} <span class="muted small">from ${d.source_address}:${String(d.source_port)}, registered until ${formatDateTime(d.expires_at, u.time_zone)}</span></li>`)}</ul>`}
        ${devicePasswordForm(ctx.csrf, ownerCheck, opts.deviceError)}
      </section>`;
    return reply.code(opts.status ?? 200).type('text/html; charset=utf-8').send(layout(ctx, 'Settings', body).value);
  };

  app.get('/settings', { preValidation: requireUser }, async (request, reply) => settingsPage(request, reply));
  app.post('/settings/password', { preValidation: requireUser }, async (request, reply) => {
    const b = (request.body ?? {}) as Record<string, unknown>;
    const input = { current_password: String(b.current_password ?? ''), new_password: String(b.new_password ?? '') };
    const checked = validatePassword(input);
    if (!checked.ok) return settingsPage(request, reply, { error: checked.error, status: 400 });
    try {
      await changeLoginPassword(deps, request, input.current_password, input.new_password);
    } catch (err) {
      if (err instanceof AppError && err.field) return settingsPage(request, reply, { error: { field: err.field, message: err.message }, status: err.status });
      throw err;
    }
    return settingsPage(request, reply, {
      notice: 'Your password has been changed. Your other sessions are signed out, and your device password was replaced: reset it to see a new one for your phones.',
    });
  });

  app.post('/settings/test-call', { preValidation: requireUser }, async (request, reply) => {
    const user = request.auth!.user;
    const from = await testCallerNumber(deps.crm);
    const admission = deps.sip.admitCall(user.id); // a test call counts against the user's call limits
    if (!admission.admitted) return settingsPage(request, reply, { notice: `No test call: ${admission.reason}. Try again in ${admission.retryAfterS} s.` });
    void deps.sip.testCall({ to: user.sip_username, from, durationS: 20, slot: admission.slot }).catch((err: unknown) => request.log.warn({ err }, 'test call failed'));
    return settingsPage(request, reply, { notice: `Calling you now from ${from}: every device you have registered rings. Answer to hear a tone; it hangs up after 20 seconds.` });
  });

  app.post('/settings/device-password', { preValidation: requireUser }, async (request, reply) => {
    const b = (request.body ?? {}) as Record<string, unknown>;
    let password: string;
    try {
      // Generated, never chosen, and shown in this answer only (like an API key); only to the owner.
      password = await resetDevicePassword(deps, request, typeof b.password === 'string' ? b.password : '', 'password', '/settings');
    } catch (err) {
      if (err instanceof AppError && err.status < 500) return settingsPage(request, reply, { deviceError: { field: err.field ?? 'reauth', message: err.message }, status: err.status });
      throw err;
    }
    reply.header('cache-control', 'no-store');
    return settingsPage(request, reply, { notice: 'Your new device password is below, shown only this once. Enter it in your phones.', newDevicePassword: password });
  });

  // ------------------------------------------------------------------ admin: users
  const validateUser = formValidator(userSchemas.UserInput);
  const usersPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    opts: { values?: Record<string, unknown>; error?: FieldError; notice?: string; status?: number; newDevicePassword?: { name: string; password: string } } = {},
  ) => {
    const ctx = context(request);
    const all = await deps.users.list();
    const values = opts.values ?? { role: 'user' };
    const body = html`<h1>Users</h1>
      ${opts.notice ? html`<p class="banner banner-info" role="status">${opts.notice}</p>` : ''}
      ${opts.newDevicePassword
        ? html`<p class="banner banner-info">Device password of ${opts.newDevicePassword.name}, shown only now (for their desk phone): <code id="device-password">${opts.newDevicePassword.password}</code></p>`
        : ''}
      ${opts.error?.field === 'user' ? html`<p class="banner banner-error" role="alert">${opts.error.message}</p>` : ''}
      <table class="records"><thead><tr><th scope="col">Name</th><th scope="col">Email</th><th scope="col">Role</th><th scope="col">Extension</th><th scope="col">SIP username</th><th scope="col">Since</th><th scope="col">Sessions</th><th scope="col">Account</th></tr></thead>
      <tbody>${all.map((u) => html`<tr><td>${u.name}</td><td>${u.email}</td><td>${u.role}</td><td>${u.extension ?? '—'}</td><td><code>${u.sip_username}</code></td><td>${formatDateTime(u.created_at, ctx.user.time_zone)}</td><td><a href="/admin/users/${u.id}/sessions" aria-label="Sessions of ${u.name}">Sessions</a></td>
        <td>${u.id === ctx.user.id
          ? html`<span class="muted">You</span>`
          : html`<form method="post" action="/admin/users/${u.id}/${u.disabled ? 'enable' : 'disable'}">
              <input type="hidden" name="_csrf" value="${ctx.csrf}">
              ${u.disabled ? html`<span class="muted">Disabled</span> ` : ''}<button type="submit" class="${u.disabled ? '' : 'danger'}" aria-label="${u.disabled ? 'Enable' : 'Disable'} ${u.name}">${u.disabled ? 'Enable' : 'Disable'}</button>
            </form>`}</td></tr>`)}</tbody></table>
      <p class="muted small">Disabling a user signs them out everywhere at once: their browsers' phones, desk phones and softphones stop ringing, and their device password is replaced.</p>
      <section class="card"><h2>Add user</h2>
        ${formErrorBanner(opts.error?.field === 'user' ? undefined : opts.error, ['name', 'email', 'role', 'extension', 'password', 'time_zone'])}
        <form method="post" action="/admin/users" novalidate>
          <input type="hidden" name="_csrf" value="${ctx.csrf}">
          <div class="form-grid">
            ${field({ name: 'name', label: 'Name', required: true }, values, opts.error)}
            ${field({ name: 'email', label: 'Email', type: 'email', required: true }, values, opts.error)}
            ${field({ name: 'role', label: 'Role', type: 'select', options: [{ value: 'user', label: 'User' }, { value: 'admin', label: 'Administrator' }] }, values, opts.error)}
            ${field({ name: 'extension', label: 'Extension', hint: '2 to 8 digits, optional' }, values, opts.error)}
            ${field({ name: 'password', label: 'Initial password', type: 'password', required: true, autocomplete: 'new-password', hint: 'At least 10 characters' }, {}, opts.error)}
            ${field({ name: 'time_zone', label: 'Time zone', hint: 'e.g. Europe/Berlin' }, values, opts.error)}
          </div>
          <button type="submit" class="primary">Add user</button>
        </form>
      </section>`;
    return reply.code(opts.status ?? 200).type('text/html; charset=utf-8').send(layout(ctx, 'Users', body).value);
  };

  app.get('/admin/users', { preValidation: requireAdmin }, async (request, reply) => usersPage(request, reply));
  app.post('/admin/users', { preValidation: requireAdmin }, async (request, reply) => {
    const b = (request.body ?? {}) as Record<string, unknown>;
    const text = (k: string) => (typeof b[k] === 'string' ? (b[k] as string) : '');
    const input: Record<string, unknown> = { name: text('name'), email: text('email').trim(), role: text('role') || 'user', password: text('password') };
    if (text('extension').trim()) input.extension = text('extension').trim();
    const tz = text('time_zone').trim();
    if (tz) input.time_zone = tz;
    const values = { ...input, password: '' };
    const checked = validateUser(input);
    if (!checked.ok) return usersPage(request, reply, { values, error: checked.error, status: 400 });
    try {
      const created = await deps.users.create(checked.value);
      reply.header('cache-control', 'no-store');
      return usersPage(request, reply, { notice: `${created.name} can now sign in as ${created.email}.`, newDevicePassword: { name: created.name, password: created.device_password } });
    } catch (err) {
      if (err instanceof AppError && err.field) return usersPage(request, reply, { values, error: { field: err.field, message: err.message }, status: err.status });
      throw err;
    }
  });

  // Offboarding: a disabled user's sessions, SIP WebSockets, registrations and device password end at once.
  const userIdParam = (request: FastifyRequest) => String((request.params as { id?: unknown }).id ?? '');
  app.post('/admin/users/:id/disable', { preValidation: requireAdmin }, async (request, reply) => {
    const id = userIdParam(request);
    if (id === request.auth!.user.id) return usersPage(request, reply, { error: { field: 'user', message: 'You cannot disable your own account.' }, status: 400 });
    if (!(await deps.users.get(id))) throw new NotFoundError('User');
    const user = await disableUser(deps, id);
    request.log.info({ user: user.id, by: request.auth!.user.id }, 'user disabled');
    return usersPage(request, reply, { notice: `${user.name} is disabled: signed out everywhere, and no phone of theirs rings any more.` });
  });
  app.post('/admin/users/:id/enable', { preValidation: requireAdmin }, async (request, reply) => {
    const id = userIdParam(request);
    if (!(await deps.users.get(id))) throw new NotFoundError('User');
    const user = await enableUser(deps, id);
    return usersPage(request, reply, { notice: `${user.name} can sign in again (and resets their device password to use a phone).` });
  });
}
