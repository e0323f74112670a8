/**
 * HTTP load benchmark of POST /v1/validations against the built server on PostgreSQL: one
 * tenant, 50 active rules, 5 active limits (1-3 scopes each, as typical limits have; a limit's
 * `scope` description in every response and audit event grows with its scope count), every
 * validation audited. Fixed offered rates and saturation, then the same for a bare Hono endpoint
 * that only parses the body (the ceiling). Prints the server's CPU time per request too.
 *
 *   npm run bench -- http-load          (BENCH_DATABASE_URL, BENCH_SECONDS to override)
 *   BENCH_PROFILE_DIR=/tmp/prof npm run bench -- http-load   (V8 CPU profile of the server)
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import autocannon from "autocannon";
import { createScratchDatabase } from "../test/harness.js";
import { freePort } from "../test/server-process.js";
import { machine, percentile, spawnNode, stop, waitFor } from "./lib.js";

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const API_KEY = "bench-api-key-0123456789abcdef";
const RATES = [500, 1000, 2000];

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
}

async function load(target: string, url: string, rate: number | undefined): Promise<Row> {
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
  return {
    target,
    offered: rate ? `${rate}/s` : "saturation",
    throughput: Math.round(result.requests.total / result.duration),
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    p999: percentile(latencies, 99.9),
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

let serverCpuPerRequestUs = Number.NaN;

/** User + system CPU seconds of a process so far (Linux /proc). */
function processCpuSeconds(pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function main(): Promise<void> {
  const scratch = await createScratchDatabase(ADMIN_URL);
  const port = await freePort();
  const profile = process.env.BENCH_PROFILE_DIR;
  const server = spawnNode(
    [...(profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`] : []), "dist/main.js"],
    {
      DATABASE_URL: scratch.url,
      API_KEY,
      PORT: String(port),
      HOST: "127.0.0.1",
      LOG_LEVEL: "warn",
      NODE_ENV: "production",
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
    await load("verdict", base, undefined); // warm-up: JIT, pools, catalog cache
    for (const rate of RATES) rows.push(await load("verdict", base, rate));
    const cpuBefore = processCpuSeconds(server.pid);
    const saturated = await load("verdict", base, undefined);
    const cpuSeconds = processCpuSeconds(server.pid) - cpuBefore;
    rows.push(saturated);
    serverCpuPerRequestUs = (cpuSeconds * 1e6) / (saturated.throughput * SECONDS);
    const bareBase = `http://127.0.0.1:${barePort}`;
    await new Promise((r) => setTimeout(r, 500));
    await load("bare hono", bareBase, undefined);
    for (const rate of RATES) rows.push(await load("bare hono", bareBase, rate));
    rows.push(await load("bare hono", bareBase, undefined));
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
    "| target | offered | achieved req/s | p50 ms | p95 ms | p99 ms | p99.9 ms | non-2xx | errors |\n",
  );
  process.stdout.write("|---|---|---|---|---|---|---|---|---|\n");
  for (const r of rows) {
    process.stdout.write(
      `| ${r.target} | ${r.offered} | ${r.throughput} | ${fmt(r.p50)} | ${fmt(r.p95)} | ${fmt(r.p99)} | ${fmt(r.p999)} | ${r.non2xx} | ${r.errors} |\n`,
    );
  }
  const sat = rows.find((r) => r.target === "verdict" && r.offered === "saturation");
  const bareSat = rows.find((r) => r.target === "bare hono" && r.offered === "saturation");
  process.stdout.write(`\nserver CPU per validation at saturation: ${serverCpuPerRequestUs.toFixed(0)} µs\n`);
  if (sat && bareSat) {
    process.stdout.write(
      `\nsaturation: verdict ${sat.throughput}/s = ${Math.round((100 * sat.throughput) / bareSat.throughput)} % of the bare endpoint\n`,
    );
  }
}

await main();
