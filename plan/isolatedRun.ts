/**
 * Run the program under the mock runtime in a child process, so that each run
 * starts from a fresh runtime (Pulumi's runtime settings are module globals).
 */
import { spawn } from "node:child_process";
import { pathToFileURL } from "node:url";
import * as path from "node:path";
import type { RegisteredResource } from "./mockRuntime";
import { ROLLBACK_EVENT_ENV } from "../rollback/ledger";
import type { ProgramRun } from "./plan";
import { engineConfigFor, type UserProgram } from "./userProgram";

// mockRunMain.js in the compiled package, mockRunMain.ts when run from source.
const CHILD_ENTRY = path.join(__dirname, `mockRunMain${path.extname(__filename)}`);

export function recordProgramIsolated(rawConfig: Record<string, unknown>, run: ProgramRun = {}): Promise<RegisteredResource[]> {
    const { program, previousOutputs, ...options } = run;
    const env = program === undefined ? {} : configEnvironment(program, rawConfig);
    return runIsolated(CHILD_ENTRY, { rawConfig, run: options, program, previousOutputs }, env) as Promise<RegisteredResource[]>;
}

/**
 * The names of the stack outputs the user's program returns, from one run
 * under the mock runtime for `rawConfig`: how `mlops deploy` learns, before a
 * stack's first update, whether the program exports `mlops`.
 */
export function programOutputNames(program: UserProgram, rawConfig: Record<string, unknown>, stack: string): Promise<string[]> {
    return runIsolated(CHILD_ENTRY, { rawConfig, run: { stack }, program, outputNamesOnly: true }, configEnvironment(program, rawConfig)) as Promise<string[]>;
}

/** The user's program reads its config where the engine puts it: PULUMI_CONFIG. */
function configEnvironment(program: UserProgram, rawConfig: Record<string, unknown>): Record<string, string> {
    return { PULUMI_CONFIG: JSON.stringify(engineConfigFor(program, rawConfig)) };
}

/**
 * Run a child entry that reads `payload` as JSON on stdin and writes its
 * result as JSON on stdout. tsx is loaded so that the child can load
 * TypeScript: a user's program, and ours when run from source.
 */
export function runIsolated(entry: string, payload: unknown, env: Record<string, string> = {}): Promise<unknown> {
    return new Promise((resolve, reject) => {
        // tsx's loader for both require() and import(): a user's program may be either.
        const child = spawn(process.execPath, ["--import", pathToFileURL(require.resolve("tsx")).href, entry], {
            stdio: ["pipe", "pipe", "pipe"],
            // Keep the engine's variables out (the child must use the mocks), and
            // any rollback event of the caller's environment (a plan runs none).
            env: { ...process.env, PULUMI_MONITOR: "", PULUMI_ENGINE: "", PULUMI_CONFIG: "", PULUMI_CONFIG_SECRET_KEYS: "", [ROLLBACK_EVENT_ENV]: "", ...env },
        });
        const stdout: Buffer[] = [];
        const stderr: Buffer[] = [];
        child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
        child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
        child.on("error", reject);
        child.on("close", (code) => {
            const failure = (detail: string) => new Error(`the program failed under the mock runtime: ${detail}`);
            if (code !== 0) {
                reject(failure(Buffer.concat(stderr).toString("utf8").trim() || `exit ${code}`));
                return;
            }
            try {
                resolve(JSON.parse(Buffer.concat(stdout).toString("utf8")));
            } catch (error) {
                reject(failure(`its result was not JSON (${error instanceof Error ? error.message : String(error)})`));
            }
        });
        child.stdin.end(JSON.stringify(payload));
    });
}
