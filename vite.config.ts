/**
 * Builds the browser side of Ringside — the softphone widget, Turbo navigation and the CRM pages'
 * styles — into `web/dist/assets/ringside.js` and `ringside.css`. The names are fixed because the
 * server-rendered pages name them (src/web/pages/layout.ts); one chunk, no code splitting, so a
 * page loads exactly two files. Each file also gets a .br and a .gz twin for @fastify/static's
 * `preCompressed`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

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

export default defineConfig({
  publicDir: false,
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: OUT_DIR,
    emptyOutDir: true,
    // Browsers with Web Locks, BroadcastChannel and private class fields (2022 on).
    target: ['es2022', 'chrome111', 'firefox115', 'safari16.4'],
    cssCodeSplit: false,
    modulePreload: false,
    sourcemap: true,
    reportCompressedSize: false,
    rolldownOptions: {
      input: 'web/src/main.ts',
      output: {
        entryFileNames: 'assets/ringside.js',
        chunkFileNames: 'assets/ringside-[name].js',
        assetFileNames: 'assets/ringside[extname]',
        codeSplitting: false,
      },
    },
  },
  plugins: [precompress()],
});
