import { describe, expect, it } from "vitest";
import { isWithinWindow, parseHHmm } from "./time-window.js";

const at = (iso: string) => new Date(iso);

describe("parseHHmm", () => {
  it("parses 00:00 to 23:59 into minutes", () => {
    expect(parseHHmm("00:00")).toBe(0);
    expect(parseHHmm("09:30")).toBe(570);
    expect(parseHHmm("23:59")).toBe(1439);
  });

  it("rejects anything else", () => {
    for (const value of ["24:00", "9:00", "09:60", "0900", "09:00:00", " 09:00", "", "ab:cd"]) {
      expect(parseHHmm(value), value).toBeNull();
    }
  });
});

describe("isWithinWindow", () => {
  it("is half-open [start, end) for a same-day window", () => {
    const w = (iso: string) => isWithinWindow("09:00", "18:00", "UTC", at(iso));
    expect(w("2026-01-15T08:59:59.999Z")).toBe(false);
    expect(w("2026-01-15T09:00:00Z")).toBe(true);
    expect(w("2026-01-15T17:59:59.999Z")).toBe(true);
    expect(w("2026-01-15T18:00:00Z")).toBe(false);
  });

  it("supports overnight windows", () => {
    const w = (iso: string) => isWithinWindow("20:00", "06:00", "UTC", at(iso));
    expect(w("2026-01-15T19:59:59Z")).toBe(false);
    expect(w("2026-01-15T20:00:00Z")).toBe(true);
    expect(w("2026-01-15T23:59:59Z")).toBe(true);
    expect(w("2026-01-16T00:00:00Z")).toBe(true);
    expect(w("2026-01-16T05:59:59Z")).toBe(true);
    expect(w("2026-01-16T06:00:00Z")).toBe(false);
    expect(w("2026-01-16T12:00:00Z")).toBe(false);
  });

  it("reads the limit's local clock", () => {
    // 12:00Z is 09:00 in São Paulo (UTC-3).
    expect(isWithinWindow("09:00", "18:00", "America/Sao_Paulo", at("2026-01-15T11:59:59Z"))).toBe(false);
    expect(isWithinWindow("09:00", "18:00", "America/Sao_Paulo", at("2026-01-15T12:00:00Z"))).toBe(true);
    expect(isWithinWindow("09:00", "18:00", "America/Sao_Paulo", at("2026-01-15T20:59:59Z"))).toBe(true);
    expect(isWithinWindow("09:00", "18:00", "America/Sao_Paulo", at("2026-01-15T21:00:00Z"))).toBe(false);
    // Overnight across the UTC date line: 22:00–02:00 in Auckland (UTC+13 in January).
    expect(isWithinWindow("22:00", "02:00", "Pacific/Auckland", at("2026-01-15T09:30:00Z"))).toBe(true);
    expect(isWithinWindow("22:00", "02:00", "Pacific/Auckland", at("2026-01-15T13:00:00Z"))).toBe(false);
  });

  it("follows DST: a skipped hour never matches, a repeated hour matches twice", () => {
    // Paris 2026-03-29: 02:00 local does not exist (01:59:59 CET → 03:00 CEST at 01:00Z).
    expect(isWithinWindow("02:00", "03:00", "Europe/Paris", at("2026-03-29T00:59:59Z"))).toBe(false);
    expect(isWithinWindow("02:00", "03:00", "Europe/Paris", at("2026-03-29T01:00:00Z"))).toBe(false);
    // Paris 2026-10-25: 02:30 local happens at 00:30Z (CEST) and 01:30Z (CET).
    expect(isWithinWindow("02:00", "03:00", "Europe/Paris", at("2026-10-25T00:30:00Z"))).toBe(true);
    expect(isWithinWindow("02:00", "03:00", "Europe/Paris", at("2026-10-25T01:30:00Z"))).toBe(true);
    expect(isWithinWindow("02:00", "03:00", "Europe/Paris", at("2026-10-25T02:00:00Z"))).toBe(false);
  });

  it("treats a zero-width window (rejected on write) as no window, so a limit stays enforced", () => {
    expect(isWithinWindow("10:00", "10:00", "UTC", at("2026-01-15T03:00:00Z"))).toBe(true);
  });

  it("throws on malformed bounds", () => {
    expect(() => isWithinWindow("9:00", "18:00", "UTC", new Date())).toThrow(RangeError);
    expect(() => isWithinWindow("09:00", "24:00", "UTC", new Date())).toThrow(RangeError);
  });
});
