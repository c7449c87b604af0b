/**
 * Child-process entry of `mlops plan`: reads what to run (JSON on stdin),
 * runs it under the mock runtime, writes the registered resources (JSON) on
 * stdout. One process per run because the runtime is process-global state.
 *
 * Two kinds of run: the user's own program (`program` set: their project,
 * with PULUMI_CONFIG in the environment as the engine sets it), or what the
 * `mlops:*` config alone declares (no project to run).
 */
import { parseStackConfig } from "../config/schema";
import { installRecordingMocks, recordProgram } from "./mockRuntime";
import type { ProgramRun } from "./plan";
import { programEntry, type UserProgram } from "./userProgram";
import * as pulumi from "@pulumi/pulumi";

interface ChildInput {
    readonly rawConfig: unknown;
    readonly run: ProgramRun;
    readonly program?: UserProgram;
    /** The stack's outputs as the program's self StackReference reads them. */
    readonly previousOutputs?: Record<string, unknown>;
    /** Write the names of the stack outputs the program returns instead of what it registered. */
    readonly outputNamesOnly?: boolean;
}

async function main(): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    const { rawConfig, run, program, previousOutputs, outputNamesOnly } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as ChildInput;
    const { stack = "plan", ...options } = run;
    if (program === undefined) {
        process.stdout.write(JSON.stringify(await recordProgram(parseStackConfig(rawConfig), stack, options)));
        return;
    }
    if (options.now !== undefined) freezeClock(options.now);
    // As the engine runs it: in its project directory.
    process.chdir(program.dir);
    const registered = await installRecordingMocks(stack, previousOutputs, {}, program.projectName);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const loaded = require(programEntry(program)) as unknown;
    const exported = (loaded as { default?: unknown; __esModule?: boolean }).__esModule === true ? (loaded as { default?: unknown }).default : loaded;
    // A function's result is the stack's outputs, as with the real engine; otherwise the module's exports are.
    const outputs = typeof exported === "function" ? await (exported as () => unknown)() : exported;
    // Wait for every outstanding registration, including those that waited on other resources' outputs.
    await pulumi.runtime.disconnect();
    if (outputNamesOnly === true) {
        process.stdout.write(JSON.stringify(typeof outputs === "object" && outputs !== null ? Object.keys(outputs) : []));
        return;
    }
    process.stdout.write(JSON.stringify(registered));
}

/**
 * Both runs of a plan see one time (the plan's), so that nothing differs by
 * the clock alone (a created database's final snapshot is named by it).
 * This Date stands for the system clock in this throwaway process only.
 */
function freezeClock(iso: string): void {
    const fixed = Date.parse(iso);
    const RealDate = Date;
    class FrozenDate extends RealDate {
        constructor(...args: unknown[]) {
            if (args.length === 0) super(fixed);
            else super(...(args as [string]));
        }
        static override now(): number {
            return fixed;
        }
    }
    globalThis.Date = FrozenDate as DateConstructor;
}

main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
});
