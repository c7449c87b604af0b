/**
 * `mlops rollback` on Kubernetes: the instant switch before the update, and
 * every way it may not happen. The engine is a FakeStack and the cluster a
 * FakeCluster (each stands for the layer below the CLI: the Automation API,
 * the Kubernetes API server); the switch's own API calls run against a real
 * API server in test-e2e/sandbox.e2e.test.ts.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { OperationFailedError, runPinChange, type PinChangeDeps, type PinChangeOptions } from "../cli/pinChange";
import { StackBusyError } from "../rollback/automation";
import type { ServiceState, SwitchObservation, SwitchTarget, SwitchWrite, TrafficConfirmation, TrafficSwitch } from "../rollback/kubernetesSwitch";
import { FakeStack } from "./fixtures/fakeStack";

const ROOT = path.resolve(__dirname, "..");
const SERVICE_UID = "5b2f6c1e-0d4a-4c3e-9a57-2f0e8d1c9b10";

/** Stands for the cluster's API server: what the Service and the target's Deployment show, and every call the CLI made. */
class FakeCluster implements TrafficSwitch {
    readonly calls: string[] = [];
    constructor(
        public selected: string | undefined,
        public targetReady: number,
        /** What the compare-and-set finds when it runs (another writer in between), if not `selected`. */
        private readonly selectedAtWrite?: string,
    ) {}
    /** The target Deployment's spec.replicas in the cluster: what the stack declares (3) unless a test says otherwise. */
    targetReplicas: number | undefined = 3;
    /** The Service's uid in this cluster: the stack's, unless a test points mlops at another cluster. */
    uid: string | undefined = SERVICE_UID;
    observe(target: SwitchTarget): Promise<SwitchObservation> {
        this.calls.push(`observe ${target.namespace}/${target.serviceName} ${target.targetDeployment}`);
        return Promise.resolve({ uid: this.uid, selected: this.selected, targetReady: this.targetReady, targetReplicas: this.targetReplicas });
    }
    /** An error the API server answers the write with (403, 500...), if any. */
    writeError: Error | undefined;
    switchSelector(target: SwitchTarget): Promise<SwitchWrite> {
        this.calls.push(`switch ${target.from}->${target.to}${target.serviceUid === undefined ? "" : ` (uid ${target.serviceUid})`}`);
        if (this.writeError !== undefined) return Promise.reject(this.writeError);
        const current = this.selectedAtWrite ?? this.selected;
        if (current !== target.from) return Promise.resolve({ kind: "conflict", selected: current });
        this.selected = target.to;
        return Promise.resolve({ kind: "switched" });
    }
    /** An error the EndpointSlice watch fails with, if any. */
    watchError: Error | undefined;
    waitForTraffic(target: SwitchTarget): Promise<TrafficConfirmation> {
        this.calls.push(`wait ${target.to}`);
        if (this.watchError !== undefined) return Promise.reject(this.watchError);
        return Promise.resolve({ confirmed: this.selected === target.to, view: { targetReady: this.targetReady, otherReady: 0 }, seconds: 0.02 });
    }
    releaseSelector(_namespace: string, _serviceName: string, releasable: readonly string[]): Promise<string> {
        this.calls.push(`release if ${releasable.join("|")}`);
        return Promise.resolve("");
    }
    serviceState(): Promise<ServiceState> {
        return Promise.resolve({ selected: this.selected, heldBySwitch: false });
    }
}

let projectDir: string;
let file: string;
let stack: FakeStack;
let stderr: string;
let events: string[];

