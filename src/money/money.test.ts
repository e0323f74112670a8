import Big from "big.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CURRENCY_CODES,
  currencyExponent,
  isCurrency,
  isFundCurrency,
  NON_MONETARY_CODES,
} from "./currency.js";
import {
  addAmounts,
  amountToNumber,
  compareAmounts,
  formatAmount,
  fromMinorUnits,
  isGreaterThan,
  parseAmount,
  subtractAmounts,
  toMinorUnits,
  utilizationPercent,
} from "./money.js";

describe("currency table", () => {
  it("knows the minor units of ISO 4217", () => {
    const expected: Record<string, number> = {
      JPY: 0,
      KRW: 0,
      CLP: 0,
      XOF: 0,
      BRL: 2,
      USD: 2,
      EUR: 2,
      XCG: 2,
      ZWG: 2,
      BHD: 3,
      KWD: 3,
      JOD: 3,
      OMR: 3,
      TND: 3,
      LYD: 3,
      IQD: 3,
      CLF: 4,
      UYW: 4,
    };
    for (const [code, exponent] of Object.entries(expected)) {
      expect(isCurrency(code), code).toBe(true);
      expect(currencyExponent(code), code).toBe(exponent);
    }
  });

  it("accepts fund codes that have a minor unit and marks them", () => {
    expect(isFundCurrency("CLF")).toBe(true);
    expect(isFundCurrency("BRL")).toBe(false);
  });

  it("rejects metals, N.A. units, withdrawn codes and wrong case", () => {
    for (const code of [
      ...Object.keys(NON_MONETARY_CODES),
      "ANG",
      "BGN",
      "HRK",
      "SLL",
      "VEF",
      "ZWL",
      "brl",
      "XYZ",
      "",
    ]) {
      expect(isCurrency(code), code).toBe(false);
    }
    expect(() => currencyExponent("XAU")).toThrow(RangeError);
  });

  it("is a set of three-letter codes with no overlap with the rejected ones", () => {
    expect(CURRENCY_CODES.length).toBeGreaterThan(150);
    for (const code of CURRENCY_CODES) {
      expect(code).toMatch(/^[A-Z]{3}$/);
      expect(NON_MONETARY_CODES[code]).toBeUndefined();
    }
  });
});

describe("parseAmount", () => {
  it("formats with the currency's decimals", () => {
    expect(parseAmount("1500", "BRL")).toEqual({ ok: true, value: "1500.00" });
    expect(parseAmount("1500.5", "BRL")).toEqual({ ok: true, value: "1500.50" });
    expect(parseAmount("1500", "JPY")).toEqual({ ok: true, value: "1500" });
    expect(parseAmount("1.5", "BHD")).toEqual({ ok: true, value: "1.500" });
    expect(parseAmount("0.0001", "CLF")).toEqual({ ok: true, value: "0.0001" });
    expect(parseAmount("007.10", "USD")).toEqual({ ok: true, value: "7.10" });
  });

  it("rejects more decimals than the currency has, with the documented message", () => {
    expect(parseAmount("10.123", "BRL")).toEqual({
      ok: false,
      message: "amount has more decimal places than BRL allows (2)",
    });
    expect(parseAmount("10.5", "JPY")).toEqual({
      ok: false,
      message: "amount has more decimal places than JPY allows (0)",
    });
    expect(parseAmount("1.0001", "BHD").ok).toBe(false);
    // Even zeros: "1.500" BRL reads as 1500 in pt-BR.
    expect(parseAmount("1.500", "BRL").ok).toBe(false);
  });

  it("accepts JSON numbers through their shortest decimal form", () => {
    expect(parseAmount(1500.5, "BRL")).toEqual({ ok: true, value: "1500.50" });
    expect(parseAmount(0.1, "USD")).toEqual({ ok: true, value: "0.10" });
    expect(parseAmount(100, "JPY")).toEqual({ ok: true, value: "100" });
    expect(parseAmount(0.001, "BHD")).toEqual({ ok: true, value: "0.001" });
    expect(parseAmount(0.1 + 0.2, "USD").ok).toBe(false); // 0.30000000000000004
  });

  it("rejects non-finite, exponent-form and non-positive numbers", () => {
    for (const n of [Number.NaN, Number.POSITIVE_INFINITY, 1e21, 1e-7, 0, -5, -0]) {
      expect(parseAmount(n, "USD").ok, String(n)).toBe(false);
    }
  });

  it("rejects anything but plain decimal notation in strings", () => {
    for (const s of [
      "",
      " 1",
      "1 ",
      "+1",
      "-1",
      "1e3",
      "1E3",
      "1,000.00",
      "1.",
      ".5",
      "0x10",
      "NaN",
      "Infinity",
      "1_000",
      "١٢",
    ]) {
      expect(parseAmount(s, "USD").ok, JSON.stringify(s)).toBe(false);
    }
    expect(parseAmount("0", "USD")).toEqual({ ok: false, message: "amount must be greater than 0" });
    expect(parseAmount("0.00", "USD").ok).toBe(false);
  });

  it("bounds huge values at 18 integer digits, exactly", () => {
    expect(parseAmount("999999999999999999.99", "USD")).toEqual({ ok: true, value: "999999999999999999.99" });
    expect(parseAmount("0000999999999999999999", "USD").ok).toBe(true);
    expect(parseAmount("1000000000000000000", "USD").ok).toBe(false);
    expect(parseAmount("9".repeat(100), "USD").ok).toBe(false);
    // 2^53 + 1 is not representable: the number the client sent is already 2^53.
    expect(parseAmount(Number.MAX_SAFE_INTEGER + 2, "JPY")).toEqual({ ok: true, value: "9007199254740992" });
  });

  it("rejects an unknown currency", () => {
    expect(parseAmount("1", "XAU")).toEqual({ ok: false, message: "unsupported currency: XAU" });
  });
});

