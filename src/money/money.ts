/**
 * Exact decimal money. Amounts travel as decimal strings ("1500.00") and every operation is exact
 * decimal arithmetic, never binary floating point: plain decimals (what parseAmount, formatAmount
 * and PostgreSQL's numeric print) as scaled BigInts, anything else on big.js, which stays the
 * reference (the property tests hold the two equal). The only float that exists is the one handed
 * to JSON Logic rules ({@link amountToNumber}), which never flows back into money arithmetic.
 */
import Big from "big.js";
import { currencyExponent, isCurrency } from "./currency.js";

// A private constructor so no other module's Big settings can change ours. Strict mode makes
// big.js refuse JS numbers and `valueOf`, so a float can't sneak into arithmetic by accident.
const Dec = Big();
Dec.DP = 40;
Dec.RM = Big.roundHalfEven;
Dec.NE = -1_000_000;
Dec.PE = 1_000_000;
Dec.strict = true;

/**
 * Largest number of integer digits an amount may have. With at most 4 decimals this fits
 * `numeric(38, 4)` with room to sum two amounts, and any sane payment or limit (10^18 - 1 units).
 * Note for a store keeping integer minor units in a Postgres `bigint`: int8 holds 9.22 * 10^18, i.e.
 * 17 integer digits at exponent 2 and 15 at exponent 4; prefer `numeric` for such columns.
 */
export const MAX_INTEGER_DIGITS = 18;

/** A plain decimal with an optional minus: the shapes the BigInt path handles. */
const SIGNED_PLAIN = /^(-?)(\d+)(?:\.(\d+))?$/;

/** value = units / 10^scale, exactly. */
interface Scaled {
  units: bigint;
  scale: number;
}

/** The BigInt form of a plain decimal, or undefined for anything the reference must parse. */
function scaled(value: string): Scaled | undefined {
  if (value.length > MAX_INPUT_LENGTH) return undefined;
  const m = SIGNED_PLAIN.exec(value);
  if (m === null) return undefined;
  const fraction = m[3] ?? "";
  return { units: BigInt(`${m[1]}${m[2]}${fraction}`), scale: fraction.length };
}

const POW10: bigint[] = [1n];
function pow10(n: number): bigint {
  while (POW10.length <= n) POW10.push(POW10[POW10.length - 1]! * 10n);
  return POW10[n]!;
}

/** Both operands as units of the larger scale. */
function aligned(a: Scaled, b: Scaled): [bigint, bigint, number] {
  if (a.scale === b.scale) return [a.units, b.units, a.scale];
  return a.scale > b.scale
    ? [a.units, b.units * pow10(a.scale - b.scale), a.scale]
    : [a.units * pow10(b.scale - a.scale), b.units, b.scale];
}

/** units / 10^scale with no trailing fractional zeros, as big.js's toFixed() prints it. */
function plain(units: bigint, scale: number): string {
  const negative = units < 0n;
  let digits = (negative ? -units : units).toString();
  if (scale > 0) {
    digits = digits.padStart(scale + 1, "0");
    const fraction = digits.slice(-scale).replace(/0+$/, "");
    digits = fraction === "" ? digits.slice(0, -scale) : `${digits.slice(0, -scale)}.${fraction}`;
  }
  return negative ? `-${digits}` : digits;
}

/** A plain, unsigned decimal: no sign, exponent, spaces, separators or leading/trailing dot. */
const PLAIN_DECIMAL = /^\d+(\.\d+)?$/;

// Far longer than any valid amount, short enough that nothing quadratic can hurt.
const MAX_INPUT_LENGTH = 64;

export type ParseAmountResult = { ok: true; value: string } | { ok: false; message: string };

/**
 * Validates an input amount and returns it formatted with the currency's decimals.
 *
 * - A string must be plain decimal notation (`/^\d+(\.\d+)?$/`): no sign, no exponent, no spaces,
 *   no thousands separators.
 * - A JSON number is taken through its shortest round-trip decimal form (`String(n)`), so `1500.5`
 *   is exactly "1500.5" and `0.1` is "0.1" (not the binary 0.1000000000000000055...). Non-finite
 *   numbers and numbers JS prints in exponent form (`1e21`, `1e-7`) are rejected: the former are
 *   not amounts, the latter are out of range or below any minor unit anyway.
 * - It must be > 0 and have at most {@link MAX_INTEGER_DIGITS} integer digits.
 * - It may not be written with more decimals than the currency has, even trailing zeros: "1.500"
 *   for BRL is rejected because in pt-BR it reads as one thousand five hundred.
 */
