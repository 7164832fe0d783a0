/**
 * Builds the browser side of Ringside — the softphone widget, Turbo navigation and the CRM pages'
 * styles — into `web/dist/assets/ringside.js` and `ringside.css`, and the guest's join page script
 * into `guest.js`. The names are fixed because the server-rendered pages name them
 * (src/web/pages/layout.ts, src/web/invitations.ts); one chunk each, no code splitting, so a page
 * loads exactly two files (the guest page: ringside.css and guest.js). The guest script is a
 * second build run when the first one closes (one input per build: no code splitting allows no
 * more), so `vite build` stays one command. Each file also gets a .br and a .gz twin for
 * @fastify/static's `preCompressed`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { build, defineConfig, type Plugin, type UserConfig } from 'vite';

const OUT_DIR = 'web/dist';

function precompress(): Plugin {
  return {
    name: 'ringside-precompress',
    apply: 'build',
    writeBundle(options, bundle) {
      const dir = options.dir ?? OUT_DIR;
      for (const name of Object.keys(bundle)) {
        if (!/\.(js|css)$/.test(name)) continue;
        const file = path.join(dir, name);
        const data = readFileSync(file);
        writeFileSync(`${file}.gz`, gzipSync(data, { level: 9 }));
        writeFileSync(`${file}.br`, brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
      }
    },
  };
}

/** One bundle: `input` into assets/<name>.js (and <name>.css when it imports styles). */
function bundle(name: string, input: string, emptyOutDir: boolean): UserConfig {
  return {
    publicDir: false,
    logLevel: 'warn',
    oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
    build: {
      outDir: OUT_DIR,
      emptyOutDir,
      // Browsers with Web Locks, BroadcastChannel and private class fields (2022 on).
      target: ['es2022', 'chrome111', 'firefox115', 'safari16.4'],
      cssCodeSplit: false,
      modulePreload: false,
      sourcemap: true,
      reportCompressedSize: false,
      rolldownOptions: {
        input,
        output: {
          entryFileNames: `assets/${name}.js`,
          chunkFileNames: `assets/${name}-[name].js`,
          assetFileNames: `assets/${name}[extname]`,
          codeSplitting: false,
        },
      },
    },
  };
}

/** After the widget's build: the guest page's script (its styles are in ringside.css). */
function guestBundle(): Plugin {
  let outDir = OUT_DIR;
  return {
    name: 'ringside-guest-bundle',
    apply: 'build',
    configResolved(config) {
      outDir = config.build.outDir;
    },
    async closeBundle(error) {
      if (error) return;
      const config = bundle('guest', 'web/src/guest/main.ts', false);
      await build({ ...config, configFile: false, build: { ...config.build, outDir }, plugins: [precompress()] });
      const sf = bundle('salesforce', 'web/src/salesforce/main.ts', false); // the Open CTI softphone (src/web/salesforce.ts)
      await build({ ...sf, configFile: false, build: { ...sf.build, outDir }, plugins: [precompress()] });
    },
  };
}

export default defineConfig({ ...bundle('ringside', 'web/src/main.ts', true), plugins: [precompress(), guestBundle()] });
