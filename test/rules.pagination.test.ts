/**
 * GET /v1/rules over 250 rules: every filter, every sort, cursor walks with several page sizes
 * (CONTRACT §2 lists, §3 rule filters). The expected answer of each walk is computed here from the
 * rules this file created through the API.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "./harness.js";

type Scope = Partial<
  Record<"accountId" | "segmentId" | "portfolioId" | "merchantId" | "transactionType" | "subType", string>
>;

interface Rule {
  ruleId: string;
  name: string;
  description: string | null;
  expression: Record<string, unknown>;
  action: "ALLOW" | "DENY" | "REVIEW";
  scopes: Scope[];
  status: "DRAFT" | "ACTIVE" | "INACTIVE";
  createdAt: string;
  updatedAt: string;
  activatedAt: string | null;
  deactivatedAt: string | null;
  deletedAt: string | null;
}

interface Page {
  rules: Rule[];
  hasMore: boolean;
  nextCursor: string | null;
}

const TOTAL = 250;
const BATCH = 25;
// Capitalized words with distinct first letters and fixed-width numbers: the same order under the C
// collation and under any locale collation PostgreSQL may use, and under JavaScript's `<`.
const WORDS = ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf"];
const ACTIONS = ["ALLOW", "DENY", "REVIEW"] as const;
const ACCOUNTS = [randomUUID(), randomUUID(), randomUUID()];
const SEGMENTS = [randomUUID(), randomUUID()];
const PORTFOLIOS = [randomUUID(), randomUUID()];
const MERCHANTS = [randomUUID(), randomUUID()];
const TYPES = ["CARD", "WIRE", "PIX", "CRYPTO"];
const SUB_TYPES = [" ContactLess ", "RECURRING"];

/** The scopes rule `i` is created with (as sent: mixed case, padded subTypes, upper-case ids). */
function scopesFor(i: number): Scope[] {
  // k varies independently of i % 8, so every id value shows up in every scope shape.
  const k = Math.floor(i / 8);
  switch (i % 8) {
    case 0:
      return [];
    case 1:
      return [{ accountId: ACCOUNTS[i % 3]!.toUpperCase() }];
    case 2:
      return [{ segmentId: SEGMENTS[k % 2]! }];
    case 3:
      return [{ portfolioId: PORTFOLIOS[k % 2]! }];
    case 4:
      return [{ merchantId: MERCHANTS[k % 2]!.toUpperCase() }];
    case 5:
      return [{ transactionType: TYPES[k % 4]! }];
    case 6:
      return [{ subType: SUB_TYPES[k % 2]! }];
    default:
      // Two shapes of multi-scope rule: disjoint fields, and the same fields with other values.
      return k % 2 === 0
        ? [
            { accountId: ACCOUNTS[i % 3]!, transactionType: "CARD" },
            {
              segmentId: SEGMENTS[Math.floor(k / 2) % 2]!,
              subType: "Recurring",
              merchantId: MERCHANTS[(k % 3) % 2]!,
            },
          ]
        : [
            { accountId: ACCOUNTS[i % 3]!, transactionType: "CARD" },
            { accountId: ACCOUNTS[(i + 1) % 3]!, transactionType: "PIX" },
          ];
  }
}

/** What the service must store for a scope: ids lower-case, subType trimmed and lower-case. */
function normalized(scope: Scope): Scope {
  const out: Scope = {};
  for (const [k, v] of Object.entries(scope) as [keyof Scope, string][]) {
    out[k] = k === "transactionType" ? v : v.trim().toLowerCase();
  }
  return out;
}

let t: TestApp;
/** The final state of every live rule, as the API last returned it. */
const live = new Map<string, Rule>();
const deletedIds = new Set<string>();

async function readJson<T>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

async function inBatches<T>(items: T[], run: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += BATCH) await Promise.all(items.slice(i, i + BATCH).map(run));
}