beforeEach(() => {
    projectDir = mkdtempSync(path.join(tmpdir(), "mlops-k8s-switch-"));
    mkdirSync(path.join(projectDir, "stacks"));
    copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(projectDir, "Pulumi.yaml"));
    file = path.join(projectDir, "stacks", "Pulumi.prod.yaml");
    // Version 3 serves with 3 replicas; version 2 stands by, hot (standbyReplicas 3).
    writeFileSync(file, readFileSync(path.join(ROOT, "stacks", "Pulumi.kubernetes-example.yaml"), "utf8"));
    stack = new FakeStack("prod", file);
    stack.outputsAfterUp = {
        target: "kubernetes",
        pinnedVersion: "3",
        servingHistory: [
            { version: "2", since: "2026-11-20T09:00:00.000Z" },
            { version: "3", since: "2026-11-26T09:00:00.000Z" },
        ],
        kubernetes: {
            namespace: "fraud",
            serviceName: "fraud-detector",
            serviceUid: SERVICE_UID,
            deploymentNames: { "2": "fraud-detector-2", "3": "fraud-detector-3" },
        },
    };
    stderr = "";
    events = [];
});

function deps(cluster: FakeCluster, overrides: Partial<PinChangeDeps> = {}): PinChangeDeps {
    const up = stack.up.bind(stack);
    // Order of what reaches the cluster and the engine, with the pin the stack file had at each step.
    stack.up = (options) => {
        events.push(`up (file pins ${pinnedInFile()})`);
        return up(options);
    };
    const record =
        <A extends unknown[], R>(name: string, call: (...args: A) => R) =>
        (...args: A): R => {
            events.push(`${name} (file pins ${pinnedInFile()})`);
            return call(...args);
        };
    const recorded: TrafficSwitch = {
        observe: record("observe", cluster.observe.bind(cluster)),
        switchSelector: record("switch", cluster.switchSelector.bind(cluster)),
        waitForTraffic: record("wait", cluster.waitForTraffic.bind(cluster)),
        releaseSelector: record("release", cluster.releaseSelector.bind(cluster)),
        serviceState: cluster.serviceState.bind(cluster),
    };
    return {
        openStack: () => Promise.resolve(stack),
        verifierFor: () => ({
            verify: (_outputs, pinned) => Promise.resolve({ ok: true, detail: `the Service selects version ${pinned} with 3 ready endpoints` }),
        }),
        trafficSwitch: () => recorded,
        notify: () => Promise.resolve(),
        stdout: () => undefined,
        stderr: (text) => (stderr += text),
        now: () => new Date("2026-11-27T09:00:00.000Z"),
        ...overrides,
    };
}

const pinnedInFile = (): string => /mlops:pinned: "(\w+)"/.exec(readFileSync(file, "utf8"))?.[1] ?? "?";
const options = (extra: Partial<PinChangeOptions> = {}): PinChangeOptions => ({ stack: "prod", file, projectDir, yes: true, version: "2", ...extra });

