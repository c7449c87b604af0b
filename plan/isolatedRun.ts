/**
 * Run the program under the mock runtime in a child process, so that each run
 * starts from a fresh runtime (Pulumi's runtime settings are module globals).
 */
import { spawn } from "node:child_process";
import * as path from "node:path";
import type { RegisteredResource } from "./mockRuntime";
import type { ProgramRun } from "./plan";

const CHILD_ENTRY = path.join(__dirname, "mockRunMain.ts");

export function recordProgramIsolated(rawConfig: Record<string, unknown>, run: ProgramRun = {}): Promise<RegisteredResource[]> {
    return runIsolated(CHILD_ENTRY, { rawConfig, run }) as Promise<RegisteredResource[]>;
}

/** Run a child entry (a TypeScript file) that reads `payload` as JSON on stdin and writes its result as JSON on stdout. */
export function runIsolated(entry: string, payload: unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ["--require", require.resolve("tsx/cjs"), entry], {
            stdio: ["pipe", "pipe", "pipe"],
            // Keep the engine's variables out: the child must use the mocks.
            env: { ...process.env, PULUMI_MONITOR: "", PULUMI_ENGINE: "", PULUMI_CONFIG: "" },
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