beforeAll(async () => {
  t = await createTestApp();
  const indexes = Array.from({ length: TOTAL }, (_, i) => i);
  const byIndex = new Map<number, Rule>();
  await inBatches(indexes, async (i) => {
    const rule = await readJson<Rule>(
      await t.request("POST", "/v1/rules", {
        name: `${WORDS[i % 7]}${String(i).padStart(3, "0")}`,
        expression: { ">": [{ var: "amount" }, i] },
        action: ACTIONS[i % 3],
        scopes: scopesFor(i),
      }),
      201,
    );
    expect(rule.scopes).toEqual(scopesFor(i).map(normalized));
    byIndex.set(i, rule);
  });
  // Statuses: i % 5 = 0 ACTIVE, 1 INACTIVE, else DRAFT; some DRAFT rules deleted; some rules edited
  // afterwards so that updated_at order differs from created_at order.
  await inBatches(indexes, async (i) => {
    let rule = byIndex.get(i)!;
    const step = async (path: string, method = "POST", body?: unknown) => {
      rule = await readJson<Rule>(await t.request(method, `/v1/rules/${rule.ruleId}${path}`, body), 200);
    };
    if (i % 5 === 0 || i % 5 === 1) await step("/activate");
    if (i % 5 === 1) await step("/deactivate");
    if (i % 11 === 3) await step("", "PATCH", { description: `edited ${i}` });
    if (i % 13 === 12 && rule.status === "DRAFT") {
      expect((await t.request("DELETE", `/v1/rules/${rule.ruleId}`)).status).toBe(204);
      deletedIds.add(rule.ruleId);
      return;
    }
    live.set(rule.ruleId, rule);
  });
  expect(live.size + deletedIds.size).toBe(TOTAL);
  expect(deletedIds.size).toBeGreaterThan(5);
}, 120_000);

afterAll(async () => {
  await t.close();
});

type SortBy = "created_at" | "updated_at" | "name";
type Order = "asc" | "desc";

const SORT_KEY: Record<SortBy, (r: Rule) => string> = {
  created_at: (r) => r.createdAt,
  updated_at: (r) => r.updatedAt,
  name: (r) => r.name,
};

/** Keyset order: the sort key, then ruleId, both in `order`. */
function sorted(rules: Rule[], by: SortBy, order: Order): Rule[] {
  const sign = order === "asc" ? 1 : -1;
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...rules].sort((a, b) => sign * (cmp(SORT_KEY[by](a), SORT_KEY[by](b)) || cmp(a.ruleId, b.ruleId)));
}

/** scope-filter.ts: a global rule, or one scope whose every set filter field agrees with the filter. */
function scopeApplies(rule: Rule, filter: Scope): boolean {
  if (rule.scopes.length === 0) return true;
  const entries = Object.entries(filter) as [keyof Scope, string][];
  return rule.scopes.some((s) =>
    entries.every(([field, value]) => s[field] === undefined || s[field] === value),
  );
}

/**
 * Follows nextCursor to the end, checking every page's shape, and returns the rules in the order
 * the API gave them.
 */
async function walk(query: Record<string, string>, limit?: number): Promise<Rule[]> {
  const out: Rule[] = [];
  const pageSize = limit ?? 10;
  let cursor: string | null = null;
  for (let pages = 0; ; pages++) {
    expect(pages, "walk does not end").toBeLessThanOrEqual(TOTAL + 1);
    const params = new URLSearchParams(query);
    if (limit !== undefined) params.set("limit", String(limit));
    if (cursor) params.set("cursor", cursor);
    const page: Page = await readJson<Page>(await t.request("GET", `/v1/rules?${params}`), 200);
    expect(page.rules.length).toBeLessThanOrEqual(pageSize);
    // The previous page said there was more: this one cannot be empty.
    if (pages > 0) expect(page.rules.length).toBeGreaterThan(0);
    out.push(...page.rules);
    if (!page.hasMore) {
      expect(page.nextCursor).toBeNull();
      break;
    }
    expect(page.rules).toHaveLength(pageSize);
    expect(typeof page.nextCursor).toBe("string");
    cursor = page.nextCursor;
  }
  const ids = out.map((r) => r.ruleId);
  expect(new Set(ids).size, "duplicates across pages").toBe(ids.length);
  return out;
}

