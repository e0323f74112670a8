/**
 * A limit's optional daily activity window (`activeTimeStart`/`activeTimeEnd`, "HH:mm"), read on
 * the limit's local wall clock. Outside it the limit is skipped, not enforced.
 */
import { wallClock } from "./period.js";

const HH_MM = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** Minutes since local midnight for "HH:mm" (00:00–23:59), or null when malformed. */
export function parseHHmm(value: string): number | null {
  const match = HH_MM.exec(value);
  if (match === null) return null;
  return Number(match[1]) * 60 + Number(match[2]);
}

/**
 * Whether `now`, on the wall clock of `timezone`, lies in the half-open window [start, end).
 *
 * - start < end: a same-day window; 09:00–18:00 contains 09:00:00 and 17:59:59, not 18:00:00.
 * - start > end: an overnight window; 20:00–06:00 contains 20:00 to midnight and midnight to 05:59:59.
 * - start == end: rejected when a limit is written. Were such a row to reach this function anyway,
 *   it is read as "no window" (always within) so that corrupt data can never switch a limit off.
 *
 * Wall-clock times that a DST jump skips simply never occur that day (a 02:00–03:00 window in
 * Europe/Paris is empty on the last Sunday of March), and a repeated hour is inside the window both
 * times: the window is about the local clock, as a person reading it would understand it.
 *
 * @throws RangeError when start or end is not "HH:mm" (also rejected on write).
 */
export function isWithinWindow(start: string, end: string, timezone: string, now: Date): boolean {
  const from = parseHHmm(start);
  const to = parseHHmm(end);
  if (from === null || to === null) {
    throw new RangeError(`invalid activity window ${JSON.stringify(start)}-${JSON.stringify(end)}`);
  }
  if (from === to) return true;
  const clock = wallClock(timezone, now);
  // Comparing whole minutes is exact for minute-aligned bounds: t < 18:00 iff its minute < 18:00.
  const minute = clock.hour * 60 + clock.minute;
  return from < to ? from <= minute && minute < to : minute >= from || minute < to;
}
