/**
 * Benchmark 2: rollback time on the sandbox, ours against the baseline, side
 * by side in one run. Version 2's image takes 20 s to become ready (a kwok
 * stage emulating the model load) for both; every other image is ready at
 * once, so restoring version 3 between rounds costs little.
 *
 * A rollback is timed from its start to the moment the Service's
 * EndpointSlices list only ready pods of version 2's image, as a watch on
 * the API server sees them (the bench's own watch, not mlops's check), and
 * to the moment its command returns. Each round of ours also counts the API
 * writes that reached the server between its start and that moment, from
 * the API server's audit log: the writes on the critical path.
 *
 * Ours runs in three standby modes: hot (the target runs `replicas` pods),
 * partial (1 standby pod; the safe default scales it up before switching),
 * and partial at reduced capacity (`rollbackAtReducedCapacity`).
 */
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as k8s from "@kubernetes/client-node";
import { parseStackConfig } from "../config/schema";
import { rawConfigFromStackFile } from "../config/sources";
import { EXAMPLE_PROJECT, MLOPS_BIN, runMlops, scratchProject, STACK, stackFileOf, withInlineStack, withSandboxStack } from "../sandbox/demo";
import { auditEvents, kubectl, SANDBOX_DIR, sandboxDown, sandboxUp, type AuditEvent, type SandboxState } from "../sandbox/sandbox";
import { declareNaiveServing } from "./naiveProgram";

export const MODEL_LOAD_SECONDS = 20;
const ROLLBACK_TIMEOUT_MS = 5 * 60_000;

export type StandbyMode = "hot" | "partial" | "partial-reduced";

/** How each mode configures `mlops:kubernetes` (on top of the sandbox stack's 2 replicas). */
const MODE_SETTINGS: Record<StandbyMode, { readonly standbyReplicas?: number; readonly rollbackAtReducedCapacity?: boolean; readonly description: string }> = {
    hot: { description: "hot standby (the default): version 2 runs 2 ready pods, as many as serve" },
    partial: { standbyReplicas: 1, description: "partial standby, default: 1 standby pod; scaled to 2 (one model load) before the switch" },
    "partial-reduced": {
        standbyReplicas: 1,
        rollbackAtReducedCapacity: true,
        description: "partial standby with `rollbackAtReducedCapacity: true`: switched at once to the 1 ready pod, scaled up behind it",
    },
};

export interface ModeResult {
    readonly mode: StandbyMode;
    readonly description: string;
    /** Seconds from the start of each rollback until traffic reached only version 2's ready pods. */
    readonly served: number[];
    /** Seconds until the command itself returned. */
    readonly command: number[];
    /** API writes the server received between the start of each rollback and `served` (the audit log), other than the cluster's own controllers'. */
    readonly criticalPathWrites: number[];
    /** Those writes, of the first round: verb, resource and client. */
    readonly firstRoundWrites: string[];
}

export interface SandboxRollbackResult {
    readonly modes: ModeResult[];
    /** The baseline, `pulumi up` of a program with version 2's image, alternating with the hot rounds. */
    readonly naive: number[];
    readonly naiveCommand: number[];
}

/**
 * Watches the Service's EndpointSlices and the namespace's pods (each a
 * list, then a watch from its resourceVersion, listed and watched again
 * whenever the server ends the watch), and reports the first moment after a
 * start at which the slices list only ready pods of `image` (at least one).
 */
class TrafficWatch {
    private readonly slices = new Map<string, k8s.V1Endpoint[]>();
    private readonly images = new Map<string, string | undefined>();
    private readonly waiters: { readonly image: string; readonly resolve: (at: number) => void }[] = [];
    private readonly aborts = new Set<AbortController>();
    private stopped = false;
    private readonly core: k8s.CoreV1Api;
    private readonly discovery: k8s.DiscoveryV1Api;

    private constructor(
        private readonly kubeConfig: k8s.KubeConfig,
        private readonly namespace: string,
        private readonly service: string,
    ) {
        this.core = kubeConfig.makeApiClient(k8s.CoreV1Api);
        this.discovery = kubeConfig.makeApiClient(k8s.DiscoveryV1Api);
    }

