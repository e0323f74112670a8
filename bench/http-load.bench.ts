/**
 * HTTP load benchmark of POST /v1/validations against the built server on PostgreSQL: one
 * tenant, 50 active rules, 5 active limits (1-3 scopes each, as typical limits have; a limit's
 * `scope` description in every response and audit event grows with its scope count), every
 * validation audited. Fixed offered rates (open loop, see open-loop.ts) and saturation (autocannon,
 * closed loop), then the same for a bare Hono endpoint
 * that only parses the body (the ceiling). Prints the server's CPU time per request too.
 *
 *   npm run bench -- http-load          (BENCH_DATABASE_URL, BENCH_SECONDS to override)
 *   BENCH_PROFILE_DIR=/tmp/prof npm run bench -- http-load   (V8 CPU profile of the server)
 *   BENCH_MAX_PENDING_VALIDATIONS=256 npm run bench -- http-load   (the server's admission bound)
 */
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import autocannon from "autocannon";
import { createScratchDatabase } from "../test/harness.js";
import { freePort } from "../test/server-process.js";
import { machine, percentile, spawnNode, stop, waitFor } from "./lib.js";
import { openLoop } from "./open-loop.js";

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const API_KEY = "bench-api-key-0123456789abcdef";
const RATES = (process.env.BENCH_RATES ?? "500,1000,2000").split(",").map(Number);
/** Also run autocannon's bursty `overallRate` at each rate (BENCH_AUTOCANNON_RATES=1), for comparison. */
const AUTOCANNON_RATES = process.env.BENCH_AUTOCANNON_RATES === "1";

const accounts = Array.from({ length: 1000 }, () => randomUUID());
const segments = Array.from({ length: 10 }, () => randomUUID());
const merchants = Array.from({ length: 100 }, () => randomUUID());
const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

function validationBody(): string {
  return JSON.stringify({
    requestId: randomUUID(),
    transactionType: "CARD",
    subType: "debit",
    amount: (1 + Math.random() * 499).toFixed(2),
    currency: "BRL",
    transactionTimestamp: new Date().toISOString(),
    account: { accountId: pick(accounts), type: "checking", status: "active" },
    segment: { segmentId: pick(segments), name: "retail" },
    merchant: { merchantId: pick(merchants), name: "Store", category: "5411", country: "BR" },
    metadata: { channel: "MOBILE_APP", deviceId: "device-abc123" },
  });
}

