/**
 * Calendar periods of spending limits, computed in the limit's IANA timezone with nothing but
 * `Intl`. Pure: the caller passes the instant (the server clock, never the caller's timestamp).
 *
 * A period is half-open, [start, resetAt), and resetAt is always the start of the next period, so
 * periods tile the time line with no gap or overlap. Across DST a local day lasts 23 or 25 hours
 * (or whatever the zone's rules say); the keys stay calendar dates.
 *
 * DST gaps: when local midnight does not exist (America/Sao_Paulo on 2018-11-04 jumped from 00:00
 * to 01:00), the day starts at the first instant that carries that local date, i.e. the transition
 * itself (01:00 local). When midnight happens twice (a fall-back at 01:00 to 00:00), the day starts
 * at the first of the two. When a fall-back crosses midnight (00:01 back to 23:01), the repeated
 * hour reads the previous date but belongs to the day that had already begun.
 */

export const LIMIT_TYPES = ["DAILY", "WEEKLY", "MONTHLY", "CUSTOM", "PER_TRANSACTION"] as const;
export type LimitType = (typeof LIMIT_TYPES)[number];

/** The fields of a limit that define its period. */
export interface PeriodLimit {
  limitType: LimitType;
  timezone: string;
  /** CUSTOM only: RFC 3339 instant (or Date) where the range starts, inclusive. */
  customStartDate?: string | Date | null;
  /** CUSTOM only: RFC 3339 instant (or Date) where the range ends, exclusive. */
  customEndDate?: string | Date | null;
}

export interface Period {
  /** Counter bucket: "2026-03-29", "2026-W13", "2026-03", "custom:2026-01-01T03:00:00.000Z". */
  periodKey: string;
  /** First instant of the period (inclusive). */
  start: Date;
  /** First instant of the next period (exclusive end of this one). */
  resetAt: Date;
}

/** Local wall-clock reading of an instant in a timezone (month 1-12, hour 0-23). */
export interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** A calendar date without a zone (month 1-12). */
export interface CivilDate {
  year: number;
  month: number;
  day: number;
}

const DAY_MS = 86_400_000;

// Building a DateTimeFormat costs far more than using one, and the hot path asks for the same few
// zones over and over. Invalid zones throw before reaching the cache, so it only holds real zones.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timezone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timezone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone: timezone,
      calendar: "gregory",
      numberingSystem: "latn",
      // h23, not hour12:false, which renders midnight as "24" on some ICU versions.
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timezone, formatter);
  }
  return formatter;
}

/**
 * True when `timezone` is an IANA zone name the runtime knows ("UTC", "America/Sao_Paulo";
 * case-insensitive and legacy aliases included, as `Intl` accepts them). Numeric offsets such as
 * "+01:00" are refused: they have no DST rules, which is exactly what a limit's zone is for.
 */
export function isValidTimeZone(timezone: string): boolean {
  return canonicalTimeZone(timezone) !== null;
}

/** The runtime's canonical spelling of a zone ("america/sao_paulo" → "America/Sao_Paulo"), or null if invalid. */
export function canonicalTimeZone(timezone: string): string | null {
  if (typeof timezone !== "string" || timezone.length === 0 || timezone.length > 64) return null;
  if (/^[+\-\d]/.test(timezone)) return null;
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: timezone }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}

// "11/23/2026, 03:10:36" — what the en-US formatter above prints. Parsing `format()` is about three
// times faster than `formatToParts()`, which matters on the validation hot path; the parts API
// remains the fallback should an ICU build ever print something else.
const EN_US_WALL = /^(\d+)\/(\d+)\/(\d+),?[\s\u202f]+(\d+):(\d+):(\d+)$/;

/** The local wall clock of `instant` in `timezone`. @throws RangeError for an unknown zone. */
export function wallClock(timezone: string, instant: Date | number): WallClock {
  const formatter = formatterFor(timezone);
  const match = EN_US_WALL.exec(formatter.format(instant));
  if (match !== null) {
    return {
      month: Number(match[1]),
      day: Number(match[2]),
      year: Number(match[3]),
      hour: Number(match[4]),
      minute: Number(match[5]),
      second: Number(match[6]),
    };
  }
  const out: WallClock = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const part of formatter.formatToParts(instant)) {
    if (part.type in out) out[part.type as keyof WallClock] = Number(part.value);
  }
  return out;
}

