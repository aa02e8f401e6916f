/**
 * Value parsers shared by the pool annotations (pool-tuning.ts, health-checks.ts): each returns the value or a
 * sentence saying why the text is not one, so the caller can report it as a TuningProblem.
 */
import { type CodedError, codedError } from '../errors.ts';
import { parseDuration } from './duration.ts';

/** Parsed is a parse result: the value, or why the text is not one. */
export type Parsed<T> = { readonly value: T } | { readonly error: string };

/** durationMs reads a duration with a unit; micro-rounding undoes float noise such as 0.07 s × 1000. */
export function durationMs(text: string): Parsed<number> {
  if (/^\s*\d+(\.\d+)?\s*$/.test(text)) return { error: `"${text}" has no unit (write e.g. 100ms or 1s)` };
  const ms = parseDuration(text);
  if (ms === undefined) return { error: `"${text}" is not a duration (e.g. 100ms, 1.5s)` };
  return { value: Math.round(ms * 1000) / 1000 };
}

/** boundedDuration reads a duration within min..max ms; the texts name the bounds in the error. */
export function boundedDuration(
  max: number,
  maxText: string,
  min = 0,
  minText = '0s',
): (text: string) => Parsed<number> {
  return (text) => {
    const ms = durationMs(text);
    if ('error' in ms) return ms;
    if (ms.value > max) return { error: `"${text}" is longer than ${maxText}` };
    if (ms.value < min) return { error: `"${text}" is shorter than ${minText}` };
    return ms;
  };
}

/** parseBoolean reads true or false, in any case. */
export function parseBoolean(text: string): Parsed<boolean> {
  const t = text.trim().toLowerCase();
  if (t === 'true') return { value: true };
  if (t === 'false') return { value: false };
  return { error: `"${text}" is not true or false` };
}

/** wholeNumber reads a whole number within lo..hi. */
export function wholeNumber(lo: number, hi: number): (text: string) => Parsed<number> {
  return (text) => {
    if (!/^\s*\d{1,6}\s*$/.test(text) || Number(text) < lo || Number(text) > hi) {
      return { error: `"${text}" is not a whole number ${lo}..${hi}` };
    }
    return { value: Number(text) };
  };
}

/** TuningProblem is one annotation that could not be used, for an Event on the pool, a log line and a metric. */
export interface TuningProblem {
  readonly pool: string;
  readonly annotation: string;
  readonly value: string;
  readonly error: CodedError;
}

/** AnnotationReader reads one annotation: absent → fallback; invalid → a problem is recorded and fallback. */
export type AnnotationReader = <T>(annotation: string, parse: (text: string) => Parsed<T>, fallback: T) => T;

/** annotationReader reads `annotations` of pool `pool`, pushing every invalid value onto `problems` (INVALID_TUNING). */
export function annotationReader(
  pool: string,
  annotations: Readonly<Record<string, string>>,
  problems: TuningProblem[],
): AnnotationReader {
  return (annotation, parse, fallback) => {
    const text = annotations[annotation];
    if (text === undefined) return fallback;
    const parsed = parse(text);
    if ('value' in parsed) return parsed.value;
    problems.push(invalidTuning(pool, annotation, text, parsed.error));
    return fallback;
  };
}

/** invalidTuning is the INVALID_TUNING problem for one annotation value. */
export function invalidTuning(pool: string, annotation: string, value: string, why: string): TuningProblem {
  return { pool, annotation, value, error: codedError('INVALID_TUNING', `pool ${pool}: ${annotation}: ${why}`) };
}
