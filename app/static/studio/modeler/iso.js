// ISO 8601 timer and due-date values as the engine accepts them (app/engine/definitions.py
// _ISO_TIMER): a duration (PT2H, P3D), a date-time (2026-12-01T09:00:00+08:00), a cycle
// (R3/PT1H), or a ${expression}.
import { t } from './i18n.js';

const DURATION = /^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+([.,]\d+)?S)?)?$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/;

export const UNITS = [
  { value: 'M', label: 'minutes', time: true },
  { value: 'H', label: 'hours', time: true },
  { value: 'D', label: 'days', time: false },
  { value: 'W', label: 'weeks', time: false }
];

/** number + unit -> ISO duration: (2, 'H') -> 'PT2H', (3, 'D') -> 'P3D' */
export function durationOf(amount, unit) {
  const n = parseInt(amount, 10);
  if (!(n > 0)) return null;
  const spec = UNITS.find((u) => u.value === unit);
  if (!spec) return null;
  return (spec.time ? 'PT' : 'P') + n + unit;
}

export function isExpression(text) {
  return /^\$\{.+\}$/.test(text);
}

function validDate(text) {
  return DATE_TIME.test(text) && !isNaN(Date.parse(text));
}

/** An error text for a timer/due value of `kind` (timeDuration|timeDate|timeCycle|due), or null. */
export function isoError(text, kind) {
  const value = (text || '').trim();
  if (!value || isExpression(value)) return null;
  if (kind === 'timeDuration') {
    return DURATION.test(value) ? null : t('not an ISO 8601 duration (for example PT2H or P3D)');
  }
  if (kind === 'timeDate') {
    return validDate(value) ? null : t('not an ISO 8601 date and time (for example 2026-12-01T09:00:00+08:00)');
  }
  if (kind === 'timeCycle') {
    const m = /^R(\d*)\/(.+)$/.exec(value);
    const rest = m ? m[2].split('/') : [];
    const ok = m && rest.length <= 2 && DURATION.test(rest[rest.length - 1]) &&
      (rest.length === 1 || validDate(rest[0]));
    return ok ? null : t('not an ISO 8601 cycle (for example R3/PT1H)');
  }
  // a due date: a duration from the task's start, or a date-time
  return DURATION.test(value) || validDate(value) ? null
    : t('not an ISO 8601 duration or date (for example P2D or 2026-12-01T09:00:00+08:00)');
}