async function expectWalk(
  query: Record<string, string>,
  predicate: (r: Rule) => boolean,
  opts: { limit?: number; sortBy?: SortBy; order?: Order; minExpected?: number } = {},
): Promise<Rule[]> {
  const expected = sorted(
    [...live.values()].filter(predicate),
    opts.sortBy ?? "created_at",
    opts.order ?? "desc",
  );
  // A filter that selects nothing (or everything) would prove little: keep each walk meaningful.
  expect(expected.length).toBeGreaterThanOrEqual(opts.minExpected ?? 1);
  const sort: Record<string, string> = opts.sortBy
    ? { sort_by: opts.sortBy, sort_order: opts.order ?? "desc" }
    : {};
  const got = await walk({ ...sort, ...query }, opts.limit);
  expect(got.map((r) => r.ruleId)).toEqual(expected.map((r) => r.ruleId));
  return got;
}

describe("walks without filters", () => {
  it("default page size (10), default sort (created_at desc): every live rule exactly once", async () => {
    const got = await expectWalk({}, () => true, { minExpected: 200 });
    // Each listed rule is exactly what the API last returned for it.
    for (const rule of got) expect(rule).toEqual(live.get(rule.ruleId));
    for (const id of deletedIds) expect(got.some((r) => r.ruleId === id)).toBe(false);
  });

  it.each([1, 100, 37])("limit=%i", async (limit) => {
    await expectWalk({}, () => true, { limit, minExpected: 200 });
  });

  it("a page size that divides the result: the last page is full and says hasMore false", async () => {
    // walk() rejects a trailing empty page, which is what an off-by-one hasMore would produce here.
    let walked = 0;
    for (const status of ["ACTIVE", "INACTIVE", "DRAFT"] as const) {
      const n = [...live.values()].filter((r) => r.status === status).length;
      const divisor = Array.from({ length: 99 }, (_, k) => 100 - k).find((d) => n % d === 0 && d < n);
      if (divisor === undefined) continue;
      await expectWalk({ status }, (r) => r.status === status, { limit: divisor });
      walked++;
    }
    expect(walked).toBeGreaterThan(0);
  });
});

describe("every sort_by × sort_order", () => {
  const sorts: [SortBy, Order, number][] = [
    ["created_at", "asc", 23],
    ["created_at", "desc", 50],
    ["updated_at", "asc", 31],
    ["updated_at", "desc", 100],
    ["name", "asc", 17],
    ["name", "desc", 64],
  ];
  it.each(sorts)("sort_by=%s sort_order=%s (limit %i)", async (sortBy, order, limit) => {
    await expectWalk({}, () => true, { limit, sortBy, order, minExpected: 200 });
  });

  it("updated_at order really differs from created_at order in this data set", () => {
    const rules = [...live.values()];
    const byCreated = sorted(rules, "created_at", "asc").map((r) => r.ruleId);
    const byUpdated = sorted(rules, "updated_at", "asc").map((r) => r.ruleId);
    expect(byUpdated).not.toEqual(byCreated);
  });

  it("sort_order is case-insensitive (ASC) and sort_by applies to filtered walks too", async () => {
    await expectWalk({ status: "ACTIVE", sort_order: "ASC" }, (r) => r.status === "ACTIVE", {
      limit: 9,
      sortBy: "name",
      order: "asc",
    });
  });

  it("a cursor pins the sort it was made for", async () => {
    const first = await readJson<Page>(
      await t.request("GET", "/v1/rules?sort_by=name&sort_order=asc&limit=5"),
      200,
    );
    const expected = sorted([...live.values()], "name", "asc");
    expect(first.rules.map((r) => r.ruleId)).toEqual(expected.slice(0, 5).map((r) => r.ruleId));
    const second = await readJson<Page>(
      await t.request(
        "GET",
        `/v1/rules?sort_by=created_at&sort_order=desc&limit=5&cursor=${first.nextCursor}`,
      ),
      200,
    );
    expect(second.rules.map((r) => r.ruleId)).toEqual(expected.slice(5, 10).map((r) => r.ruleId));
  });
});