    static async start(kubeconfig: string, namespace: string, service: string): Promise<TrafficWatch> {
        const kubeConfig = new k8s.KubeConfig();
        kubeConfig.loadFromFile(kubeconfig);
        const watch = new TrafficWatch(kubeConfig, namespace, service);
        await watch.followPods();
        await watch.followSlices();
        return watch;
    }

    private async followPods(): Promise<void> {
        const list = await this.core.listNamespacedPod({ namespace: this.namespace });
        this.images.clear();
        for (const pod of list.items) this.images.set(pod.metadata?.name ?? "", pod.spec?.containers[0]?.image);
        await this.follow(
            `/api/v1/namespaces/${this.namespace}/pods`,
            {},
            list.metadata?.resourceVersion,
            (phase, pod: k8s.V1Pod) => {
                const name = pod.metadata?.name ?? "";
                if (phase === "DELETED") this.images.delete(name);
                else this.images.set(name, pod.spec?.containers[0]?.image);
            },
            () => this.followPods(),
        );
    }

    private async followSlices(): Promise<void> {
        const labelSelector = `kubernetes.io/service-name=${this.service}`;
        const list = await this.discovery.listNamespacedEndpointSlice({ namespace: this.namespace, labelSelector });
        this.slices.clear();
        for (const slice of list.items) this.slices.set(slice.metadata?.name ?? "", slice.endpoints ?? []);
        this.check();
        await this.follow(
            `/apis/discovery.k8s.io/v1/namespaces/${this.namespace}/endpointslices`,
            { labelSelector },
            list.metadata?.resourceVersion,
            (phase, slice: k8s.V1EndpointSlice) => {
                const name = slice.metadata?.name ?? "";
                if (phase === "DELETED") this.slices.delete(name);
                else this.slices.set(name, slice.endpoints ?? []);
            },
            () => this.followSlices(),
        );
    }

    private async follow<T>(
        watchPath: string,
        query: Record<string, string>,
        resourceVersion: string | undefined,
        apply: (phase: string, object: T) => void,
        again: () => Promise<void>,
    ): Promise<void> {
        const held: { controller?: AbortController } = {};
        held.controller = await new k8s.Watch(this.kubeConfig).watch(
            watchPath,
            { ...query, ...(resourceVersion === undefined ? {} : { resourceVersion }) },
            (phase: string, object: T) => {
                // ERROR (a 410 Gone, say) carries a Status: the watch ends and is listed again.
                if (phase !== "ADDED" && phase !== "MODIFIED" && phase !== "DELETED") return;
                apply(phase, object);
                this.check();
            },
            () => {
                if (held.controller !== undefined) this.aborts.delete(held.controller);
                // The server ended the watch: what it missed is listed again, or the state would go stale.
                if (!this.stopped)
                    void again().catch((error: unknown) => process.stderr.write(`bench: watching ${watchPath} again failed: ${String(error)}\n`));
            },
        );
        this.aborts.add(held.controller);
    }

    servesOnly(image: string): boolean {
        const endpoints = [...this.slices.values()].flat();
        return endpoints.length > 0 && endpoints.every((e) => e.conditions?.ready === true && this.images.get(e.targetRef?.name ?? "") === image);
    }

    /** Lists both again, for a state that is surely current (before a round). */
    async resync(): Promise<void> {
        const [pods, slices] = await Promise.all([
            this.core.listNamespacedPod({ namespace: this.namespace }),
            this.discovery.listNamespacedEndpointSlice({ namespace: this.namespace, labelSelector: `kubernetes.io/service-name=${this.service}` }),
        ]);
        this.images.clear();
        for (const pod of pods.items) this.images.set(pod.metadata?.name ?? "", pod.spec?.containers[0]?.image);
        this.slices.clear();
        for (const slice of slices.items) this.slices.set(slice.metadata?.name ?? "", slice.endpoints ?? []);
    }

