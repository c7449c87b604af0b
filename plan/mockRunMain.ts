/**
 * Child-process entry of `mlops plan`: reads what to run (JSON on stdin),
 * runs it under the mock runtime, writes the registered resources (JSON) on
 * stdout. One process per run because the runtime is process-global state.
 *
 * Two kinds of run: the user's own program (`program` set: their project,
 * with PULUMI_CONFIG in the environment as the engine sets it), or what the
 * `mlops:*` config alone declares (no project to run).
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import * as pulumi from "@pulumi/pulumi";
import { parseStackConfig } from "../config/schema";
import { installRecordingMocks, PLAN_NAMING, recordProgram } from "./mockRuntime";
import type { ProgramRun } from "./plan";
import { programEntry, type UserProgram } from "./userProgram";

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
    // The program's own output (console, pulumi.log under the mocks) must not mix with the result: it goes to stderr.
    const writeResult = process.stdout.write.bind(process.stdout);
    process.stdout.write = process.stderr.write.bind(process.stderr);
    if (program === undefined) {
        writeResult(JSON.stringify(await recordProgram(parseStackConfig(rawConfig), stack, options, PLAN_NAMING)));
        return;
    }
    if (options.now !== undefined) freezeClock(options.now);
    // As the engine runs it: in its project directory.
    process.chdir(program.dir);
    const registered = await installRecordingMocks(stack, previousOutputs, PLAN_NAMING, program.projectName);
    const outputs = await runProgram(program);
    const names = typeof outputs === "object" && outputs !== null ? Object.keys(outputs) : [];
    // Exported promises (`export const mlops = serving.then(...)`) may still be
    // declaring resources: the engine waits for them, and so does the plan.
    await Promise.all(names.map((name) => (outputs as Record<string, unknown>)[name]).filter(isThenable));
    // Wait for every outstanding registration, including those that waited on other resources' outputs.
    await pulumi.runtime.disconnect();
    writeResult(JSON.stringify(outputNamesOnly === true ? names : registered));
}

/**
 * Load and run the program as Pulumi's Node.js runner does
 * (@pulumi/pulumi/cmd/run/run.js): a CommonJS program is `require`d and its
 * module object is what it exports; an ES module (`"type": "module"`) is
 * imported and its default export, if any, is; an exported function is
 * called. Returns the stack's outputs, awaited.
 */
async function runProgram(program: UserProgram): Promise<unknown> {
    const entry = programEntry(program);
    let exported: unknown;
    if (packageType(program.dir) === "module") {
        // A real import(), which TypeScript's CommonJS output would turn into require() (Pulumi's runner does the same).
        // eslint-disable-next-line @typescript-eslint/no-implied-eval
        const dynamicImport = new Function("specifier", "return import(specifier)") as (specifier: string) => Promise<Record<string, unknown>>;
        const namespace = await dynamicImport(pathToFileURL(moduleFile(entry)).href);
        if (Object.getOwnPropertyDescriptor(namespace, "default") !== undefined) {
            if (Object.keys(namespace).length !== 1)
                throw new Error("expected the program's entry module to have either a default export or named exports, not both");
            exported = namespace.default;
        } else {
            exported = namespace;
        }
    } else {
        // A folder with a trailing slash, so that an adjacent .json file is not taken for it.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        exported = require(isDirectory(entry) ? `${entry}${path.sep}` : entry) as unknown;
    }
    return await (typeof exported === "function" ? (exported as () => unknown)() : exported);
}

function packageType(dir: string): string | undefined {
    const file = path.join(dir, "package.json");
    if (!existsSync(file)) return undefined;
    return (JSON.parse(readFileSync(file, "utf8")) as { type?: string }).type;
}

const isDirectory = (file: string): boolean => existsSync(file) && statSync(file).isDirectory();

/** An ES module program's file: a folder's package.json main, or its index. */
function moduleFile(entry: string): string {
    if (!isDirectory(entry)) return entry;
    const manifest = path.join(entry, "package.json");
    const main = existsSync(manifest) ? (JSON.parse(readFileSync(manifest, "utf8")) as { main?: string }).main : undefined;
    if (main !== undefined) return path.join(entry, main);
    const index = ["index.js", "index.mjs", "index.ts", "index.mts"].find((name) => existsSync(path.join(entry, name)));
    if (index === undefined) throw new Error(`no entry point found in ${entry}`);
    return path.join(entry, index);
}

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
    typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";

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
