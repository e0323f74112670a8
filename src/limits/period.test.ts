import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { LimitType, PeriodLimit } from "./period.js";
import {
  canonicalTimeZone,
  customPeriodContains,
  isoWeek,
  isValidTimeZone,
  periodFor,
  startOfLocalDay,
  wallClock,
} from "./period.js";

const HOUR = 3_600_000;

function period(limitType: LimitType, timezone: string, now: string) {
  const p = periodFor({ limitType, timezone }, new Date(now));
  if (p === null) throw new Error("expected a period");
  return {
    key: p.periodKey,
    start: p.start.toISOString(),
    resetAt: p.resetAt.toISOString(),
    hours: (p.resetAt.getTime() - p.start.getTime()) / HOUR,
  };
}

describe("DAILY", () => {
  it("uses the local date and local midnights", () => {
    expect(period("DAILY", "UTC", "2026-01-30T10:30:00Z")).toEqual({
      key: "2026-01-30",
      start: "2026-01-30T00:00:00.000Z",
      resetAt: "2026-01-31T00:00:00.000Z",
      hours: 24,
    });
    // 01:00 UTC is still the 29th in São Paulo (UTC-3 since 2019).
    expect(period("DAILY", "America/Sao_Paulo", "2026-01-30T01:00:00Z")).toEqual({
      key: "2026-01-29",
      start: "2026-01-29T03:00:00.000Z",
      resetAt: "2026-01-30T03:00:00.000Z",
      hours: 24,
    });
  });

  it("keeps the hour a fall-back across midnight repeats in the day that had begun (St. John's, 1996-10-27)", () => {
    // 00:01 NDT (-02:30) went back to 23:01 NST (-03:30): from 02:31Z to 03:30Z the wall clock
    // reads the 26th again, after the 27th began at 02:30Z. That hour is the 27th's, so the period
    // contains now and the days still tile (found by the property below).
    const the27th = {
      key: "1996-10-27",
      start: "1996-10-27T02:30:00.000Z",
      resetAt: "1996-10-28T03:30:00.000Z",
      hours: 25,
    };
    expect(period("DAILY", "America/St_Johns", "1996-10-27T02:31:00Z")).toEqual(the27th);
    expect(period("DAILY", "America/St_Johns", "1996-10-27T03:29:59Z")).toEqual(the27th);
    expect(period("DAILY", "America/St_Johns", "1996-10-27T02:30:00Z")).toEqual(the27th);
    expect(period("DAILY", "America/St_Johns", "1996-10-27T02:29:59Z")).toMatchObject({
      key: "1996-10-26",
      resetAt: "1996-10-27T02:30:00.000Z",
    });
  });

  it("starts a day whose midnight did not exist at the transition (São Paulo, 2018-11-04)", () => {
    // Clocks jumped from 00:00 (-03) to 01:00 (-02): the day starts at 01:00 local = 03:00Z.
    expect(period("DAILY", "America/Sao_Paulo", "2018-11-04T12:00:00Z")).toEqual({
      key: "2018-11-04",
      start: "2018-11-04T03:00:00.000Z",
      resetAt: "2018-11-05T02:00:00.000Z",
      hours: 23,
    });
    expect(period("DAILY", "America/Sao_Paulo", "2018-11-03T12:00:00Z")).toMatchObject({
      key: "2018-11-03",
      resetAt: "2018-11-04T03:00:00.000Z",
      hours: 24,
    });
    expect(period("DAILY", "America/Sao_Paulo", "2018-11-04T02:59:59.999Z").key).toBe("2018-11-03");
    expect(period("DAILY", "America/Sao_Paulo", "2018-11-04T03:00:00Z").key).toBe("2018-11-04");
  });

  it("gives the day before a fall-back 25 hours (São Paulo, 2018-02-17)", () => {
    // 2018-02-18 00:00 (-02) became 2018-02-17 23:00 (-03): the 17th had its last hour twice.
    expect(period("DAILY", "America/Sao_Paulo", "2018-02-17T12:00:00Z")).toEqual({
      key: "2018-02-17",
      start: "2018-02-17T02:00:00.000Z",
      resetAt: "2018-02-18T03:00:00.000Z",
      hours: 25,
    });
    expect(period("DAILY", "America/Sao_Paulo", "2018-02-18T02:30:00Z").key).toBe("2018-02-17");
  });

  it("handles Europe/Paris on 2026-03-29 (23 h) and 2026-10-25 (25 h)", () => {
    expect(period("DAILY", "Europe/Paris", "2026-03-29T12:00:00Z")).toEqual({
      key: "2026-03-29",
      start: "2026-03-28T23:00:00.000Z",
      resetAt: "2026-03-29T22:00:00.000Z",
      hours: 23,
    });
    expect(period("DAILY", "Europe/Paris", "2026-10-25T12:00:00Z")).toEqual({
      key: "2026-10-25",
      start: "2026-10-24T22:00:00.000Z",
      resetAt: "2026-10-25T23:00:00.000Z",
      hours: 25,
    });
  });

  it("handles Pacific/Auckland on 2026-04-05 (25 h) and 2026-09-27 (23 h)", () => {
    expect(period("DAILY", "Pacific/Auckland", "2026-04-05T06:00:00Z")).toEqual({
      key: "2026-04-05",
      start: "2026-04-04T11:00:00.000Z",
      resetAt: "2026-04-05T12:00:00.000Z",
      hours: 25,
    });
    expect(period("DAILY", "Pacific/Auckland", "2026-09-27T06:00:00Z")).toEqual({
      key: "2026-09-27",
      start: "2026-09-26T12:00:00.000Z",
      resetAt: "2026-09-27T11:00:00.000Z",
      hours: 23,
    });
  });

  it("survives a day that never happened (Pacific/Apia skipped 2011-12-30)", () => {
    expect(period("DAILY", "Pacific/Apia", "2011-12-30T09:59:59Z")).toMatchObject({
      key: "2011-12-29",
      resetAt: "2011-12-30T10:00:00.000Z",
    });
    expect(period("DAILY", "Pacific/Apia", "2011-12-30T10:00:00Z")).toMatchObject({
      key: "2011-12-31",
      start: "2011-12-30T10:00:00.000Z",
    });
  });

  it("switches period exactly at resetAt", () => {
    expect(period("DAILY", "Europe/Paris", "2026-03-29T21:59:59.999Z").key).toBe("2026-03-29");
    expect(period("DAILY", "Europe/Paris", "2026-03-29T22:00:00.000Z").key).toBe("2026-03-30");
  });
});

