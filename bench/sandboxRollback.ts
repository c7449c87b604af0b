/**
 * Benchmark 2: rollback time on the sandbox, ours against the baseline, side
 * by side in one run. Version 2's image takes 20 s to become ready (a kwok
 * stage emulating the model load) for both; every other image is ready at
 * once, so restoring version 3 between rounds costs little. A rollback is
 * timed from its start to the moment the Service's EndpointSlices list only
 * ready pods of version 2's image, as kubectl reports them.
 */
import { execFile, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { parseStackConfig } from "../config/schema";
import { rawConfigFromStackFile } from "../config/sources";
import { EXAMPLE_PROJECT, MLOPS_BIN, runMlops, scratchProject, STACK, withInlineStack } from "../sandbox/demo";
import { kubectl, SANDBOX_DIR, sandboxDown, sandboxUp, type SandboxState } from "../sandbox/sandbox";
import { declareNaiveServing } from "./naiveProgram";

export const MODEL_LOAD_SECONDS = 20;
const POLL_MS = 250;
const ROLLBACK_TIMEOUT_MS = 5 * 60_000;

export interface SandboxRollbackResult {
    /** Seconds from the start of each rollback until traffic reached only version 2's ready pods. */
    readonly mlops: number[];
    readonly naive: number[];
    /** Seconds until the command itself returned (the engine also waits for what comes after the switch). */
    readonly mlopsCommand: number[];
    readonly naiveCommand: number[];
}

const execFileAsync = promisify(execFile);

async function kubectlJson<T>(state: SandboxState, args: string[]): Promise<T> {
    const { stdout } = await execFileAsync(path.join(state.bin, "kubectl"), ["--kubeconfig", state.kubeconfig, ...args, "-o", "json"]);
    return JSON.parse(stdout) as T;
}

interface EndpointSliceList {
    items: { endpoints?: { conditions?: { ready?: boolean }; targetRef?: { name?: string } }[] }[];
}
interface PodList {
    items: { metadata: { name: string }; spec: { containers: { image: string }[] } }[];
}

/** Do the Service's EndpointSlices list only ready pods of `image` (and at least one)? */
export async function servesOnly(state: SandboxState, namespace: string, service: string, image: string): Promise<boolean> {
    const slices = await kubectlJson<EndpointSliceList>(state, ["get", "endpointslices", "-n", namespace, "-l", `kubernetes.io/service-name=${service}`]);
    const endpoints = slices.items.flatMap((slice) => slice.endpoints ?? []);
    if (endpoints.length === 0) return false;
    const pods = await kubectlJson<PodList>(state, ["get", "pods", "-n", namespace]);
    const imageOf = new Map(pods.items.map((pod) => [pod.metadata.name, pod.spec.containers[0]?.image]));
    return endpoints.every((endpoint) => endpoint.conditions?.ready === true && imageOf.get(endpoint.targetRef?.name ?? "") === image);
}

/** Run `rollback` and time it until only `image` serves, and until it returns. */
async function timeRollback(state: SandboxState, namespace: string, service: string, image: string, rollback: () => Promise<void>) {
    const started = Date.now();
    let commandSeconds: number | undefined;
    let failure: Error | undefined;
    const running = rollback().then(
        () => (commandSeconds = (Date.now() - started) / 1000),
        (error: unknown) => (failure = error instanceof Error ? error : new Error(JSON.stringify(error))),
    );
    let servedSeconds: number | undefined;
    while (servedSeconds === undefined) {
        if (failure !== undefined) throw failure;
        if (Date.now() - started > ROLLBACK_TIMEOUT_MS) throw new Error(`traffic did not reach only ${image} within ${ROLLBACK_TIMEOUT_MS / 1000} s`);
        if (await servesOnly(state, namespace, service, image)) servedSeconds = (Date.now() - started) / 1000;
        else await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    await running;
    if (failure !== undefined) throw failure;
    return { served: servedSeconds, command: commandSeconds ?? servedSeconds };
}

function mlopsAsync(state: SandboxState, projectDir: string, args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [MLOPS_BIN, ...args], {
            cwd: projectDir,
            env: { ...process.env, ...state.env },
            stdio: ["ignore", "ignore", "pipe"],
        });
        const stderr: Buffer[] = [];
        child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
        child.on("error", reject);
        child.on("close", (code) =>
            code === 0 ? resolve() : reject(new Error(`mlops ${args.join(" ")} exited ${code}: ${Buffer.concat(stderr).toString("utf8")}`)),
        );
    });
}

