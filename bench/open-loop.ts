/**
 * Open-loop load at a fixed offered rate: request i is due at start + i/rate whatever happened to
 * the requests before it, and its latency runs from when it was due (not from when a free
 * connection let it go), so a slow server cannot slow the arrivals down and hide its own queue
 * (coordinated omission).
 *
 * autocannon's `overallRate` is not that: each connection sends its per-second quota back to back
 * as fast as responses come, then waits for the next second, so every second starts with a burst
 * of `connections` concurrent requests and latency measures that burst (concurrency/throughput)
 * rather than the rate. The saturation rows still use autocannon (closed loop is what saturation
 * means).
 */
import { Agent, request } from "node:http";

export interface OpenLoopOptions {
  url: string;
  rate: number;
  seconds: number;
  headers: Record<string, string>;
  body: () => string;
  /** Sockets the client may open; arrivals beyond them queue in the agent (and that wait counts). */
  maxSockets?: number;
}

export interface OpenLoopResult {
  /** Completed requests per second over the whole run, until the last response. */
  throughput: number;
  /** Milliseconds from each request's due time to its response's end, sorted ascending. */
  latencies: number[];
  non2xx: number;
  errors: number;
  /** Worst lateness of the generator itself: how long after its due time a request was sent. */
  maxSendLagMs: number;
}

export async function openLoop(opts: OpenLoopOptions): Promise<OpenLoopResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 512 });
  const target = new URL(opts.url);
  const total = Math.round(opts.rate * opts.seconds);
  const interval = 1000 / opts.rate;
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  let sent = 0;
  let done = 0;
  let maxSendLagMs = 0;
  const start = performance.now();

  return new Promise<OpenLoopResult>((resolve) => {
    const finish = () => {
      const elapsed = (performance.now() - start) / 1000;
      agent.destroy();
      latencies.sort((a, b) => a - b);
      resolve({ throughput: done / elapsed, latencies, non2xx, errors, maxSendLagMs });
    };
    const settle = (due: number, ok: boolean, status: number) => {
      done++;
      if (!ok) errors++;
      else {
        latencies.push(performance.now() - due);
        if (status < 200 || status > 299) non2xx++;
      }
      if (done === total) finish();
    };
    const fire = (due: number) => {
      const body = opts.body();
      const req = request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: "POST",
          headers: { ...opts.headers, "content-length": Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on("end", () => settle(due, true, res.statusCode ?? 0));
          res.on("error", () => settle(due, false, 0));
        },
      );
      req.on("error", () => settle(due, false, 0));
      req.end(body);
    };
    // Timers fire at best every millisecond: each tick sends everything that has come due.
    const tick = () => {
      const now = performance.now();
      while (sent < total) {
        const due = start + sent * interval;
        if (due > now) break;
        maxSendLagMs = Math.max(maxSendLagMs, now - due);
        sent++;
        fire(due);
      }
      if (sent < total) setTimeout(tick, Math.max(0, start + sent * interval - performance.now()));
    };
    tick();
  });
}
