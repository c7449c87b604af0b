/**
 * `npm run demo`: the main job on the embedded default. Starts the sandbox,
 * and in a copy of the example user project examples/kubernetes (its own
 * Pulumi.yaml, index.ts and Pulumi.sandbox.yaml) deploys versions 1, 2 and 3
 * with `mlops deploy`, rolls back with `mlops rollback`, and after each step
 * prints what serves as kubectl sees it (which Deployment's pods the
 * Service's EndpointSlices point at), the example's own ConfigMap, and how
 * long the step took. The engine runs the project's program through the
 * sandbox's stand-in Node.js language host (sandbox/plugins).
 *
 * The copy lives under .sandbox/<name>, so the repository's files are never
 * changed; it resolves mlops-rollback and @pulumi/* from the repository's
 * node_modules (npm workspaces), as an installed project would from its own.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync } from "node:fs";
import * as path from "node:path";
import type { PulumiFn, Stack } from "@pulumi/pulumi/automation";
import { kubectl, PROJECT_DIR, SANDBOX_DIR, sandboxDown, sandboxUp, type SandboxState } from "./sandbox";

const MLOPS = path.join(PROJECT_DIR, "bin", "mlops.js");
export const STACK = "sandbox";
/** The example user project the demo and the real-engine tests run. */
export const EXAMPLE_PROJECT = path.join(PROJECT_DIR, "examples", "kubernetes");
/** Its project name (Pulumi.yaml), which names its stacks in the backend. */
export const EXAMPLE_PROJECT_NAME = "acme-fraud-k8s";
const EXAMPLE_FILES = ["Pulumi.yaml", "package.json", "tsconfig.json", "index.ts", `Pulumi.${STACK}.yaml`];

/** A scratch copy of the example project, initialised as a stack on the sandbox's file backend. */
export function scratchProject(state: SandboxState, name = "project"): string {
    const dir = path.join(SANDBOX_DIR, name);
    mkdirSync(dir, { recursive: true });
    for (const file of EXAMPLE_FILES) copyFileSync(path.join(EXAMPLE_PROJECT, file), path.join(dir, file));
    execFileSync(path.join(state.bin, "pulumi"), ["stack", "init", STACK, "--secrets-provider", "passphrase", "--non-interactive"], {
        cwd: dir,
        env: { ...process.env, ...state.env },
        stdio: ["ignore", "ignore", "inherit"],
    });
    return dir;
}

/** The scratch project's stack file. */
export function stackFileOf(projectDir: string): string {
    return path.join(projectDir, `Pulumi.${STACK}.yaml`);
}

export interface MlopsRun {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
    readonly seconds: number;
}

export const MLOPS_BIN = MLOPS;

export function runMlops(state: SandboxState, projectDir: string, args: string[], env: Record<string, string> = {}): MlopsRun {
    const started = Date.now();
    const run = spawnSync(process.execPath, [MLOPS, ...args], {
        cwd: projectDir,
        env: { ...process.env, ...state.env, ...env },
        encoding: "utf8",
        timeout: 15 * 60_000,
    });
    return { code: run.status ?? -1, stdout: run.stdout, stderr: run.stderr, seconds: (Date.now() - started) / 1000 };
}

/** The backend's record of the stack's updates, newest first (`pulumi stack history`). */
export function backendHistory(state: SandboxState, projectDir: string): { message: string; result: string; resourceChanges?: Record<string, number> }[] {
    const json = execFileSync(path.join(state.bin, "pulumi"), ["stack", "history", "--stack", STACK, "--json"], {
        cwd: projectDir,
        env: { ...process.env, ...state.env },
        encoding: "utf8",
    });
    return JSON.parse(json) as { message: string; result: string; resourceChanges?: Record<string, number> }[];
}

/**
 * The sandbox stack as a plain `pulumi up` runs it: the Automation API's
 * local workspace on the project, whose program the engine runs through the
 * project's language host, with the sandbox's pulumi, backend and cluster.
 */
