import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";

/**
 * Runs every bench/*.bench.ts (or those named: `npm run bench -- http-load audit-verify`) one
 * after the other, each in its own process so one cannot warm or disturb another.
 */
const wanted = process.argv.slice(2);
const all = readdirSync(new URL(".", import.meta.url))
  .filter((f) => f.endsWith(".bench.ts"))
  .sort();
const selected = wanted.length > 0 ? all.filter((f) => wanted.some((w) => f.startsWith(w))) : all;
let failed = 0;
for (const file of selected) {
  process.stdout.write(`\n## ${file}\n\n`);
  const result = spawnSync(process.execPath, ["--import", "tsx", `bench/${file}`], { stdio: "inherit" });
  if (result.status !== 0) failed++;
}
process.exit(failed > 0 ? 1 : 0);
