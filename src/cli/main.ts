import { processEnvironment } from "../config.js";
import { auditVerifyCommand } from "./audit-verify.js";
import { tenantsProvisionCommand } from "./tenants-provision.js";

const USAGE = "usage: verdict audit verify <file.ndjson>\n       verdict tenants provision <tenantId>";

/** Entry point of the `verdict` CLI (bin/verdict.js). */
async function main(argv: string[]): Promise<number> {
  const io = {
    stdout: (s: string) => process.stdout.write(`${s}\n`),
    stderr: (s: string) => process.stderr.write(`${s}\n`),
  };
  const [group, command, ...rest] = argv;
  if (group === "audit" && command === "verify" && rest.length === 1 && rest[0]) {
    return auditVerifyCommand(rest[0], io);
  }
  if (group === "tenants" && command === "provision" && rest.length === 1 && rest[0]) {
    // The same environment as the server: loadConfig is the only reader of it.
    return tenantsProvisionCommand(rest[0], processEnvironment(), io);
  }
  io.stderr(USAGE);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`verdict: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  },
);