/** The wall clock of `ms` read as if it were UTC milliseconds; how offsets are compared. */
function wallAsUtcMs(timezone: string, ms: number): number {
  const w = wallClock(timezone, ms);
  return utcMs(w.year, w.month, w.day, w.hour, w.minute, w.second);
}

function utcMs(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): number {
  const date = new Date(Date.UTC(2000, month - 1, day, hour, minute, second));
  // setUTCFullYear keeps years 0-99 literal instead of mapping them to 1900-1999.
  date.setUTCFullYear(year, month - 1, day);
  return date.getTime();
}

/** Offset of the zone from UTC at instant `ms`, in ms (local − UTC), at whole-second precision. */
function offsetAt(timezone: string, ms: number): number {
  const wholeSecond = Math.floor(ms / 1000) * 1000;
  return wallAsUtcMs(timezone, wholeSecond) - wholeSecond;
}

const dayStartCache = new Map<string, number>();
const DAY_START_CACHE_LIMIT = 4096;

/**
 * The first instant whose local date in `timezone` is `date`: local midnight, or, when midnight
 * falls in a DST gap, the transition instant that skips it.
 */
export function startOfLocalDay(timezone: string, date: CivilDate): Date {
  const cacheKey = `${timezone}|${date.year}-${date.month}-${date.day}`;
  const cached = dayStartCache.get(cacheKey);
  if (cached !== undefined) return new Date(cached);
  const start = computeStartOfLocalDay(timezone, utcMs(date.year, date.month, date.day));
  // A pure function of its key, so dropping everything when full is always safe.
  if (dayStartCache.size >= DAY_START_CACHE_LIMIT) dayStartCache.clear();
  dayStartCache.set(cacheKey, start);
  return new Date(start);
}