function mustMlops(state: SandboxState, projectDir: string, args: string[]): void {
    const run = runMlops(state, projectDir, args);
    if (run.code !== 0) throw new Error(`mlops ${args.join(" ")} exited ${run.code}: ${run.stderr}`);
}

/** Both rollbacks, `rounds` times each, alternating so that a slow moment of the machine hits both. */
export async function benchSandboxRollback(rounds: number, log: (line: string) => void): Promise<SandboxRollbackResult> {
    const raw = rawConfigFromStackFile(path.join(EXAMPLE_PROJECT, `Pulumi.${STACK}.yaml`));
    const config = parseStackConfig(raw);
    const imageOf = (version: string) => config.versions.find((v) => v.version === version)?.image ?? "";
    const state = await sandboxUp({ slowImages: [{ image: imageOf("2"), readySeconds: MODEL_LOAD_SECONDS }] });
    try {
        const project = scratchProject(state, "bench");
        log("setup: mlops deploy 1, 2 (its pods load for 20 s), 3");
        for (const version of ["1", "2", "3"]) mustMlops(state, project, ["deploy", "--stack", STACK, "--version", version, "--yes"]);

        const naiveNamespace = "naive";
        kubectl(state, ["create", "namespace", naiveNamespace]);
        let naivePin = "3";
        const naiveRaw = { ...raw, kubernetes: { ...(raw.kubernetes as object), namespace: naiveNamespace, createNamespace: false } };
        const naiveProgram = () => {
            declareNaiveServing(parseStackConfig({ ...naiveRaw, pinned: naivePin }));
            return Promise.resolve();
        };
        const naiveStack = { projectDir: path.join(SANDBOX_DIR, "naive"), projectName: "naive", stackName: "bench", program: naiveProgram };
        mkdirSync(naiveStack.projectDir, { recursive: true });
        log("setup: the baseline program at version 3");
        await withInlineStack(state, naiveStack, (stack) => stack.up());

        const result: { -readonly [K in keyof SandboxRollbackResult]: number[] } = { mlops: [], naive: [], mlopsCommand: [], naiveCommand: [] };
        for (let round = 1; round <= rounds; round++) {
            const ours = await timeRollback(state, config.kubernetes?.namespace ?? "", config.model, imageOf("2"), () =>
                mlopsAsync(state, project, ["rollback", "--stack", STACK, "--version", "2", "--reason", `benchmark round ${round}`, "--yes"]),
            );
            result.mlops.push(ours.served);
            result.mlopsCommand.push(ours.command);
            mustMlops(state, project, ["deploy", "--stack", STACK, "--version", "3", "--force", "--yes"]);

            naivePin = "2";
            const naive = await withInlineStack(state, naiveStack, (stack) =>
                timeRollback(state, naiveNamespace, config.model, imageOf("2"), () => stack.up().then(() => undefined)),
            );
            result.naive.push(naive.served);
            result.naiveCommand.push(naive.command);
            naivePin = "3";
            await withInlineStack(state, naiveStack, (stack) => stack.up());
            log(`round ${round}/${rounds}: mlops rollback ${ours.served.toFixed(1)} s, baseline ${naive.served.toFixed(1)} s to serve only version 2`);
        }
        return result;
    } finally {
        await sandboxDown();
    }
}
