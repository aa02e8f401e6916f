#!/usr/bin/env node
// metal-vrrp entry point. In a checkout with dev dependencies it runs the TypeScript sources through tsx, so the
// lab and tests always run what is in the tree; without src/ it runs the bundle `npm run build` makes (what the image
// runs, dist/bundle/cli.mjs).
import { existsSync } from 'node:fs';

const src = new URL('../src/cli.ts', import.meta.url);
if (existsSync(src)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(src.href);
} else {
  await import(new URL('../dist/bundle/cli.mjs', import.meta.url).href);
}
