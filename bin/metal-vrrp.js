#!/usr/bin/env node
// metal-vrrp entry point. In a checkout with dev dependencies it runs the TypeScript sources through tsx, so the
// lab and tests always run what is in the tree; in the image (no src/, no tsx) it runs the compiled dist/.
import { existsSync } from 'node:fs';

const src = new URL('../src/cli.ts', import.meta.url);
if (existsSync(src)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(src.href);
} else {
  await import(new URL('../dist/src/cli.js', import.meta.url).href);
}