describe("filters", () => {
  it.each(["DRAFT", "ACTIVE", "INACTIVE"])("status=%s", async (status) => {
    await expectWalk({ status }, (r) => r.status === status, { limit: 13 });
  });

  it.each(ACTIONS)("action=%s", async (action) => {
    await expectWalk({ action }, (r) => r.action === action, { limit: 20, sortBy: "name", order: "asc" });
  });

  it.each([
    ["alpha", 7],
    ["OXTRO", 11],
    ["a0", 10],
    ["07", 3],
    ["Golf2", 3],
  ] as const)("name=%s (partial, case-insensitive; limit %i)", async (name, limit) => {
    await expectWalk({ name }, (r) => r.name.toLowerCase().includes(name.toLowerCase()), { limit });
  });

  it("name=golf244 with limit=1: a single-rule walk", async () => {
    const got = await expectWalk({ name: "golf244" }, (r) => r.name === "Golf244", { limit: 1 });
    expect(got).toHaveLength(1);
  });

  it("LIKE wildcards in the name filter are literal", async () => {
    for (const name of ["%", "_", "A%o", "Alph_"]) {
      expect(await walk({ name }, 100)).toEqual([]);
    }
  });

  const scopeCases: [string, string, Scope][] = [
    ["account_id", ACCOUNTS[0]!, { accountId: ACCOUNTS[0]! }],
    ["account_id", ACCOUNTS[1]!.toUpperCase(), { accountId: ACCOUNTS[1]! }],
    ["account_id", randomUUID(), {}],
    ["segment_id", SEGMENTS[0]!, { segmentId: SEGMENTS[0]! }],
    ["segment_id", SEGMENTS[1]!.toUpperCase(), { segmentId: SEGMENTS[1]! }],
    ["portfolio_id", PORTFOLIOS[1]!, { portfolioId: PORTFOLIOS[1]! }],
    ["merchant_id", MERCHANTS[0]!, { merchantId: MERCHANTS[0]! }],
    ["merchant_id", MERCHANTS[1]!.toUpperCase(), { merchantId: MERCHANTS[1]! }],
    ["transaction_type", "CARD", { transactionType: "CARD" }],
    ["transaction_type", "PIX", { transactionType: "PIX" }],
    ["sub_type", "CONTACTLESS", { subType: "contactless" }],
    ["sub_type", " recurring ", { subType: "recurring" }],
    ["sub_type", "unknown-sub-type", { subType: "unknown-sub-type" }],
  ];
  it.each(scopeCases)("%s=%s (global rules and non-contradicting scopes)", async (param, value, filter) => {
    const key = Object.keys(filter)[0] as keyof Scope | undefined;
    // An id no rule names: the expected value is the random one sent.
    const effective: Scope = key ? filter : { accountId: value };
    const got = await expectWalk({ [param]: value }, (r) => scopeApplies(r, effective), { limit: 15 });
    // The filter really filters: some live rules are excluded, and global rules are included.
    expect(got.length).toBeLessThan(live.size);
    expect(got.some((r) => r.scopes.length === 0)).toBe(true);
  });

  it("combined filters are AND-ed, and the scope fields must agree within one scope", async () => {
    const filter: Scope = { accountId: ACCOUNTS[1]!, transactionType: "CARD" };
    await expectWalk(
      { status: "ACTIVE", account_id: ACCOUNTS[1]!, transaction_type: "CARD" },
      (r) => r.status === "ACTIVE" && scopeApplies(r, filter),
      { limit: 4 },
    );
    // A rule scoped (account a, CARD) OR (account b, PIX) is out for account a + PIX: each of its
    // scopes agrees with one filter field and contradicts the other.
    const split = [...live.values()].find(
      (r) => r.scopes.length === 2 && r.scopes[1]?.transactionType === "PIX",
    );
    expect(split).toBeDefined();
    const accountA = split!.scopes[0]!.accountId!;
    const got = await expectWalk(
      { account_id: accountA, transaction_type: "PIX" },
      (r) => scopeApplies(r, { accountId: accountA, transactionType: "PIX" }),
      { limit: 6, sortBy: "name", order: "desc" },
    );
    expect(got.some((r) => r.ruleId === split!.ruleId)).toBe(false);
    // ...while each field alone lets it in.
    const byAccount = await walk({ account_id: accountA }, 100);
    expect(byAccount.some((r) => r.ruleId === split!.ruleId)).toBe(true);
    const byType = await walk({ transaction_type: "PIX" }, 100);
    expect(byType.some((r) => r.ruleId === split!.ruleId)).toBe(true);

    const filter2: Scope = { segmentId: SEGMENTS[0]!, subType: "recurring", merchantId: MERCHANTS[0]! };
    await expectWalk(
      { segment_id: SEGMENTS[0]!, sub_type: "Recurring", merchant_id: MERCHANTS[0]!, action: "DENY" },
      (r) => r.action === "DENY" && scopeApplies(r, filter2),
      { limit: 6, sortBy: "created_at", order: "desc" },
    );
  });

  it("a filter that matches nothing returns one empty page", async () => {
    const page = await readJson<Page>(await t.request("GET", "/v1/rules?name=no-such-rule-name"), 200);
    expect(page).toEqual({ rules: [], hasMore: false, nextCursor: null });
  });
});