describe("formatting and arithmetic", () => {
  it("formats per currency and never rounds silently", () => {
    expect(formatAmount("1500", "BRL")).toBe("1500.00");
    expect(formatAmount("1500", "JPY")).toBe("1500");
    expect(formatAmount("1.5", "BHD")).toBe("1.500");
    expect(formatAmount("1.5000000", "BRL")).toBe("1.50");
    expect(formatAmount("0", "BRL")).toBe("0.00");
    expect(() => formatAmount("1.005", "BRL")).toThrow(RangeError);
  });

  it("adds, subtracts and compares exactly", () => {
    expect(addAmounts("0.1", "0.2")).toBe("0.3");
    expect(subtractAmounts("0.3", "0.1")).toBe("0.2");
    expect(subtractAmounts("1", "2.5")).toBe("-1.5");
    expect(addAmounts("999999999999999999.99", "999999999999999999.99")).toBe("1999999999999999999.98");
    expect(compareAmounts("1.50", "1.5")).toBe(0);
    expect(compareAmounts("1.49", "1.5")).toBe(-1);
    expect(isGreaterThan("1000.01", "1000")).toBe(true);
    expect(isGreaterThan("1000.00", "1000")).toBe(false);
  });

  it("computes utilization to 2 decimals", () => {
    expect(utilizationPercent("15000.00", "50000.00")).toBe(30);
    expect(utilizationPercent("1", "3")).toBe(33.33);
    expect(utilizationPercent("2", "3")).toBe(66.67);
    expect(utilizationPercent("0", "10")).toBe(0);
    expect(utilizationPercent("12", "10")).toBe(120);
    expect(() => utilizationPercent("1", "0")).toThrow(RangeError);
  });

  it("hands rules a number", () => {
    expect(amountToNumber("1500.50")).toBe(1500.5);
  });

  it("converts to and from minor units", () => {
    expect(toMinorUnits("15.3", "BRL")).toBe(1530n);
    expect(toMinorUnits("1500", "JPY")).toBe(1500n);
    expect(toMinorUnits("1.5", "BHD")).toBe(1500n);
    expect(toMinorUnits("0.0001", "CLF")).toBe(1n);
    expect(fromMinorUnits(1530n, "BRL")).toBe("15.30");
    expect(fromMinorUnits(5n, "BRL")).toBe("0.05");
    expect(fromMinorUnits(-5n, "BHD")).toBe("-0.005");
    expect(fromMinorUnits(1500n, "JPY")).toBe("1500");
    expect(fromMinorUnits(0n, "KWD")).toBe("0.000");
    expect(() => toMinorUnits("0.001", "BRL")).toThrow(RangeError);
  });
});

