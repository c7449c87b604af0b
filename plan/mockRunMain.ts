/**
 * Child-process entry of `mlops plan`: reads a raw stack config (JSON) on
 * stdin, runs the program under the mock runtime, writes the registered
 * resources (JSON) on stdout. One process per run because the runtime is
 * process-global state.
 */
import { parseStackConfig } from "../config/schema";
import { recordProgram } from "./mockRuntime";

async function main(): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    const config = parseStackConfig(JSON.parse(Buffer.concat(chunks).toString("utf8")));
    const registered = await recordProgram(config);
    process.stdout.write(JSON.stringify(registered));
}

main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
});