describe("bad list queries → 400 naming the parameter", () => {
  async function expect400(query: string, path: string) {
    const res = await t.request("GET", `/v1/rules?${query}`);
    const body = await readJson<{ code: string; errors?: { path: string }[] }>(res, 400);
    expect(body.code).toBe("VALIDATION_ERROR");
    expect(body.errors?.map((e) => e.path)).toContain(path);
  }

  it("limit out of 1..100 or not an integer", async () => {
    for (const limit of ["0", "101", "-1", "1.5", "abc", ""])
      await expect400(`limit=${limit}`, "query.limit");
  });

  it("bad cursors", async () => {
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    for (const cursor of [
      "abc",
      "%%%",
      b64({ by: "status", o: "asc", v: "x", id: "y" }),
      b64({ by: "name", o: "sideways", v: "x", id: "y" }),
      b64({ by: "name", o: "asc", v: 1, id: "y" }),
      b64(["name", "asc"]),
      b64("x".repeat(2000)),
      // Well-formed JSON a server never issues: unknown or inherited sort keys, a non-UUID id, a
      // date that is not a date, text PostgreSQL cannot store. Each must be a 400, not a 500.
      b64({ by: "toString", o: "asc", v: "x", id: randomUUID() }),
      b64({ by: "__proto__", o: "asc", v: "x", id: randomUUID() }),
      b64({ by: "name", o: "asc", v: "Alpha000", id: "not-a-uuid" }),
      b64({ by: "created_at", o: "desc", v: "2026-01-01T00:00:00.000Z", id: "x" }),
      b64({ by: "created_at", o: "desc", v: "not-a-date", id: randomUUID() }),
      b64({ by: "updated_at", o: "asc", v: "", id: randomUUID() }),
      b64({ by: "name", o: "asc", v: "a\u0000b", id: randomUUID() }),
    ]) {
      await expect400(`cursor=${encodeURIComponent(cursor)}`, "query.cursor");
    }
  });

  it("status=DELETED and unknown values", async () => {
    await expect400("status=DELETED", "query.status");
    await expect400("status=active", "query.status");
    await expect400("action=BLOCK", "query.action");
    await expect400("sort_by=status", "query.sort_by");
    await expect400("sort_order=up", "query.sort_order");
    await expect400("transaction_type=ATM", "query.transaction_type");
    await expect400("account_id=not-a-uuid", "query.account_id");
    await expect400("segment_id=1", "query.segment_id");
    await expect400("portfolio_id=1", "query.portfolio_id");
    await expect400("merchant_id=1", "query.merchant_id");
    await expect400("include_deleted=true", "query.include_deleted");
  });
});