function computeStartOfLocalDay(timezone: string, localMidnight: number): number {
  // Offsets never exceed ±15 h, so every instant that could read `localMidnight` lies within a day
  // of it, and the offsets a day before and after cover both sides of any transition near it.
  const offsets = new Set([
    offsetAt(timezone, localMidnight - DAY_MS),
    offsetAt(timezone, localMidnight),
    offsetAt(timezone, localMidnight + DAY_MS),
  ]);
  let earliest = Number.POSITIVE_INFINITY;
  for (const offset of offsets) {
    const candidate = localMidnight - offset;
    if (offsetAt(timezone, candidate) === offset) earliest = Math.min(earliest, candidate);
  }
  if (earliest !== Number.POSITIVE_INFINITY) return earliest;

  // Midnight is in a gap. Between the earliest and latest candidates the wall clock jumps over it
  // once; binary-search the first whole second whose wall clock reads midnight or later.
  const candidates = [...offsets].map((offset) => localMidnight - offset);
  let lo = Math.min(...candidates);
  let hi = Math.max(...candidates);
  const reached = (ms: number): boolean => wallAsUtcMs(timezone, ms) >= localMidnight;
  if (reached(lo) || !reached(hi)) {
    throw new Error(
      `cannot resolve local midnight in ${timezone} at ${new Date(localMidnight).toISOString()}`,
    );
  }
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (reached(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** The civil date `days` after (or before) `date`. */
export function addDays(date: CivilDate, days: number): CivilDate {
  const d = new Date(utcMs(date.year, date.month, date.day) + days * DAY_MS);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/** ISO 8601 week of a date: weeks start on Monday; week 1 holds the year's first Thursday. */
export function isoWeek(date: CivilDate): { isoYear: number; week: number; monday: CivilDate } {
  const ms = utcMs(date.year, date.month, date.day);
  const daysSinceMonday = (new Date(ms).getUTCDay() + 6) % 7;
  const monday = addDays(date, -daysSinceMonday);
  // The week belongs to the year of its Thursday.
  const thursday = addDays(monday, 3);
  const isoYear = thursday.year;
  const dayOfYear = (utcMs(thursday.year, thursday.month, thursday.day) - utcMs(isoYear, 1, 1)) / DAY_MS;
  return { isoYear, week: Math.floor(dayOfYear / 7) + 1, monday };
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, "0");
}

function parseInstant(value: string | Date | null | undefined, field: string): Date {
  const date = value instanceof Date ? value : typeof value === "string" ? new Date(value) : null;
  if (date === null || Number.isNaN(date.getTime())) {
    throw new Error(`CUSTOM limit needs a valid ${field}`);
  }
  return date;
}

/**
 * The period of `limit` that contains `now`, or null for PER_TRANSACTION (no counter).
 *
 * - DAILY: key "YYYY-MM-DD", local midnight to next local midnight (23, 24 or 25 h).
 * - WEEKLY: key ISO week "YYYY-Www" with the ISO week-year (2021-01-03 → "2020-W53"), local
 *   Monday 00:00 to the next Monday.
 * - MONTHLY: key "YYYY-MM", the 1st 00:00 to the next month's 1st.
 * - CUSTOM: the single range [customStartDate, customEndDate), key "custom:<start as ISO UTC>",
 *   returned whatever `now` is (use {@link customPeriodContains} to know whether it is running).
 *   The key carries the start so that moving the range opens a fresh counter, while extending the
 *   end keeps the usage already counted.
 *
 * @throws RangeError for an unknown timezone; Error for a CUSTOM limit without valid dates. Both
 *   are rejected when a limit is written, so reaching them means corrupt data: fail loudly.
 */
export function periodFor(limit: PeriodLimit, now: Date): Period | null {
  switch (limit.limitType) {
    case "PER_TRANSACTION":
      return null;
    case "CUSTOM": {
      const start = parseInstant(limit.customStartDate, "customStartDate");
      const resetAt = parseInstant(limit.customEndDate, "customEndDate");
      return { periodKey: `custom:${start.toISOString()}`, start, resetAt };
    }
    case "DAILY": {
      const { year, month, day } = wallClock(limit.timezone, now);
      return calendarPeriod(limit.timezone, now, { year, month, day }, (d) => addDays(d, 1), dateKey);
    }
    case "WEEKLY": {
      const { monday } = isoWeek(wallClock(limit.timezone, now));
      return calendarPeriod(
        limit.timezone,
        now,
        monday,
        (d) => addDays(d, 7),
        (d) => {
          const { isoYear, week } = isoWeek(d);
          return `${pad(isoYear, 4)}-W${pad(week, 2)}`;
        },
      );
    }
    case "MONTHLY": {
      const { year, month } = wallClock(limit.timezone, now);
      return calendarPeriod(
        limit.timezone,
        now,
        { year, month, day: 1 },
        (d) =>
          d.month === 12
            ? { year: d.year + 1, month: 1, day: 1 }
            : { year: d.year, month: d.month + 1, day: 1 },
        (d) => `${pad(d.year, 4)}-${pad(d.month, 2)}`,
      );
    }
    default: {
      const unknown: never = limit.limitType;
      throw new Error(`unknown limitType: ${String(unknown)}`);
    }
  }
}

function dateKey(d: CivilDate): string {
  return `${pad(d.year, 4)}-${pad(d.month, 2)}-${pad(d.day, 2)}`;
}

/**
 * The period from local `first` to the local date `next(first)`, moved forward while it ends at
 * or before `now`. A fall-back across midnight (St. John's turned 00:01 back to 23:01 until 2011)
 * makes the wall clock read the previous date again after the next one began; that hour belongs
 * to the period that already started, so periods keep tiling and always contain `now`.
 */
function calendarPeriod(
  timezone: string,
  now: Date,
  first: CivilDate,
  next: (d: CivilDate) => CivilDate,
  key: (d: CivilDate) => string,
): Period {
  let from = first;
  let to = next(first);
  let resetAt = startOfLocalDay(timezone, to);
  while (resetAt.getTime() <= now.getTime()) {
    from = to;
    to = next(to);
    resetAt = startOfLocalDay(timezone, to);
  }
  return { periodKey: key(from), start: startOfLocalDay(timezone, from), resetAt };
}

/**
 * Whether `now` lies in a CUSTOM limit's [customStartDate, customEndDate). Always true for the
 * other types, which have no custom range to be outside of.
 */
export function customPeriodContains(limit: PeriodLimit, now: Date): boolean {
  if (limit.limitType !== "CUSTOM") return true;
  const start = parseInstant(limit.customStartDate, "customStartDate");
  const end = parseInstant(limit.customEndDate, "customEndDate");
  return start.getTime() <= now.getTime() && now.getTime() < end.getTime();
}