    private check(): void {
        const at = Date.now();
        for (const waiter of [...this.waiters]) {
            if (this.servesOnly(waiter.image)) {
                this.waiters.splice(this.waiters.indexOf(waiter), 1);
                waiter.resolve(at);
            }
        }
    }

    /** Resolves with the time (ms) of the first event after which only `image` serves. */
    next(image: string): Promise<number> {
        return new Promise((resolve) => this.waiters.push({ image, resolve }));
    }

    stop(): void {
        this.stopped = true;
        for (const abort of this.aborts) abort.abort();
    }

    get where(): string {
        return `${this.namespace}/${this.service}`;
    }
}

/** The cluster's own controllers, whose writes (pods, ReplicaSets, EndpointSlices, status) follow a rollback's and are not its own. */
const CONTROLLER_AGENTS = /^(kube-apiserver|kube-controller-manager|kube-scheduler|kwok)\b/;

/** Writes other than the controllers' that the API server received in [from, to] (ms). */
export function writesBetween(state: SandboxState, from: number, to: number): AuditEvent[] {
    return auditEvents(state).filter((event) => {
        const at = Date.parse(event.requestReceivedTimestamp);
        return at >= from && at <= to && !CONTROLLER_AGENTS.test(event.userAgent ?? "");
    });
}

const describeWrite = (event: AuditEvent): string =>
    `${event.verb} ${event.objectRef?.resource ?? "?"}${event.objectRef?.subresource === undefined ? "" : `/${event.objectRef.subresource}`} ${event.objectRef?.namespace ?? ""}/${event.objectRef?.name ?? ""} (${(event.userAgent ?? "?").split(" ")[0]}, ${event.responseStatus?.code ?? "?"})`;

