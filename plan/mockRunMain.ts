/**
 * Child-process entry of `mlops plan`: reads a raw stack config and what the
 * run is told besides (JSON, `{ rawConfig, run }`) on stdin, runs the program under the mock runtime, writes the registered
 * resources (JSON) on stdout. One process per run because the runtime is
 * process-global state.
 */
import { parseStackConfig } from "../config/schema";
import { recordProgram } from "./mockRuntime";
import type { ProgramRun } from "./plan";

async function main(): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    const { rawConfig, run } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { rawConfig: unknown; run: ProgramRun };
    const { stack = "plan", ...options } = run;
    const registered = await recordProgram(parseStackConfig(rawConfig), stack, options);
    process.stdout.write(JSON.stringify(registered));
}

main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
});