async function api(
  base: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { "content-type": "application/json", "x-api-key": API_KEY },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

async function seed(base: string): Promise<void> {
  const expressions = [
    (i: number) => ({ ">": [{ var: "amount" }, 100_000 + i] }),
    (i: number) => ({
      and: [{ "==": [{ var: "merchant.category" }, "7995"] }, { ">": [{ var: "amount" }, i] }],
    }),
    (i: number) => ({ in: [{ var: "merchant.country" }, ["KP", "IR", `X${i % 10}`]] }),
    (i: number) => ({ "==": [{ var: "metadata.channel" }, `CHANNEL_${i}`] }),
    (i: number) => ({
      or: [{ "==": [{ var: "account.status" }, "suspended"] }, { ">": [{ var: "amount" }, 50_000 + i] }],
    }),
  ];
  const actions = ["DENY", "REVIEW", "ALLOW"];
  for (let i = 0; i < 50; i++) {
    const scopes =
      i % 3 === 0 ? [] : i % 3 === 1 ? [{ transactionType: "CARD" }] : [{ segmentId: pick(segments) }];
    const rule = await api(base, "POST", "/v1/rules", {
      name: `bench rule ${i}`,
      expression: expressions[i % expressions.length]!(i),
      action: actions[i % actions.length],
      scopes,
    });
    await api(base, "POST", `/v1/rules/${rule.ruleId}/activate`);
  }
  const limits = [
    { limitType: "DAILY", maxAmount: "1000000000.00", scopes: [{ transactionType: "CARD" }] },
    {
      limitType: "WEEKLY",
      maxAmount: "1000000000.00",
      scopes: [{ transactionType: "CARD" }],
      timezone: "America/Sao_Paulo",
    },
    {
      limitType: "MONTHLY",
      maxAmount: "1000000000.00",
      scopes: segments.slice(0, 2).map((segmentId) => ({ segmentId })),
    },
    { limitType: "PER_TRANSACTION", maxAmount: "10000.00", scopes: [{ transactionType: "CARD" }] },
    {
      limitType: "DAILY",
      maxAmount: "1000000000.00",
      scopes: merchants.slice(0, 3).map((merchantId) => ({ merchantId })),
    },
  ];
  for (const [i, l] of limits.entries()) {
    const limit = await api(base, "POST", "/v1/limits", { name: `bench limit ${i}`, currency: "BRL", ...l });
    await api(base, "POST", `/v1/limits/${limit.limitId}/activate`);
  }
}

interface Row {
  target: string;
  offered: string;
  throughput: number;
  p50: number;
  p95: number;
  p99: number;
  p999: number;
  non2xx: number;
  errors: number;
  /** Verdict's fixed rates: % of validations the server answered within 10 ms (its own clock). */
  serverWithin10ms?: number;
}

function summarise(
  target: string,
  offered: string,
  throughput: number,
  sorted: number[],
  non2xx: number,
  errors: number,
): Row {
  return {
    target,
    offered,
    throughput: Math.round(throughput),
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    non2xx,
    errors,
  };
}

/**
 * autocannon: closed loop at saturation; with `rate`, its `overallRate` (per-connection quotas
 * sent back to back at the start of each second, see open-loop.ts), kept for comparison.
 */
async function closedLoop(target: string, url: string, rate: number | undefined): Promise<Row> {
  const latencies: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${url}/v1/validations`,
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": API_KEY },
        connections: rate ? Math.max(20, Math.ceil(rate / 20)) : 64,
        duration: SECONDS,
        ...(rate ? { overallRate: rate } : {}),
        requests: [{ setupRequest: (req) => ({ ...req, body: validationBody() }) }],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on("response", (_client, _status, _bytes, ms) => latencies.push(ms));
  });
  latencies.sort((a, b) => a - b);
  const offered = rate ? `${rate}/s (autocannon overallRate)` : "saturation";
  return summarise(
    target,
    offered,
    result.requests.total / result.duration,
    latencies,
    result.non2xx,
    result.errors,
  );
}

/** Cumulative count of validations answered within each bucket (seconds), from /metrics. */
async function serverHistogram(base: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const buckets = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("http_request_duration_seconds_bucket{")) continue;
    if (!line.includes('route="/v1/validations"') || !line.includes('method="POST"')) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    const count = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (le) buckets.set(le, (buckets.get(le) ?? 0) + count);
  }
  return buckets;
}

/** Share of the validations of a step that the server itself answered within 10 ms. */
function serverShareWithin10ms(before: Map<string, number>, after: Map<string, number>): number {
  const delta = (le: string) => (after.get(le) ?? 0) - (before.get(le) ?? 0);
  return delta("+Inf") === 0 ? Number.NaN : (100 * delta("0.01")) / delta("+Inf");
}

/** A fixed offered rate, open loop: arrivals evenly spaced, latency from each one's due time. */
async function fixedRate(target: string, url: string, rate: number): Promise<Row> {
  const result = await openLoop({
    url: `${url}/v1/validations`,
    rate,
    seconds: SECONDS,
    headers: { "content-type": "application/json", "x-api-key": API_KEY },
    body: validationBody,
  });
  if (result.maxSendLagMs > 20) {
    process.stderr.write(
      `${target} ${rate}/s: the generator sent up to ${result.maxSendLagMs.toFixed(1)} ms late\n`,
    );
  }
  return summarise(target, `${rate}/s`, result.throughput, result.latencies, result.non2xx, result.errors);
}

/** CPU microseconds per request at saturation, by process (verdict's validations, then the bare endpoint's). */
const cpuPerRequestUs = {
  server: Number.NaN,
  serverSystem: Number.NaN,
  postgres: Number.NaN,
  generator: Number.NaN,
  bare: Number.NaN,
  bareSystem: Number.NaN,
  bareGenerator: Number.NaN,
};

/** User and system (kernel) CPU seconds of a process so far (Linux /proc). */
function processCpuTimes(pid: number | string | undefined): { user: number; system: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
}

/** User + system CPU seconds of a process so far. */
function processCpuSeconds(pid: number | string | undefined): number {
  const { user, system } = processCpuTimes(pid);
  return user + system;
}

/** CPU seconds of every PostgreSQL process (the backends serve the bench; the rest is noise). */
function postgresCpuSeconds(): number {
  let total = 0;
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "postgres") total += processCpuSeconds(pid);
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

/** This process's CPU seconds: the load generator. */
function selfCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

async function main(): Promise<void> {
  const scratch = await createScratchDatabase(ADMIN_URL);
  const port = await freePort();
  const profile = process.env.BENCH_PROFILE_DIR;
  const server = spawnNode(
    [
      ...(profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`] : []),
      // As `npm start` runs it (see README, "Running in production").
      "--max-semi-space-size=64",
      ...(process.env.BENCH_NODE_FLAGS ?? "").split(" ").filter(Boolean),
      "dist/main.js",
    ],
    {
      DATABASE_URL: scratch.url,
      API_KEY,
      PORT: String(port),
      HOST: "127.0.0.1",
      LOG_LEVEL: "warn",
      NODE_ENV: "production",
      // The product's default unless a run asks for another bound (admission control under overload).
      ...(process.env.BENCH_MAX_PENDING_VALIDATIONS
        ? { MAX_PENDING_VALIDATIONS: process.env.BENCH_MAX_PENDING_VALIDATIONS }
        : {}),
    },
  );
  const barePort = await freePort();
  const bare = spawnNode(["--import", "tsx", "bench/bare-server.ts", String(barePort)], {
    NODE_ENV: "production",
  });
  const rows: Row[] = [];
  try {
    const base = `http://127.0.0.1:${port}`;
    await waitFor(`${base}/health`);
    await seed(base);
    await closedLoop("verdict", base, undefined); // warm-up: JIT, pools, catalog cache
    for (const rate of RATES) {
      const before = await serverHistogram(base);
      const row = await fixedRate("verdict", base, rate);
      row.serverWithin10ms = serverShareWithin10ms(before, await serverHistogram(base));
      rows.push(row);
    }
    const cpuNow = () => [
      processCpuSeconds(server.pid),
      processCpuTimes(server.pid).system,
      postgresCpuSeconds(),
      selfCpuSeconds(),
    ];
    const before = cpuNow();
    const saturated = await closedLoop("verdict", base, undefined);
    const after = cpuNow();
    rows.push(saturated);
    // Per validation decided: a refusal by the admission bound (BENCH_MAX_PENDING_VALIDATIONS) is not one.
    const decided = saturated.throughput * SECONDS - saturated.non2xx;
    const perRequest = (i: number) => ((after[i]! - before[i]!) * 1e6) / decided;
    cpuPerRequestUs.server = perRequest(0);
    cpuPerRequestUs.serverSystem = perRequest(1);
    cpuPerRequestUs.postgres = perRequest(2);
    cpuPerRequestUs.generator = perRequest(3);
    const bareBase = `http://127.0.0.1:${barePort}`;
    await new Promise((r) => setTimeout(r, 500));
    await closedLoop("bare hono", bareBase, undefined);
    for (const rate of RATES) rows.push(await fixedRate("bare hono", bareBase, rate));
    const bareCpuNow = () => [
      processCpuSeconds(bare.pid),
      processCpuTimes(bare.pid).system,
      selfCpuSeconds(),
    ];
    const bareBefore = bareCpuNow();
    const bareSaturated = await closedLoop("bare hono", bareBase, undefined);
    const bareAfter = bareCpuNow();
    rows.push(bareSaturated);
    const barePerRequest = (i: number) =>
      ((bareAfter[i]! - bareBefore[i]!) * 1e6) / (bareSaturated.throughput * SECONDS);
    cpuPerRequestUs.bare = barePerRequest(0);
    cpuPerRequestUs.bareSystem = barePerRequest(1);
    cpuPerRequestUs.bareGenerator = barePerRequest(2);
    if (AUTOCANNON_RATES) {
      for (const rate of RATES) rows.push(await closedLoop("verdict", base, rate));
      for (const rate of RATES) rows.push(await closedLoop("bare hono", bareBase, rate));
    }
    const audit = await api(base, "GET", "/v1/audit-events/verify");
    process.stdout.write(`audit chain after the run: ${JSON.stringify(audit)}\n`);
  } finally {
    await stop(server);
    await stop(bare);
    await scratch.drop();
  }
  const fmt = (n: number) => n.toFixed(2);
  process.stdout.write(`\nmachine: ${machine()}; PostgreSQL on the same machine; ${SECONDS} s per step\n\n`);
  process.stdout.write(
    "| target | offered | achieved req/s | p50 ms | p95 ms | p99 ms | p99.9 ms | non-2xx | errors | server ≤ 10 ms |\n",
  );
  process.stdout.write("|---|---|---|---|---|---|---|---|---|---|\n");
  for (const r of rows) {
    const within = r.serverWithin10ms === undefined ? "" : `${r.serverWithin10ms.toFixed(1)} %`;
    process.stdout.write(
      `| ${r.target} | ${r.offered} | ${r.throughput} | ${fmt(r.p50)} | ${fmt(r.p95)} | ${fmt(r.p99)} | ${fmt(r.p999)} | ${r.non2xx} | ${r.errors} | ${within} |\n`,
    );
  }
  process.stdout.write(
    "\n(latencies: the load generator's clock, from each request's due time; server ≤ 10 ms: the share of validations the server's own histogram, /metrics, answered within 10 ms)\n",
  );
  const sat = rows.find((r) => r.target === "verdict" && r.offered === "saturation");
  const bareSat = rows.find((r) => r.target === "bare hono" && r.offered === "saturation");
  const cpu = cpuPerRequestUs;
  process.stdout.write(
    `\nCPU per validation at saturation: server ${cpu.server.toFixed(0)} µs (of which system ${cpu.serverSystem.toFixed(0)} µs), PostgreSQL ${cpu.postgres.toFixed(0)} µs, load generator ${cpu.generator.toFixed(0)} µs\n`,
  );
  process.stdout.write(
    `CPU per request of the bare endpoint at saturation: server ${cpu.bare.toFixed(0)} µs (of which system ${cpu.bareSystem.toFixed(0)} µs), load generator ${cpu.bareGenerator.toFixed(0)} µs\n`,
  );
  if (sat && bareSat) {
    process.stdout.write(
      `\nsaturation: verdict ${sat.throughput}/s = ${Math.round((100 * sat.throughput) / bareSat.throughput)} % of the bare endpoint\n`,
    );
    process.stdout.write(`${cpuBudget(cpu, bareSat.throughput)}\n`);
  }
}

