/**
 * ISO 4217 currency codes Verdict accepts, with the number of digits of their minor unit.
 *
 * The table is ISO 4217 List One as of November 2026, kept as data here rather than read from
 * `Intl`, because CLDR (what `Intl` ships) disagrees with ISO on several codes (IQD, AFN, RSD, ...)
 * and its digits have changed between Node builds. Money must not change meaning with the runtime.
 *
 * What is accepted:
 * - every national currency of List One, e.g. JPY 0, BRL 2, BHD 3;
 * - the fund codes that have a minor unit (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW): they are
 *   units of account real payment systems settle in (a Chilean UF amount, a Uruguayan UP wage unit).
 *
 * What is rejected (`isCurrency` is false), see {@link NON_MONETARY_CODES}:
 * - codes whose minor unit ISO gives as "N.A.": precious metals (XAU, XAG, XPD, XPT), bond market
 *   units (XBA-XBD), XDR, XSU, XUA, and the technical XTS/XXX. A spending limit in troy ounces or in
 *   "no currency" is not something a payment can be validated against.
 * - codes withdrawn from List One: ANG (replaced by XCG, 2025), BGN (Bulgaria joined the euro,
 *   2026), HRK, SLL, ZWL, VEF, ... A payment in a withdrawn currency is a client bug worth a 400.
 *
 * Codes are matched exactly (upper case); upper-casing input is the API edge's job.
 */

/** Digits of the minor unit (the "exponent"): an amount has at most this many decimal places. */
export type CurrencyExponent = 0 | 2 | 3 | 4;

interface CurrencyEntry {
  readonly exponent: CurrencyExponent;
  /** ISO marks it as a fund code (an index or settlement unit rather than a banknote currency). */
  readonly fund: boolean;
}

// Grouped by exponent so a wrong digit stands out in review; 2 is by far the common case.
const EXPONENT_0 = [
  "BIF",
  "CLP",
  "DJF",
  "GNF",
  "ISK",
  "JPY",
  "KMF",
  "KRW",
  "PYG",
  "RWF",
  "UGX",
  "VND",
  "VUV",
  "XAF",
  "XOF",
  "XPF",
] as const;

const EXPONENT_2 = [
  "AED",
  "AFN",
  "ALL",
  "AMD",
  "AOA",
  "ARS",
  "AUD",
  "AWG",
  "AZN",
  "BAM",
  "BBD",
  "BDT",
  "BMD",
  "BND",
  "BOB",
  "BRL",
  "BSD",
  "BTN",
  "BWP",
  "BYN",
  "BZD",
  "CAD",
  "CDF",
  "CHF",
  "CNY",
  "COP",
  "CRC",
  "CUC",
  "CUP",
  "CVE",
  "CZK",
  "DKK",
  "DOP",
  "DZD",
  "EGP",
  "ERN",
  "ETB",
  "EUR",
  "FJD",
  "FKP",
  "GBP",
  "GEL",
  "GHS",
  "GIP",
  "GMD",
  "GTQ",
  "GYD",
  "HKD",
  "HNL",
  "HTG",
  "HUF",
  "IDR",
  "ILS",
  "INR",
  "IRR",
  "JMD",
  "KES",
  "KGS",
  "KHR",
  "KPW",
  "KYD",
  "KZT",
  "LAK",
  "LBP",
  "LKR",
  "LRD",
  "LSL",
  "MAD",
  "MDL",
  // ISO gives MGA 2 although one ariary is five iraimbilanja; ISO is the reference here.
  "MGA",
  "MKD",
  "MMK",
  "MNT",
  "MOP",
  "MRU",
  "MUR",
  "MVR",
  "MWK",
  "MXN",
  "MYR",
  "MZN",
  "NAD",
  "NGN",
  "NIO",
  "NOK",
  "NPR",
  "NZD",
  "PAB",
  "PEN",
  "PGK",
  "PHP",
  "PKR",
  "PLN",
  "QAR",
  "RON",
  "RSD",
  "RUB",
  "SAR",
  "SBD",
  "SCR",
  "SDG",
  "SEK",
  "SGD",
  "SHP",
  "SLE",
  "SOS",
  "SRD",
  "SSP",
  "STN",
  "SVC",
  "SYP",
  "SZL",
  "THB",
  "TJS",
  "TMT",
  "TOP",
  "TRY",
  "TTD",
  "TWD",
  "TZS",
  "UAH",
  "USD",
  "UYU",
  "UZS",
  "VED",
  "VES",
  "WST",
  "XCD",
  "XCG",
  "YER",
  "ZAR",
  "ZMW",
  "ZWG",
] as const;

const EXPONENT_3 = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"] as const;

/** Fund codes of List One that have a minor unit, with it. */
const FUNDS = {
  BOV: 2,
  CHE: 2,
  CHW: 2,
  CLF: 4,
  COU: 2,
  MXV: 2,
  USN: 2,
  UYI: 0,
  UYW: 4,
} as const satisfies Record<string, CurrencyExponent>;

/**
 * List One codes deliberately not accepted, with why. Kept as data so the choice is visible and
 * tested, not an accident of omission.
 */
export const NON_MONETARY_CODES: Readonly<Record<string, string>> = Object.freeze({
  XAG: "precious metal (silver), minor unit N.A.",
  XAU: "precious metal (gold), minor unit N.A.",
  XPD: "precious metal (palladium), minor unit N.A.",
  XPT: "precious metal (platinum), minor unit N.A.",
  XBA: "bond market unit, minor unit N.A.",
  XBB: "bond market unit, minor unit N.A.",
  XBC: "bond market unit, minor unit N.A.",
  XBD: "bond market unit, minor unit N.A.",
  XDR: "IMF special drawing right, minor unit N.A.",
  XSU: "SUCRE unit of account, minor unit N.A.",
  XUA: "ADB unit of account, minor unit N.A.",
  XTS: "reserved for testing",
  XXX: "no currency involved",
});

const TABLE: ReadonlyMap<string, CurrencyEntry> = buildTable();

function buildTable(): Map<string, CurrencyEntry> {
  const table = new Map<string, CurrencyEntry>();
  const add = (code: string, exponent: CurrencyExponent, fund: boolean): void => {
    if (table.has(code)) throw new Error(`duplicate currency code in table: ${code}`);
    table.set(code, Object.freeze({ exponent, fund }));
  };
  for (const code of EXPONENT_0) add(code, 0, false);
  for (const code of EXPONENT_2) add(code, 2, false);
  for (const code of EXPONENT_3) add(code, 3, false);
  for (const [code, exponent] of Object.entries(FUNDS)) add(code, exponent, true);
  return table;
}

/** Every accepted code, sorted. */
export const CURRENCY_CODES: readonly string[] = Object.freeze([...TABLE.keys()].sort());

/** True when `code` is an accepted ISO 4217 code (exact, upper case). */
export function isCurrency(code: string): boolean {
  return TABLE.has(code);
}

/** True when `code` is an accepted ISO 4217 fund code (CLF, UYW, ...). */
export function isFundCurrency(code: string): boolean {
  return TABLE.get(code)?.fund === true;
}

/**
 * Digits of the minor unit of an accepted currency: JPY 0, BRL 2, BHD 3, CLF 4.
 * @throws RangeError for a code {@link isCurrency} rejects: callers validate first, so reaching
 *   this with an unknown code is a bug and must not silently default to 2.
 */
export function currencyExponent(code: string): CurrencyExponent {
  const entry = TABLE.get(code);
  if (entry === undefined) throw new RangeError(`unsupported currency: ${code}`);
  return entry.exponent;
}