describe("WEEKLY (ISO weeks)", () => {
  it("uses the ISO week-year at year ends", () => {
    expect(period("WEEKLY", "UTC", "2020-12-31T12:00:00Z")).toEqual({
      key: "2020-W53",
      start: "2020-12-28T00:00:00.000Z",
      resetAt: "2021-01-04T00:00:00.000Z",
      hours: 168,
    });
    expect(period("WEEKLY", "UTC", "2021-01-03T23:59:59Z").key).toBe("2020-W53");
    expect(period("WEEKLY", "UTC", "2021-01-04T00:00:00Z").key).toBe("2021-W01");
    expect(period("WEEKLY", "UTC", "2024-12-30T00:00:00Z")).toMatchObject({
      key: "2025-W01",
      start: "2024-12-30T00:00:00.000Z",
    });
    expect(period("WEEKLY", "UTC", "2026-01-01T00:00:00Z").key).toBe("2026-W01");
  });

  it("reads the week in the limit's zone", () => {
    // 2026-01-05 01:00Z is Sunday 2026-01-04 22:00 in São Paulo: still the first ISO week.
    expect(period("WEEKLY", "America/Sao_Paulo", "2026-01-05T01:00:00Z")).toEqual({
      key: "2026-W01",
      start: "2025-12-29T03:00:00.000Z",
      resetAt: "2026-01-05T03:00:00.000Z",
      hours: 168,
    });
    expect(period("WEEKLY", "UTC", "2026-01-05T01:00:00Z").key).toBe("2026-W02");
  });

  it("has 167 hours across a spring-forward", () => {
    expect(period("WEEKLY", "Europe/Paris", "2026-03-25T12:00:00Z")).toEqual({
      key: "2026-W13",
      start: "2026-03-22T23:00:00.000Z",
      resetAt: "2026-03-29T22:00:00.000Z",
      hours: 167,
    });
  });

  it("computes isoWeek like ISO 8601", () => {
    expect(isoWeek({ year: 2020, month: 12, day: 31 })).toMatchObject({ isoYear: 2020, week: 53 });
    expect(isoWeek({ year: 2021, month: 1, day: 3 })).toMatchObject({ isoYear: 2020, week: 53 });
    expect(isoWeek({ year: 2024, month: 12, day: 30 })).toMatchObject({ isoYear: 2025, week: 1 });
    expect(isoWeek({ year: 2026, month: 12, day: 31 })).toMatchObject({ isoYear: 2026, week: 53 });
    expect(isoWeek({ year: 2027, month: 1, day: 1 })).toMatchObject({ isoYear: 2026, week: 53 });
    expect(isoWeek({ year: 2026, month: 6, day: 15 })).toMatchObject({
      isoYear: 2026,
      week: 25,
      monday: { year: 2026, month: 6, day: 15 },
    });
  });
});

