// image-flags.ts — the node flags the image runs the speaker with (the Dockerfile's ENTRYPOINT), so lab, test and
// bench speakers run under the same V8 settings as a deployed one: the heap sizing and the GC threads change when
// and for how long the garbage collector stops the event loop, which is what a 20 ms advert interval is sensitive to.
import { readFileSync } from 'node:fs';

/**
 * imageNodeFlags reads the runtime stage's `ENTRYPOINT ["node", ...flags, script]` of a Dockerfile and returns the
 * flags. Throws when the ENTRYPOINT is not of that shape: a lab that silently ran without them would measure
 * something other than what ships.
 */
export function imageNodeFlags(dockerfile: string): string[] {
  const text = readFileSync(dockerfile, 'utf8');
  const runtime = text.slice(text.lastIndexOf('\nFROM '));
  const m = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(runtime);
  const argv = m ? (JSON.parse(m[1]!) as string[]) : [];
  if (argv[0] !== 'node' || argv.length < 2) throw new Error(`${dockerfile}: ENTRYPOINT is not ["node", ..., script]`);
  return argv.slice(1, -1);
}