export function parseAmount(input: string | number, currency: string): ParseAmountResult {
  if (!isCurrency(currency)) return { ok: false, message: `unsupported currency: ${currency}` };
  let text: string;
  if (typeof input === "number") {
    if (!Number.isFinite(input)) return { ok: false, message: "amount must be a finite number" };
    text = String(input);
    if (/e/i.test(text)) {
      return { ok: false, message: "amount is out of range; send it as a plain decimal string" };
    }
  } else if (typeof input === "string") {
    text = input;
  } else {
    return { ok: false, message: "amount must be a decimal string or a number" };
  }
  if (text.length > MAX_INPUT_LENGTH || !PLAIN_DECIMAL.test(text)) {
    return {
      ok: false,
      message: 'amount must be a positive decimal in plain notation, e.g. "1500.00"',
    };
  }
  const [integerPart = "", fraction = ""] = text.split(".");
  const exponent = currencyExponent(currency);
  if (fraction.length > exponent) {
    return {
      ok: false,
      message: `amount has more decimal places than ${currency} allows (${exponent})`,
    };
  }
  if (integerPart.replace(/^0+/, "").length > MAX_INTEGER_DIGITS) {
    return { ok: false, message: `amount is too large (at most ${MAX_INTEGER_DIGITS} integer digits)` };
  }
  const value = Dec(text);
  if (value.lte("0")) return { ok: false, message: "amount must be greater than 0" };
  return { ok: true, value: value.toFixed(exponent) };
}

/**
 * Formats a decimal string with exactly the currency's decimals: "1500.00", JPY "1500", BHD "1.500".
 * Trailing zeros beyond the exponent are fine (a `numeric` column may carry more scale).
 * @throws RangeError when the value has significant digits the currency cannot represent: money is
 *   never rounded silently.
 */
export function formatAmount(value: string, currency: string): string {
  const exponent = currencyExponent(currency);
  const m = value.length > MAX_INPUT_LENGTH ? null : SIGNED_PLAIN.exec(value);
  // Signed values go to the reference, which decides how a negative zero prints.
  if (m !== null && m[1] === "") {
    const fraction = m[3] ?? "";
    if (fraction.length > exponent && !/^0*$/.test(fraction.slice(exponent))) {
      throw new RangeError(`${value} has more decimal places than ${currency} allows (${exponent})`);
    }
    const integerPart = m[2]!.replace(/^0+(?=\d)/, "");
    if (exponent === 0) return integerPart;
    return `${integerPart}.${fraction.slice(0, exponent).padEnd(exponent, "0")}`;
  }
  const decimal = Dec(value);
  const fixed = decimal.toFixed(exponent);
  if (!Dec(fixed).eq(decimal)) {
    throw new RangeError(`${value} has more decimal places than ${currency} allows (${exponent})`);
  }
  return fixed;
}

/** Exact a + b, as a plain decimal string (unformatted; see {@link formatAmount}). */
export function addAmounts(a: string, b: string): string {
  const x = scaled(a);
  const y = scaled(b);
  if (x === undefined || y === undefined) return Dec(a).plus(b).toFixed();
  const [u, v, scale] = aligned(x, y);
  return plain(u + v, scale);
}

/** Exact a − b, as a plain decimal string; may be negative. */
export function subtractAmounts(a: string, b: string): string {
  const x = scaled(a);
  const y = scaled(b);
  if (x === undefined || y === undefined) return Dec(a).minus(b).toFixed();
  const [u, v, scale] = aligned(x, y);
  return plain(u - v, scale);
}

/** -1, 0 or 1 as a is less than, equal to or greater than b (numerically: "1.50" equals "1.5"). */
export function compareAmounts(a: string, b: string): -1 | 0 | 1 {
  const x = scaled(a);
  const y = scaled(b);
  if (x === undefined || y === undefined) return Dec(a).cmp(b);
  const [u, v] = aligned(x, y);
  return u < v ? -1 : u > v ? 1 : 0;
}

/** a > b, exactly. */
export function isGreaterThan(a: string, b: string): boolean {
  return compareAmounts(a, b) === 1;
}

/**
 * usage / max × 100, rounded half-up to 2 decimals. A number is fine here: it's a percentage for
 * display and for `nearLimit`, not money.
 * @throws RangeError when max is not > 0 (a limit's maxAmount always is).
 */
export function utilizationPercent(usage: string, max: string): number {
  const limit = Dec(max);
  if (limit.lte("0")) throw new RangeError("maxAmount must be greater than 0");
  const percent = Dec(usage).times("100").div(limit).round(2, Big.roundHalfUp);
  return Number(percent.toFixed(2));
}

/**
 * The amount as a JS number, for the JSON Logic evaluation context only: rules compare amounts
 * with numbers (`{">": [{"var": "amount"}, 1000]}`). Above 2^53 the number may be inexact, which
 * is acceptable for a rule threshold and irrelevant to limits, which never use it.
 */
export function amountToNumber(value: string): number {
  return Number(Dec(value).toFixed());
}

/**
 * The amount in integer minor units: BRL "15.30" → 1530n, JPY "1500" → 1500n, BHD "1.5" → 1500n.
 * @throws RangeError when the value has more decimals than the currency (see {@link formatAmount}).
 */
export function toMinorUnits(value: string, currency: string): bigint {
  return BigInt(formatAmount(value, currency).replace(".", ""));
}

/** The inverse of {@link toMinorUnits}: 1530n BRL → "15.30", -5n BHD → "-0.005". */
export function fromMinorUnits(minor: bigint, currency: string): string {
  const exponent = currencyExponent(currency);
  const negative = minor < 0n;
  const digits = (negative ? -minor : minor).toString();
  if (exponent === 0) return `${negative ? "-" : ""}${digits}`;
  const padded = digits.padStart(exponent + 1, "0");
  const integerPart = padded.slice(0, -exponent);
  const fraction = padded.slice(-exponent);
  return `${negative ? "-" : ""}${integerPart}.${fraction}`;
}