/**
 * What this machine's cores allow, from the CPU each process spent per request: the ceiling of a
 * perfectly parallel server at today's cost, the ceiling of a server that cost nothing (PostgreSQL
 * and the generator still do), and the most the server may spend per validation for a given share
 * of the bare endpoint. Load generator and PostgreSQL share the cores, as they do in every step.
 */
function cpuBudget(cpu: typeof cpuPerRequestUs, bareThroughput: number): string {
  const cores = availableParallelism();
  const capacityUs = cores * 1e6;
  const total = cpu.server + cpu.postgres + cpu.generator;
  const withoutServer = cpu.postgres + cpu.generator;
  const ratioRate = 0.4 * bareThroughput;
  const serverBudget = capacityUs / ratioRate - withoutServer;
  return [
    `CPU budget on ${cores} cores (${capacityUs.toLocaleString("en")} µs of CPU per second):`,
    `- every core busy at today's cost (${total.toFixed(0)} µs per validation): at most ${Math.floor(capacityUs / total)} validations/s`,
    `- a server that cost nothing (PostgreSQL and generator ${withoutServer.toFixed(0)} µs): at most ${Math.floor(capacityUs / withoutServer)} validations/s`,
    `- 40 % of the bare endpoint (${Math.round(ratioRate)}/s) leaves the server ${serverBudget.toFixed(0)} µs per validation; the bare endpoint itself spends ${cpu.bare.toFixed(0)} µs per request`,
  ].join("\n");
}

await main();
