import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** tsFiles lists every .ts file below `dir` (absolute paths), for tests that read the source tree. */
export function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}
