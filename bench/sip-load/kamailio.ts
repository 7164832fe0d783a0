/**
 * Kamailio (Debian bookworm's 5.6.3) as the reference point of the SIP load benchmark: an
 * authenticating registrar and stateful, parallel-forking, record-routing proxy — the job of
 * Ringside's app server minus the B2BUA — configured from scratch in a temp dir. No database:
 * bindings live in memory (usrloc db_mode 0), passwords in an htable filled at start.
 *
 * Not a test dependency: installed here with apt-get when missing and running as root.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnGroup, type Spawned } from './processes.ts';

const CANDIDATES = ['/usr/sbin/kamailio', '/usr/bin/kamailio', '/usr/local/sbin/kamailio'];

function findKamailio(): string | undefined {
  const fromPath = (process.env.PATH ?? '').split(':').map((dir) => path.join(dir, 'kamailio'));
  return [...fromPath, ...CANDIDATES].find((file) => existsSync(file));
}

/** A program the benchmark needs is not there and could not be installed: said in one line, no stack. */
export class MissingDependencyError extends Error {}

const INSTALL_KAMAILIO = 'install it with `apt-get install kamailio`, or pass --target ringside to measure Ringside alone';

/** The kamailio binary; installs the Debian package first when it is missing and we are root. */
export function ensureKamailio(log: (line: string) => void): string {
  const found = findKamailio();
  if (found) return found;
  if (process.getuid?.() !== 0) throw new MissingDependencyError(`kamailio, this benchmark's anchor, is not installed (run as root, the benchmark installs it): ${INSTALL_KAMAILIO}`);
  log('installing Debian package kamailio (apt-get)…');
  // The package's postinst starts a system service: keep it from doing so (as a container has no
  // init to run it, and the benchmark starts its own instance). Only a policy-rc.d we created is removed.
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, '#!/bin/sh\n# temporary, written by bench/sip-load: no service starts during install\nexit 101\n', { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], env });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'kamailio'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  } catch (error) {
    // No network, no package list, a held lock: apt-get said why on stderr above.
    throw new MissingDependencyError(`kamailio, this benchmark's anchor, is not installed and apt-get could not install it (${(error as Error).message.split('\n')[0]}): ${INSTALL_KAMAILIO}`);
  } finally {
    if (ownPolicy) unlinkSync(policy);
  }
  const installed = findKamailio();
  if (!installed) throw new MissingDependencyError(`apt-get install kamailio finished but no kamailio binary was found: ${INSTALL_KAMAILIO}`);
  return installed;
}

export interface KamailioOptions {
  port: number;
  /** user → password, for both REGISTER and INVITE digest checks. */
  users: Record<string, string>;
  /** UDP worker processes. */
  children: number;
}

/**
 * The routing script. Per request:
 * - in-dialog (To tag): follow Record-Route (loose_route) and relay; a stray ACK is dropped;
 * - CANCEL: matched to its INVITE transaction and relayed (tm cancels every branch);
 * - REGISTER: digest check against the htable (401 challenge), then save to usrloc;
 * - INVITE: digest check (407 challenge), record_route, then lookup("location") turns every
 *   registered Contact of the callee into a branch and t_relay() forks them all in parallel; when one
 *   answers, tm cancels the others.
 */
export function kamailioConfig(options: KamailioOptions): string {
  const passwords = Object.entries(options.users)
    .map(([user, password]) => `  $sht(passwords=>${user}) = "${password.replace(/["\\]/g, '\\$&')}";`)
    .join('\n');
  return `#!KAMAILIO
# Written by bench/sip-load (SIP load benchmark). Loopback only.
debug=-1
log_stderror=yes
children=${options.children}
# Let the UDP receive buffer grow to 4 MiB: bursts at thousands of calls/s overflow the default.
maxbuffer=4194304
disable_tcp=yes
# No alias for 127.0.0.1: the devices live on 127.0.0.1 too, and a port-less alias would make
# their URIs "myself", so loose_route() would take in-dialog requests to them as strict-routed
# to this proxy (and answer 404).
auto_aliases=no
listen=udp:127.0.0.1:${options.port}
dns=no
rev_dns=no
use_dns_cache=off
server_signature=no

loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "htable.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"

# Bindings in memory only.
modparam("usrloc", "db_mode", 0)
modparam("registrar", "max_expires", 3600)
modparam("htable", "htable", "passwords=>size=4;")

event_route[htable:mod-init] {
${passwords}
}

request_route {
  if (!mf_process_maxfwd_header("10")) {
    sl_send_reply("483", "Too Many Hops");
    exit;
  }
  if (has_totag()) {
    if (loose_route()) {
      route(RELAY);
      exit;
    }
    if (is_method("ACK")) {
      # ACK of a non-2xx we relayed: tm forwards it; the ACK of our own 407 is absorbed.
      if (t_check_trans()) {
        route(RELAY);
      }
      exit;
    }
    sl_send_reply("404", "Not here");
    exit;
  }
  if (is_method("CANCEL")) {
    if (t_check_trans()) {
      route(RELAY);
    }
    exit;
  }
  if (!is_method("ACK")) {
    # Absorbs retransmissions of requests already in a transaction.
    t_check_trans();
  }
  if (is_method("REGISTER")) {
    if (!pv_auth_check("$td", "$sht(passwords=>$tU)", "0", "1")) {
      auth_challenge("$td", "1");
      exit;
    }
    consume_credentials();
    if (!save("location")) {
      sl_reply_error();
    }
    exit;
  }
  if (is_method("INVITE")) {
    if (!pv_auth_check("$fd", "$sht(passwords=>$fU)", "0", "1")) {
      auth_challenge("$fd", "1");
      exit;
    }
    consume_credentials();
    record_route();
  }
  if (!lookup("location")) {
    sl_send_reply("404", "Not Found");
    exit;
  }
  route(RELAY);
}

route[RELAY] {
  if (!t_relay()) {
    sl_reply_error();
  }
  exit;
}
`;
}

/** Starts Kamailio in the foreground (its own process group) with the config written into `dir`. */
export function startKamailio(binary: string, dir: string, options: KamailioOptions): Spawned {
  const runDir = path.join(dir, 'run');
  mkdirSync(runDir, { recursive: true });
  const configFile = path.join(dir, 'kamailio.cfg');
  writeFileSync(configFile, kamailioConfig(options));
  // Check the script first: a config error is then one clear message instead of a dead process.
  execFileSync(binary, ['-c', '-f', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  return spawnGroup(
    'kamailio',
    binary,
    [
      '-f', configFile,
      '-DD', // stay in the foreground (no daemon), still forking the workers
      '-E', // log to stderr (the log file)
      // Shared memory, MiB: ~30,000 transactions live at 2,000 calls/s (each kept 5 s after it
      // ends), far more once a step collapses into retransmissions.
      '-m', '2048',
      '-M', '16', // private memory per process, MiB
      '-Y', runDir,
      '-w', dir,
    ],
    { cwd: dir, logFile: path.join(dir, 'kamailio.log') },
  );
}