/** Run `rollback` and time it until only `image` serves (by the watch), and until it returns. */
async function timeRollback(watch: TrafficWatch, image: string, rollback: () => Promise<void>) {
    // A round that starts with traffic already on the target would time nothing.
    await watch.resync();
    if (watch.servesOnly(image))
        throw new Error(`traffic on ${watch.where} is already on ${image} before the rollback: the previous round did not move it away`);
    const started = Date.now();
    const served = watch.next(image);
    let commandAt: number | undefined;
    let failure: Error | undefined;
    const running = rollback().then(
        () => (commandAt = Date.now()),
        (error: unknown) => (failure = error instanceof Error ? error : new Error(JSON.stringify(error))),
    );
    const timeout = new Promise<never>((_, reject) =>
        setTimeout(
            () => reject(new Error(`traffic on ${watch.where} did not reach only ${image} within ${ROLLBACK_TIMEOUT_MS / 1000} s`)),
            ROLLBACK_TIMEOUT_MS,
        ).unref(),
    );
    const servedAt = await Promise.race([served, timeout, running.then(() => (failure === undefined ? served : Promise.reject(failure)))]);
    await running;
    if (failure !== undefined) throw failure;
    return { started, servedAt, served: (servedAt - started) / 1000, command: ((commandAt ?? servedAt) - started) / 1000 };
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

/** Set the mode's standby settings in the project's stack file, and apply them with a plain `pulumi up`. */
async function configureMode(state: SandboxState, project: string, mode: StandbyMode): Promise<void> {
    const file = stackFileOf(project);
    const { standbyReplicas, rollbackAtReducedCapacity } = MODE_SETTINGS[mode];
    const lines = readFileSync(file, "utf8")
        .split("\n")
        .filter((line) => !/^ {4}(standbyReplicas|rollbackAtReducedCapacity):/.test(line));
    const at = lines.findIndex((line) => /^ {4}replicas:/.test(line));
    const extra = [
        ...(standbyReplicas === undefined ? [] : [`    standbyReplicas: ${standbyReplicas}`]),
        ...(rollbackAtReducedCapacity === undefined ? [] : [`    rollbackAtReducedCapacity: ${rollbackAtReducedCapacity}`]),
    ];
    lines.splice(at + 1, 0, ...extra);
    writeFileSync(file, lines.join("\n"));
    await withSandboxStack(state, project, (stack) => stack.up({ message: `bench: ${mode} standby` }));
}

/** Wait until version `id`'s Deployment has `replicas` ready pods (a standby reloading its model after a round). */
async function waitForReady(state: SandboxState, namespace: string, deployment: string, replicas: number): Promise<void> {
    const deadline = Date.now() + ROLLBACK_TIMEOUT_MS;
    for (;;) {
        const ready = Number(kubectl(state, ["get", "deployment", deployment, "-n", namespace, "-o", "jsonpath={.status.readyReplicas}"]) || "0");
        if (ready >= replicas) return;
        if (Date.now() > deadline) throw new Error(`${deployment} did not get ${replicas} ready pods`);
        await new Promise((resolve) => setTimeout(resolve, 500));
    }
}

/**
 * Every mode, `rounds` rollbacks each; the baseline alternates with the
 * hot rounds, so that a slow moment of the machine hits both.
 */
export async function benchSandboxRollback(rounds: number, log: (line: string) => void): Promise<SandboxRollbackResult> {
    const raw = rawConfigFromStackFile(path.join(EXAMPLE_PROJECT, `Pulumi.${STACK}.yaml`));
    const config = parseStackConfig(raw);
    const namespace = config.kubernetes?.namespace ?? "";
    const replicas = config.kubernetes?.replicas ?? 1;
    const imageOf = (version: string) => config.versions.find((v) => v.version === version)?.image ?? "";
    const state = await sandboxUp({ slowImages: [{ image: imageOf("2"), readySeconds: MODEL_LOAD_SECONDS }], auditLog: true });
    const watches: TrafficWatch[] = [];
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

        const ours = await TrafficWatch.start(state.kubeconfig, namespace, config.model);
        const baseline = await TrafficWatch.start(state.kubeconfig, naiveNamespace, config.model);
        watches.push(ours, baseline);

        const result: SandboxRollbackResult = { modes: [], naive: [], naiveCommand: [] };
        for (const mode of Object.keys(MODE_SETTINGS) as StandbyMode[]) {
            log(`setup: ${mode} standby`);
            await configureMode(state, project, mode);
            const standby = MODE_SETTINGS[mode].standbyReplicas ?? replicas;
            const modeResult: ModeResult = {
                mode,
                description: MODE_SETTINGS[mode].description,
                served: [],
                command: [],
                criticalPathWrites: [],
                firstRoundWrites: [],
            };
            for (let round = 1; round <= rounds; round++) {
                await waitForReady(state, namespace, `${config.model}-2`, standby);
                const timed = await timeRollback(ours, imageOf("2"), () =>
                    mlopsAsync(state, project, ["rollback", "--stack", STACK, "--version", "2", "--reason", `benchmark ${mode} round ${round}`, "--yes"]),
                );
                const writes = writesBetween(state, timed.started, timed.servedAt);
                modeResult.served.push(timed.served);
                modeResult.command.push(timed.command);
                modeResult.criticalPathWrites.push(writes.length);
                if (round === 1) modeResult.firstRoundWrites.push(...writes.map(describeWrite));
                mustMlops(state, project, ["deploy", "--stack", STACK, "--version", "3", "--force", "--yes"]);

                let line = `${mode} round ${round}/${rounds}: mlops rollback ${timed.served.toFixed(2)} s to serve only version 2 (${writes.length} write${writes.length === 1 ? "" : "s"}), returned in ${timed.command.toFixed(1)} s`;
                if (mode === "hot") {
                    naivePin = "2";
                    const naive = await withInlineStack(state, naiveStack, (stack) =>
                        timeRollback(baseline, imageOf("2"), () => stack.up().then(() => undefined)),
                    );
                    result.naive.push(naive.served);
                    result.naiveCommand.push(naive.command);
                    naivePin = "3";
                    await withInlineStack(state, naiveStack, (stack) => stack.up());
                    line += `; baseline ${naive.served.toFixed(1)} s`;
                }
                log(line);
            }
            result.modes.push(modeResult);
        }
        return result;
    } finally {
        for (const watch of watches) watch.stop();
        await sandboxDown();
    }
}