export async function withSandboxStack<T>(state: SandboxState, projectDir: string, use: (stack: Stack) => Promise<T>): Promise<T> {
    const { LocalWorkspace } = await import("@pulumi/pulumi/automation");
    // selectStack, not createOrSelect: a test that lost its stack must fail, not start a new one.
    return withSandboxEnv(state, async () => use(await LocalWorkspace.selectStack({ stackName: STACK, workDir: projectDir })));
}

/** Any inline program as a stack on the sandbox's backend and cluster, created on first use. */
export async function withInlineStack<T>(
    state: SandboxState,
    stackArgs: { readonly projectDir: string; readonly projectName: string; readonly stackName: string; readonly program: PulumiFn },
    use: (stack: Stack) => Promise<T>,
): Promise<T> {
    const { LocalWorkspace } = await import("@pulumi/pulumi/automation");
    return withSandboxEnv(state, async () => use(await LocalWorkspace.createOrSelectStack({ ...stackArgs }, { workDir: stackArgs.projectDir })));
}

/** The Automation API reads pulumi, the backend and the cluster from the environment: the sandbox's, for the duration of `run`. */
async function withSandboxEnv<T>(state: SandboxState, run: () => Promise<T>): Promise<T> {
    const saved = { ...process.env };
    Object.assign(process.env, state.env);
    try {
        return await run();
    } finally {
        process.env = saved;
    }
}

/** The Deployment whose pods the Service's EndpointSlices list, as kubectl reports it (pod names are <deployment>-<hash>-<suffix>). */
export function servingDeployments(state: SandboxState): string[] {
    const pods = kubectl(state, [
        "get",
        "endpointslices",
        "-n",
        "fraud",
        "-l",
        "kubernetes.io/service-name=fraud-detector",
        "-o",
        "jsonpath={..targetRef.name}",
    ])
        .split(/\s+/)
        .filter((name) => name !== "");
    return [...new Set(pods.map((pod) => pod.split("-").slice(0, -2).join("-")))].sort();
}

/** The serving version the example project's own ConfigMap records, as kubectl reads it ("" when it is missing). */
export function releaseNoteVersion(state: SandboxState): string {
    try {
        return kubectl(state, [
            "get",
            "configmap",
            "fraud-detector-release",
            "-n",
            "fraud",
            "-o",
            "jsonpath={.metadata.annotations.acme\\.example\\.com/serving-version}",
        ]);
    } catch {
        return "";
    }
}

async function main(): Promise<void> {
    const keep = process.argv.includes("--keep");
    const state = await sandboxUp();
    try {
        const project = scratchProject(state);
        const steps: [string, string[]][] = [
            ["deploy version 1", ["deploy", "--stack", STACK, "--version", "1", "--yes"]],
            ["deploy version 2", ["deploy", "--stack", STACK, "--version", "2", "--yes"]],
            ["deploy version 3", ["deploy", "--stack", STACK, "--version", "3", "--yes"]],
            ["rollback", ["rollback", "--stack", STACK, "--reason", "demo: p99 latency regression in 3", "--yes"]],
        ];
        const timings: string[] = [];
        for (const [label, args] of steps) {
            process.stdout.write(`\n== mlops ${args.join(" ")}\n`);
            const run = runMlops(state, project, args);
            process.stdout.write(run.stderr + run.stdout);
            if (run.code !== 0) throw new Error(`${label} exited ${run.code}`);
            const serving = servingDeployments(state);
            process.stdout.write(`kubectl: the Service's EndpointSlices point at ${serving.join(", ") || "nothing"}\n`);
            process.stdout.write(`kubectl: the project's own ConfigMap says version ${releaseNoteVersion(state) || "(missing)"}\n`);
            timings.push(`${label.padEnd(18)} ${run.seconds.toFixed(1).padStart(6)}s  serving: ${serving.join(", ")}`);
        }
        process.stdout.write(`\nTimings (wall clock, including the engine):\n${timings.map((line) => `  ${line}`).join("\n")}\n`);
    } finally {
        if (!keep) await sandboxDown();
    }
}

if (require.main === module) {
    main().catch((error: unknown) => {
        process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exitCode = 1;
    });
}