describe("properties", () => {
  const currency = fc.constantFrom("JPY", "BRL", "BHD", "CLF");
  // Up to 18 integer digits of minor units plus the exponent: the whole accepted range and beyond.
  const minor = fc.bigInt({ min: -(10n ** 22n), max: 10n ** 22n });

  it("add/subtract agree with BigInt arithmetic on minor units", () => {
    fc.assert(
      fc.property(currency, minor, minor, (code, a, b) => {
        const x = fromMinorUnits(a, code);
        const y = fromMinorUnits(b, code);
        expect(toMinorUnits(addAmounts(x, y), code)).toBe(a + b);
        expect(toMinorUnits(subtractAmounts(x, y), code)).toBe(a - b);
        expect(compareAmounts(x, y)).toBe(a < b ? -1 : a > b ? 1 : 0);
      }),
    );
  });

  it("minor units round-trip through parse and format", () => {
    fc.assert(
      fc.property(currency, fc.bigInt({ min: 1n, max: 10n ** 18n - 1n }), (code, units) => {
        const text = fromMinorUnits(units, code);
        const parsed = parseAmount(text, code);
        expect(parsed).toEqual({ ok: true, value: text });
        expect(toMinorUnits(text, code)).toBe(units);
      }),
    );
  });

  it("a JSON number with at most the currency's decimals parses to the same decimal", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 ** 12 }), (cents) => {
        const n = cents / 100;
        const parsed = parseAmount(n, "BRL");
        expect(parsed).toEqual({ ok: true, value: fromMinorUnits(BigInt(cents), "BRL") });
      }),
    );
  });
});

describe("the BigInt path agrees with big.js, the reference", () => {
  const Ref = Big();
  Ref.DP = 40;
  Ref.NE = -1_000_000;
  Ref.PE = 1_000_000;
  // Plain decimals as PostgreSQL and parseAmount print them, with leading and trailing zeros, signs
  // and long fractions; plus shapes only the reference handles (exponents, "7.", ".5").
  const digits = (max: number) =>
    fc.string({ unit: fc.constantFrom(..."0123456789"), minLength: 1, maxLength: max });
  const plainDecimal = fc
    .tuple(fc.constantFrom("", "-"), digits(20), fc.option(digits(12), { nil: undefined }))
    .map(([sign, i, f]) => `${sign}${i}${f === undefined ? "" : `.${f}`}`);
  const decimal = fc.oneof(
    { weight: 8, arbitrary: plainDecimal },
    { weight: 1, arbitrary: fc.constantFrom("1e3", "2.5E-2", "7.", ".5", "-0", "-0.000", "0.10") },
  );
  const currency = fc.constantFrom("JPY", "BRL", "BHD", "CLF");

  it("add, subtract and compare: the same value, printed the same way", () => {
    fc.assert(
      fc.property(decimal, decimal, (a, b) => {
        const sum = Ref(a).plus(b);
        const difference = Ref(a).minus(b);
        // big.js keeps the sign of a zero result ("-0"); numerically the same.
        expect(Ref(addAmounts(a, b)).eq(sum)).toBe(true);
        expect(Ref(subtractAmounts(a, b)).eq(difference)).toBe(true);
        if (!sum.eq(0)) expect(addAmounts(a, b)).toBe(sum.toFixed());
        if (!difference.eq(0)) expect(subtractAmounts(a, b)).toBe(difference.toFixed());
        expect(compareAmounts(a, b)).toBe(Ref(a).cmp(b));
        expect(isGreaterThan(a, b)).toBe(Ref(a).gt(b));
      }),
      { numRuns: 3000 },
    );
  });

  it("formatAmount: the same text, or both refuse to round", () => {
    fc.assert(
      fc.property(decimal, currency, (value, code) => {
        const exponent = currencyExponent(code);
        const fixed = Ref(value).toFixed(exponent);
        if (Ref(fixed).eq(Ref(value))) expect(formatAmount(value, code)).toBe(fixed);
        else expect(() => formatAmount(value, code)).toThrow(RangeError);
      }),
      { numRuns: 3000 },
    );
  });
});