describe("MONTHLY", () => {
  it("spans months of 28, 29, 30 and 31 days", () => {
    expect(period("MONTHLY", "UTC", "2026-02-14T00:00:00Z")).toMatchObject({
      key: "2026-02",
      hours: 28 * 24,
    });
    expect(period("MONTHLY", "UTC", "2024-02-29T23:59:59Z")).toMatchObject({
      key: "2024-02",
      hours: 29 * 24,
    });
    expect(period("MONTHLY", "UTC", "2026-04-30T12:00:00Z")).toMatchObject({
      key: "2026-04",
      hours: 30 * 24,
    });
    expect(period("MONTHLY", "UTC", "2026-12-31T23:59:59.999Z")).toEqual({
      key: "2026-12",
      start: "2026-12-01T00:00:00.000Z",
      resetAt: "2027-01-01T00:00:00.000Z",
      hours: 31 * 24,
    });
  });

  it("is local and DST-aware", () => {
    expect(period("MONTHLY", "Europe/Paris", "2026-03-15T12:00:00Z")).toEqual({
      key: "2026-03",
      start: "2026-02-28T23:00:00.000Z",
      resetAt: "2026-03-31T22:00:00.000Z",
      hours: 31 * 24 - 1,
    });
    // Midnight of 2018-11-04 did not exist in São Paulo, but a month starts on the 1st.
    expect(period("MONTHLY", "America/Sao_Paulo", "2018-11-10T12:00:00Z")).toMatchObject({
      key: "2018-11",
      start: "2018-11-01T03:00:00.000Z",
      resetAt: "2018-12-01T02:00:00.000Z",
    });
    expect(period("MONTHLY", "America/Sao_Paulo", "2026-01-01T02:59:59Z").key).toBe("2025-12");
  });
});

describe("CUSTOM and PER_TRANSACTION", () => {
  const custom: PeriodLimit = {
    limitType: "CUSTOM",
    timezone: "America/Sao_Paulo",
    customStartDate: "2026-01-01T00:00:00-03:00",
    customEndDate: "2026-02-01T00:00:00-03:00",
  };

  it("is the range [start, end) keyed by its start", () => {
    const p = periodFor(custom, new Date("2026-01-15T00:00:00Z"));
    expect(p).toEqual({
      periodKey: "custom:2026-01-01T03:00:00.000Z",
      start: new Date("2026-01-01T03:00:00Z"),
      resetAt: new Date("2026-02-01T03:00:00Z"),
    });
    // The same period whatever the instant: whether it runs is customPeriodContains' question.
    expect(periodFor(custom, new Date("2030-01-01T00:00:00Z"))?.periodKey).toBe(p?.periodKey);
  });

  it("contains its start and not its end", () => {
    expect(customPeriodContains(custom, new Date("2026-01-01T02:59:59.999Z"))).toBe(false);
    expect(customPeriodContains(custom, new Date("2026-01-01T03:00:00Z"))).toBe(true);
    expect(customPeriodContains(custom, new Date("2026-02-01T02:59:59.999Z"))).toBe(true);
    expect(customPeriodContains(custom, new Date("2026-02-01T03:00:00Z"))).toBe(false);
    expect(customPeriodContains({ limitType: "DAILY", timezone: "UTC" }, new Date())).toBe(true);
  });

  it("accepts Dates and refuses a CUSTOM limit without valid dates", () => {
    const withDates = { ...custom, customStartDate: new Date("2026-01-01T03:00:00Z") };
    expect(periodFor(withDates, new Date())?.periodKey).toBe("custom:2026-01-01T03:00:00.000Z");
    expect(() => periodFor({ ...custom, customEndDate: null }, new Date())).toThrow(/customEndDate/);
    expect(() => periodFor({ ...custom, customStartDate: "not a date" }, new Date())).toThrow(
      /customStartDate/,
    );
  });

  it("has no period for PER_TRANSACTION", () => {
    expect(periodFor({ limitType: "PER_TRANSACTION", timezone: "UTC" }, new Date())).toBeNull();
  });
});