describe("mlops rollback on Kubernetes: the instant switch", () => {
    it("with a hot standby, writes the selector once, confirms on the data plane, and only then runs the update that records it", async () => {
        const cluster = new FakeCluster("3", 3);
        const result = await runPinChange("rollback", options(), deps(cluster));

        expect(events).toEqual([
            "observe (file pins 3)",
            // The file pins the target before traffic moves: a run killed after the switch is finished by the next one.
            "switch (file pins 2)",
            "wait (file pins 2)",
            "up (file pins 2)",
            // Once the update recorded it, the switch's field manager gives the selector back.
            "release (file pins 2)",
        ]);
        expect(cluster.calls).toEqual([
            "observe fraud/fraud-detector fraud-detector-2",
            "switch 3->2 (uid 5b2f6c1e-0d4a-4c3e-9a57-2f0e8d1c9b10)",
            "wait 2",
            "release if 2",
        ]);
        expect(result).toMatchObject({ kind: "rollback", from: "3", to: "2", result: "succeeded", trafficSwitchedSeconds: 0 });
        expect(stderr).toContain("Switched Service fraud/fraud-detector from 3 to 2 (one compare-and-set write; version 2 has 3 ready pods (hot standby)).");
        expect(stderr).toMatch(/Traffic is on 2: its 3 ready pod\(s\) are the only endpoints of the Service, 0 s after the rollback began\./);
        expect(stderr).toContain("Recording it in the stack (the update)...");
        // The update runs with the rollback event, so that the program records the quarantine.
        expect(stack.calls[0].options.rollbackEvent).toMatchObject({ from: "3", to: "2" });
    });

    it("refuses, writing nothing, when the Service selects neither version (changed outside the stack)", async () => {
        const cluster = new FakeCluster("1", 3);
        const before = readFileSync(file, "utf8");
        const run = runPinChange("rollback", options(), deps(cluster));
        await expect(run).rejects.toThrow(OperationFailedError);
        await expect(run).rejects.toThrow(
            "the Service selects version 1, not 3, the version this rollback leaves: it was changed outside this stack; nothing was written. Check what serves (mlops status), then run again.",
        );
        expect(cluster.calls.filter((call) => !call.startsWith("observe"))).toEqual([]);
        expect(stack.calls).toEqual([]);
        expect(readFileSync(file, "utf8")).toBe(before);
    });

    it("puts the stack file back and fails when the compare-and-set finds the Service moved in between", async () => {
        const cluster = new FakeCluster("3", 3, "1");
        const before = readFileSync(file, "utf8");
        const run = runPinChange("rollback", options(), deps(cluster));
        await expect(run).rejects.toThrow(
            /the Service stopped selecting version 3 while this rollback ran \(it selects 1 now\): another change moved it; nothing was written; .*Pulumi\.prod\.yaml is as it was/,
        );
        expect(stack.calls).toEqual([]);
        expect(readFileSync(file, "utf8")).toBe(before);
    });

    it("writes nothing when the Service already selects the target (an earlier run or the alarm trigger switched it), and records it", async () => {
        const cluster = new FakeCluster("2", 3);
        const result = await runPinChange("rollback", options(), deps(cluster));
        expect(cluster.calls).toEqual(["observe fraud/fraud-detector fraud-detector-2", "wait 2", "release if 2"]);
        expect(stderr).toContain("The Service already selects version 2 (switched by an earlier run or by the alarm trigger).");
        expect(result.result).toBe("succeeded");
    });

    it("with a partial standby, by default leaves the switch to the update (scale first) and says how long that may take", async () => {
        const cluster = new FakeCluster("3", 1);
        const result = await runPinChange("rollback", options(), deps(cluster));
        // Before the update: given back if the Service still selects 3 (what the update moves it from); after it, if it selects 2.
        expect(cluster.calls).toEqual(["observe fraud/fraud-detector fraud-detector-2", "release if 3", "release if 2"]);
        expect(stderr).toContain(
            "No instant switch: version 2 has 1 of 3 pods ready (partial standby); the update scales version 2 to 3 pods and then moves the Service: up to 900 s (mlops:kubernetes.startupTimeoutSeconds) while its pods load the model. To switch first at reduced capacity, set mlops:kubernetes.rollbackAtReducedCapacity: true.",
        );
        expect(result.trafficSwitchedSeconds).toBeUndefined();
        expect(stderr).toContain("Running the update...");
    });

    it("with rollbackAtReducedCapacity, switches to the ready pods at once and lets the update scale up behind it", async () => {
        writeFileSync(file, readFileSync(file, "utf8").replace("    replicas: 3\n", "    replicas: 3\n    rollbackAtReducedCapacity: true\n"));
        const cluster = new FakeCluster("3", 1);
        await runPinChange("rollback", options(), deps(cluster));
        expect(cluster.calls).toEqual([
            "observe fraud/fraud-detector fraud-detector-2",
            "switch 3->2 (uid 5b2f6c1e-0d4a-4c3e-9a57-2f0e8d1c9b10)",
            "wait 2",
            "release if 2",
        ]);
        expect(stderr).toContain(
            "version 2 has 1 of 3 pods ready; switching at reduced capacity (mlops:kubernetes.rollbackAtReducedCapacity), the update scales it up behind the switch",
        );
    });

    it("with no ready pod at all, never switches, whatever rollbackAtReducedCapacity says", async () => {
        writeFileSync(file, readFileSync(file, "utf8").replace("    replicas: 3\n", "    replicas: 3\n    rollbackAtReducedCapacity: true\n"));
        const cluster = new FakeCluster("3", 0);
        await runPinChange("rollback", options(), deps(cluster));
        expect(cluster.calls.some((call) => call.startsWith("switch"))).toBe(false);
        expect(stderr).toContain("No instant switch: version 2 has no ready pods;");
    });

    it("says that traffic is on the target already when the recording update fails", async () => {
        stack.upError = new Error("the engine lost its connection");
        const cluster = new FakeCluster("3", 3);
        const run = runPinChange("rollback", options(), deps(cluster));
        await expect(run).rejects.toThrow(
            /the rollback to 2 failed: the engine lost its connection\nTraffic is on 2 already \(the Service was switched before the update\); only the stack's record of it is missing\./,
        );
        // Not given back: until an update records the switch, the field conflict keeps a stale update from moving traffic back.
        expect(cluster.calls).not.toContain("release if 2");
        expect(pinnedInFile()).toBe("2");
    });

    it("never switches on a dry run or to a cold target", async () => {
        const dryRun = new FakeCluster("3", 3);
        await runPinChange("rollback", options({ dryRun: true }), deps(dryRun));
        expect(dryRun.calls).toEqual([]);

        const cold = new FakeCluster("3", 3);
        await runPinChange("rollback", options({ version: "1", allowCold: true }), deps(cold));
        expect(cold.calls.some((call) => call.startsWith("switch"))).toBe(false);
    });

    it("on a deploy, gives back a selector a stopped run left held before the update applies, so that the update does not conflict", async () => {
        const cluster = new FakeCluster("2", 3);
        // The stack records 2 (a rollback's update finished, its release did not run); the file pins 3 again.
        stack.outputsAfterUp = { ...stack.outputsAfterUp, pinnedVersion: "2" };
        await runPinChange("deploy", options({ version: "3" }), deps(cluster));
        expect(events.slice(0, 2)).toEqual(["release (file pins 3)", "up (file pins 3)"]);
        expect(cluster.calls).toEqual(["release if 2", "release if 3"]);
        expect(cluster.calls.some((call) => call.startsWith("switch"))).toBe(false);
    });

    it("switches nothing, through the update, when the Service mlops reaches is not the stack's (another cluster's, by uid)", async () => {
        const cluster = new FakeCluster("3", 3);
        cluster.uid = "0aa0aa0a-other-cluster";
        const result = await runPinChange("rollback", options(), deps(cluster));
        expect(cluster.calls.some((call) => call.startsWith("switch"))).toBe(false);
        expect(stderr).toContain(
            `No instant switch: the Service mlops reaches (uid 0aa0aa0a-other-cluster) is not the stack's (uid ${SERVICE_UID}): the kubeconfig mlops reads (kubernetes:kubeconfig of the stack file, else KUBECONFIG) points at another cluster than the stack's provider.`,
        );
        expect(result.result).toBe("succeeded");
    });

    it("switches nothing when the stack's record has no Service uid yet (an older update), and says so", async () => {
        const cluster = new FakeCluster("3", 3);
        stack.outputsAfterUp = { ...stack.outputsAfterUp, kubernetes: { namespace: "fraud", serviceName: "fraud-detector" } };
        await runPinChange("rollback", options(), deps(cluster));
        expect(cluster.calls.filter((call) => call.startsWith("observe") || call.startsWith("switch"))).toEqual([]);
        expect(stderr).toContain("No instant switch: the stack's record names no Service uid yet (its last update predates it); this update records it.");
    });

    it("puts the stack file back and fails when the API server refuses the write and the Service still selects the version left", async () => {
        const cluster = new FakeCluster("3", 3);
        cluster.writeError = new Error('services "fraud-detector" is forbidden');
        const before = readFileSync(file, "utf8");
        const run = runPinChange("rollback", options(), deps(cluster));
        await expect(run).rejects.toThrow(OperationFailedError);
        await expect(run).rejects.toThrow(
            /the switch of Service fraud\/fraud-detector to 2 failed \(services "fraud-detector" is forbidden\), and it still selects 3; .*Pulumi\.prod\.yaml is as it was/,
        );
        expect(readFileSync(file, "utf8")).toBe(before);
        expect(stack.calls).toEqual([]);
    });

    it("records the rollback when the write's answer is lost but the Service shows it landed", async () => {
        const cluster = new FakeCluster("3", 3);
        cluster.writeError = new Error("socket hang up");
        // The API server applied the patch before the connection dropped.
        cluster.observe = (
            (observe) => (target: SwitchTarget) =>
                observe(target).then((seen) => (cluster.calls.length > 2 ? { ...seen, selected: "2" } : seen))
        )(cluster.observe.bind(cluster));
        const result = await runPinChange("rollback", options(), deps(cluster));
        expect(result.result).toBe("succeeded");
        expect(pinnedInFile()).toBe("2");
    });

    it("goes on to record the switch when the EndpointSlice watch fails, and says it could not confirm", async () => {
        const cluster = new FakeCluster("3", 3);
        cluster.watchError = new Error("endpointslices.discovery.k8s.io is forbidden");
        const result = await runPinChange("rollback", options(), deps(cluster));
        expect(result.result).toBe("succeeded");
        expect(result.trafficSwitchedSeconds).toBeUndefined();
        expect(stderr).toContain("warning: could not watch the EndpointSlices (endpointslices.discovery.k8s.io is forbidden); the Service selects 2");
        expect(stack.calls.map((call) => call.op)).toEqual(["up"]);
    });

    it("keeps the stack file pinning the target when another update holds the stack after the switch, and says where traffic is", async () => {
        stack.upError = new StackBusyError("created by bob@ci (pid 7) at 2026-11-27T08:59:00Z");
        const cluster = new FakeCluster("3", 3);
        const run = runPinChange("rollback", options(), deps(cluster));
        await expect(run).rejects.toThrow(OperationFailedError);
        await expect(run).rejects.toThrow(
            /Traffic is on 2 already \(the Service was switched\), so .*Pulumi\.prod\.yaml keeps mlops:pinned 2; once the other update is done, run mlops rollback --stack prod to record it\./,
        );
        expect(pinnedInFile()).toBe("2");
    });

    it("after an update that did not finish (file pins 3, stack records 2, Service on 2), rolls back to 1 from what the Service selects", async () => {
        writeFileSync(file, readFileSync(file, "utf8").replace("  mlops:warm: 1\n", "  mlops:warm: 2\n"));
        stack.outputsAfterUp = {
            ...stack.outputsAfterUp,
            pinnedVersion: "2",
            servingHistory: [
                { version: "1", since: "2026-11-10T09:00:00.000Z" },
                { version: "2", since: "2026-11-20T09:00:00.000Z" },
            ],
            kubernetes: { ...(stack.outputsAfterUp.kubernetes as object), deploymentNames: { "1": "fraud-detector-1", "2": "fraud-detector-2" } },
        };
        const cluster = new FakeCluster("2", 3);
        await runPinChange("rollback", options({ version: "1" }), deps(cluster));
        expect(cluster.calls).toContain(`switch 2->1 (uid ${SERVICE_UID})`);
    });

    it("refuses, changing nothing, a rollback to a version whose Deployment was scaled to zero outside the stack", async () => {
        const cluster = new FakeCluster("3", 0);
        cluster.targetReplicas = 0;
        const before = readFileSync(file, "utf8");
        const run = runPinChange("rollback", options(), deps(cluster));
        await expect(run).rejects.toThrow(OperationFailedError);
        await expect(run).rejects.toThrow("version 2's Deployment runs 0 replicas, where the stack declares 3: it was changed outside the stack");
        expect(readFileSync(file, "utf8")).toBe(before);
        expect(stack.calls).toEqual([]);
    });
});
