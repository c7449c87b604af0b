/**
 * Run the program under the mock runtime in a child process, so that each run
 * starts from a fresh runtime (Pulumi's runtime settings are module globals).
 */
import { spawn } from "node:child_process";
import * as path from "node:path";
import type { RegisteredResource } from "./mockRuntime";
import type { ProgramRun } from "./plan";
import { engineConfigFor, type UserProgram } from "./userProgram";

// mockRunMain.js in the compiled package, mockRunMain.ts when run from source.
const CHILD_ENTRY = path.join(__dirname, `mockRunMain${path.extname(__filename)}`);

export function recordProgramIsolated(rawConfig: Record<string, unknown>, run: ProgramRun = {}): Promise<RegisteredResource[]> {
    const { program, previousOutputs, ...options } = run;
    // The user's program reads its config where the engine puts it.
    const config: Record<string, string> = program === undefined ? {} : { PULUMI_CONFIG: JSON.stringify(engineConfigFor(program, rawConfig)) };
    return runIsolated(CHILD_ENTRY, { rawConfig, run: options, program, previousOutputs }, config) as Promise<RegisteredResource[]>;
}

/**
 * The names of the stack outputs the user's program returns, from one run
 * under the mock runtime for `rawConfig`: how `mlops deploy` learns, before a
 * stack's first update, whether the program exports `mlops`.
 */
export function programOutputNames(program: UserProgram, rawConfig: Record<string, unknown>, stack: string): Promise<string[]> {
    const config = { PULUMI_CONFIG: JSON.stringify(engineConfigFor(program, rawConfig)) };
    return runIsolated(CHILD_ENTRY, { rawConfig, run: { stack }, program, outputNamesOnly: true }, config) as Promise<string[]>;
}

/**
 * Run a child entry that reads `payload` as JSON on stdin and writes its
 * result as JSON on stdout. tsx is loaded so that the child can load
 * TypeScript: a user's program, and ours when run from source.
 */
export function runIsolated(entry: string, payload: unknown, env: Record<string, string> = {}): Promise<unknown> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ["--require", require.resolve("tsx/cjs"), entry], {
            stdio: ["pipe", "pipe", "pipe"],
            // Keep the engine's variables out: the child must use the mocks.
            env: { ...process.env, PULUMI_MONITOR: "", PULUMI_ENGINE: "", PULUMI_CONFIG: "", PULUMI_CONFIG_SECRET_KEYS: "", ...env },
        });
        const stdout: Buffer[] = [];
        const stderr: Buffer[] = [];
        child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
        child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
        child.on("error", reject);
        child.on("close", (code) => {
            if (code !== 0) {
                reject(new Error(`the program failed under the mock runtime: ${Buffer.concat(stderr).toString("utf8").trim() || `exit ${code}`}`));
                return;
            }
            resolve(JSON.parse(Buffer.concat(stdout).toString("utf8")));
        });
        child.stdin.end(JSON.stringify(payload));
    });
}