describe("time zones", () => {
  it("validates IANA names and refuses offsets", () => {
    for (const tz of ["UTC", "America/Sao_Paulo", "Europe/Paris", "Pacific/Auckland", "america/sao_paulo"]) {
      expect(isValidTimeZone(tz), tz).toBe(true);
    }
    for (const tz of ["", "Foo/Bar", "+01:00", "-03:00", "0", "America/Sao Paulo", "x".repeat(100)]) {
      expect(isValidTimeZone(tz), tz).toBe(false);
    }
    expect(canonicalTimeZone("america/sao_paulo")).toBe("America/Sao_Paulo");
    expect(canonicalTimeZone("nope")).toBeNull();
  });

  it("reads wall clocks and day starts", () => {
    expect(wallClock("Asia/Kathmandu", new Date("2026-01-01T00:00:00Z"))).toEqual({
      year: 2026,
      month: 1,
      day: 1,
      hour: 5,
      minute: 45,
      second: 0,
    });
    expect(startOfLocalDay("Asia/Kathmandu", { year: 2026, month: 1, day: 1 }).toISOString()).toBe(
      "2025-12-31T18:15:00.000Z",
    );
    // Havana springs forward at midnight too.
    expect(startOfLocalDay("America/Havana", { year: 2026, month: 3, day: 8 }).toISOString()).toBe(
      "2026-03-08T05:00:00.000Z",
    );
  });
});

describe("properties", () => {
  const zones = [
    "UTC",
    "America/Sao_Paulo",
    "Europe/Paris",
    "Pacific/Auckland",
    "America/New_York",
    "America/Havana",
    "America/Santiago",
    "America/St_Johns",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Asia/Tehran",
    "Africa/Casablanca",
    "Pacific/Apia",
    "Pacific/Chatham",
    "Pacific/Kiritimati",
    "Antarctica/Troll",
  ];
  const arbitraryZone = fc.constantFrom(...zones);
  const arbitraryType = fc.constantFrom<LimitType>("DAILY", "WEEKLY", "MONTHLY");
  const arbitraryInstant = fc.date({
    min: new Date("1990-01-01T00:00:00Z"),
    max: new Date("2060-01-01T00:00:00Z"),
    noInvalidDate: true,
  });
  const runs = { numRuns: 1000 };

  it("contains now: start <= now < resetAt", () => {
    fc.assert(
      fc.property(arbitraryZone, arbitraryType, arbitraryInstant, (timezone, limitType, now) => {
        const p = periodFor({ limitType, timezone }, now);
        expect(p).not.toBeNull();
        expect(p!.start.getTime()).toBeLessThanOrEqual(now.getTime());
        expect(now.getTime()).toBeLessThan(p!.resetAt.getTime());
      }),
      runs,
    );
  });

  it("tiles time: the next period starts exactly at resetAt, the previous ends at start", () => {
    fc.assert(
      fc.property(arbitraryZone, arbitraryType, arbitraryInstant, (timezone, limitType, now) => {
        const p = periodFor({ limitType, timezone }, now)!;
        const next = periodFor({ limitType, timezone }, p.resetAt)!;
        expect(next.start.getTime()).toBe(p.resetAt.getTime());
        expect(next.periodKey).not.toBe(p.periodKey);
        const previous = periodFor({ limitType, timezone }, new Date(p.start.getTime() - 1))!;
        expect(previous.resetAt.getTime()).toBe(p.start.getTime());
      }),
      runs,
    );
  });

  it("is stable within a period: periodFor(start) has the same key and bounds", () => {
    fc.assert(
      fc.property(arbitraryZone, arbitraryType, arbitraryInstant, (timezone, limitType, now) => {
        const p = periodFor({ limitType, timezone }, now)!;
        expect(periodFor({ limitType, timezone }, p.start)).toEqual(p);
        expect(periodFor({ limitType, timezone }, new Date(p.resetAt.getTime() - 1))).toEqual(p);
      }),
      runs,
    );
  });

  it("keys a day by the local date of now", () => {
    fc.assert(
      fc.property(arbitraryZone, arbitraryInstant, (timezone, now) => {
        const p = periodFor({ limitType: "DAILY", timezone }, now)!;
        const w = wallClock(timezone, now);
        const pad = (n: number) => String(n).padStart(2, "0");
        expect(p.periodKey).toBe(`${w.year}-${pad(w.month)}-${pad(w.day)}`);
      }),
      runs,
    );
  });
});
