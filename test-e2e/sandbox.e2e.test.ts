/**
 * The real engine on the sandbox: the Pulumi CLI, the Kubernetes provider
 * and a kube-apiserver, all built from Go modules. Every check is made with
 * kubectl or the backend's own record (`pulumi stack history`), never with
 * our code's view of things.
 */
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as k8s from "@pulumi/kubernetes";
import type { PolicyEvent, Stack } from "@pulumi/pulumi/automation";
import { parseDocument, type YAMLSeq } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawConfigFromStackFile } from "../config/sources";
import {
    backendHistory as backendHistoryOf,
    MLOPS_BIN,
    releaseNoteVersion,
    runMlops,
    scratchProject,
    servingDeployments,
    STACK,
    stackFileOf,
    withInlineStack,
    withSandboxStack,
} from "../sandbox/demo";
import {
    kubectl,
    NEVER_READY_CAUSE,
    NEVER_READY_VERSION,
    PROJECT_DIR,
    SANDBOX_DIR,
    sandboxDown,
    rolloutTimeoutSecondsOf,
    sandboxUp,
    type SandboxState,
} from "../sandbox/sandbox";

let state: SandboxState;
let project: string;

beforeAll(async () => {
    state = await sandboxUp();
    project = scratchProject(state, "e2e");
});

afterAll(async () => {
    await sandboxDown();
});

const stackFile = () => stackFileOf(project);

function mlops(...args: string[]) {
    const run = runMlops(state, project, args);
    if (run.code !== 0) process.stderr.write(`mlops ${args.join(" ")} exited ${run.code}:\n${run.stderr}${run.stdout}\n`);
    return run;
}

const backendHistory = () => backendHistoryOf(state, project);

const deploymentUid = (version: string) => kubectl(state, ["get", "deployment", `fraud-detector-${version}`, "-n", "fraud", "-o", "jsonpath={.metadata.uid}"]);

describe("deploy 1 -> 3 (2 never serves), mlops rollback, deploy 2", () => {
    it("keeps the version that served (1) warm, not the catalog's neighbour (2), and rolls back to it by moving the Service only", () => {
        expect(mlops("deploy", "--stack", STACK, "--version", "1", "--yes").code).toBe(0);
        expect(servingDeployments(state)).toEqual(["fraud-detector-1"]);
        // Straight to 3: warm means "served last", so 1 stays up as the standby and nothing is built for 2.
        expect(mlops("deploy", "--stack", STACK, "--version", "3", "--yes").code).toBe(0);
        expect(servingDeployments(state)).toEqual(["fraud-detector-3"]);
        const deployments = () => kubectl(state, ["get", "deployments", "-n", "fraud", "-o", "jsonpath={.items[*].metadata.name}"]).split(" ").sort();
        expect(deployments()).toEqual(["fraud-detector-1", "fraud-detector-3"]);
        const standbyUidBefore = deploymentUid("1");

        const rollback = mlops("rollback", "--stack", STACK, "--reason", "e2e: 5xx", "--yes", "--json");
        expect(rollback.code).toBe(0);
        expect(JSON.parse(rollback.stdout)).toMatchObject({ ok: true, kind: "rollback", from: "3", to: "1", result: "succeeded" });

        // kubectl: traffic is on 1's pods, and 1's Deployment is the one that was already running.
        expect(servingDeployments(state)).toEqual(["fraud-detector-1"]);
        expect(kubectl(state, ["get", "service", "fraud-detector", "-n", "fraud", "-o", "jsonpath={.spec.selector.mlops-rollback/version}"])).toBe("1");
        expect(deploymentUid("1")).toBe(standbyUidBefore);

        // The backend: the rollback created and replaced nothing, and is recorded with its reason.
        const [last] = backendHistory();
        expect(last.message).toBe("rollback 3 -> 1: e2e: 5xx");
        expect(last.result).toBe("succeeded");
        expect(last.resourceChanges?.replace ?? 0).toBe(0);
        expect(last.resourceChanges?.create ?? 0).toBe(0);

        // The stack file: 3 is quarantined.
        expect(rawConfigFromStackFile(stackFile()).quarantined).toEqual(["3"]);

        // Forward to 2: 1, which served before it, is its standby.
        expect(mlops("deploy", "--stack", STACK, "--version", "2", "--yes").code).toBe(0);
        expect(servingDeployments(state)).toEqual(["fraud-detector-2"]);
        expect(deployments()).toEqual(["fraud-detector-1", "fraud-detector-2"]);
        expect(deploymentUid("1")).toBe(standbyUidBefore);

        // The user's own resource, declared by their program next to ours, is still there and follows the pin.
        expect(releaseNoteVersion(state)).toBe("2");
    });

    it("refuses a stale stack file that still pins 3, without touching the cluster", () => {
        const current = readFileSync(stackFile(), "utf8");
        const stale = current.replace('mlops:pinned: "2"', 'mlops:pinned: "1"').replace('mlops:quarantined: [ "3" ]', "mlops:quarantined: []");
        writeFileSync(stackFile(), stale);
        try {
            const run = mlops("deploy", "--stack", STACK, "--version", "3", "--yes");
            expect(run.code).toBe(2);
            expect(run.stderr).toContain("--version 3: quarantined");
            expect(run.stderr).toContain("from the stack's quarantine ledger: 3 rolled back at");
            expect(servingDeployments(state)).toEqual(["fraud-detector-2"]);
        } finally {
            writeFileSync(stackFile(), current);
        }
    });

    it("stops the engine itself on a stale stack file that pins 3: the program refuses, nothing changes", async () => {
        // What a plain `pulumi up` of the user's project does with a stale
        // file: the engine runs their program through the language host, with
        // no mlops checks in front.
        const current = readFileSync(stackFile(), "utf8");
        writeFileSync(stackFile(), current.replace('mlops:pinned: "2"', 'mlops:pinned: "3"').replace('mlops:quarantined: [ "3" ]', "mlops:quarantined: []"));
        try {
            const error = await withSandboxStack(state, project, (stack) => stack.up({ message: "stale config" }).catch((e: unknown) => e));
            expect(String(error)).toContain("mlops:pinned is 3, but version 3 was rolled back to 1 at");
            expect(servingDeployments(state)).toEqual(["fraud-detector-2"]);
            expect(backendHistory()[0]).toMatchObject({ message: "stale config", result: "failed" });
            expect(backendHistory()[0].resourceChanges ?? {}).not.toHaveProperty("update");
            expect(releaseNoteVersion(state)).toBe("2");
        } finally {
            writeFileSync(stackFile(), current);
        }
    });

    it("shows in mlops status and history what kubectl and the backend show", () => {
        const status = JSON.parse(mlops("status", "--stack", STACK, "--json").stdout) as {
            pinnedVersion: string;
            warmVersions: string[];
            servingHistory: { version: string }[];
            quarantined: Record<string, unknown>;
        };
        expect(status.pinnedVersion).toBe(
            kubectl(state, ["get", "service", "fraud-detector", "-n", "fraud", "-o", "jsonpath={.spec.selector.mlops-rollback/version}"]),
        );
        expect(status.warmVersions).toEqual(["1"]);
        expect(status.servingHistory.map((entry) => entry.version)).toEqual(["3", "1", "2"]);
        expect(Object.keys(status.quarantined)).toEqual(["3"]);
        const deployments = kubectl(state, ["get", "deployments", "-n", "fraud", "-o", "jsonpath={.items[*].metadata.name}"]).split(" ").sort();
        expect(deployments).toEqual(["fraud-detector-1", "fraud-detector-2"]);

        const { updates: history } = JSON.parse(mlops("history", "--stack", STACK, "--json").stdout) as { updates: { message: string; result: string }[] };
        expect(history.map((h) => [h.message, h.result])).toEqual(backendHistory().map((h) => [h.message, h.result]));
    });
});

const serviceSelects = () => kubectl(state, ["get", "service", "fraud-detector", "-n", "fraud", "-o", "jsonpath={.spec.selector.mlops-rollback/version}"]);
const selectorManagers = () =>
    (
        JSON.parse(kubectl(state, ["get", "service", "fraud-detector", "-n", "fraud", "--show-managed-fields", "-o", "json"])) as {
            metadata: { managedFields: { manager: string; fieldsV1?: { "f:spec"?: Record<string, unknown> } }[] };
        }
    ).metadata.managedFields
        .filter((entry) => entry.fieldsV1?.["f:spec"] !== undefined && "f:selector" in (entry.fieldsV1["f:spec"] ?? {}))
        .map((entry) => entry.manager.replace(/^pulumi-kubernetes-\w+$/, "pulumi-kubernetes"));

/** Run mlops without blocking this process (so that a watch can run beside it). */
function mlopsAsync(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [MLOPS_BIN, ...args], { cwd: project, env: { ...process.env, ...state.env }, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
}

/** Run mlops detached and kill its whole process group (the engine included) as soon as it reports the switch. */
function mlopsKilledAfterSwitch(...args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [MLOPS_BIN, ...args], {
            cwd: project,
            env: { ...process.env, ...state.env },
            detached: true,
            stdio: ["ignore", "ignore", "pipe"],
        });
        let stderr = "";
        child.stderr.on("data", (chunk: Buffer) => {
            stderr += chunk.toString();
            if (stderr.includes("Switched Service") && child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, "SIGKILL");
        });
        child.on("error", reject);
        child.on("close", (_code, signal) => (signal === "SIGKILL" ? resolve(stderr) : reject(new Error(`not killed after the switch:\n${stderr}`))));
    });
}

describe("the instant switch on Kubernetes, interrupted, raced by a stale copy, then finished", () => {
    const staleProject = path.join(SANDBOX_DIR, "e2e-stale");

    it("a rollback killed right after its one write leaves traffic on the target and the selector held by mlops-rollback; mlops status says so", async () => {
        expect(serviceSelects()).toBe("2");
        // A teammate's copy of the project, from before the rollback: it pins 2.
        mkdirSync(staleProject, { recursive: true });
        for (const name of ["Pulumi.yaml", "package.json", "tsconfig.json", "index.ts", `Pulumi.${STACK}.yaml`]) {
            writeFileSync(path.join(staleProject, name), readFileSync(path.join(project, name)));
        }
        const updatesBefore = backendHistory().length;

        const stderr = await mlopsKilledAfterSwitch("rollback", "--stack", STACK, "--version", "1", "--reason", "e2e: killed after the switch", "--yes");
        expect(stderr).toContain("Switched Service fraud/fraud-detector from 2 to 1 (one compare-and-set write");
        expect(serviceSelects()).toBe("1");
        expect(servingDeployments(state)).toEqual(["fraud-detector-1"]);
        expect(selectorManagers()).toEqual(["mlops-rollback"]);
        const file = rawConfigFromStackFile(stackFile()) as { pinned: string; quarantined: string[] };
        expect([file.pinned, [...file.quarantined].sort()]).toEqual(["1", ["2", "3"]]);
        // Killed before the engine recorded anything.
        expect(backendHistory()).toHaveLength(updatesBefore);

        const status = mlops("status", "--stack", STACK);
        expect(status.stdout).toContain("serving version 1 (the stack records 2)");
        expect(status.stdout).toContain(`an instant rollback switched it and its update did not finish; mlops rollback --stack ${STACK} finishes it`);
    }, 120_000);

    it("a stale copy's pulumi up --refresh that would move the selector back fails loudly on the field conflict, and traffic stays", async () => {
        const error = await withSandboxStack(state, staleProject, (stack) => stack.up({ refresh: true, message: "stale copy" }).catch((e: unknown) => e));
        expect(String(error)).toContain('conflict with "mlops-rollback"');
        expect(String(error)).toContain(".spec.selector");
        expect(serviceSelects()).toBe("1");
        expect(servingDeployments(state)).toEqual(["fraud-detector-1"]);
    }, 180_000);

    it("the next mlops rollback takes over the dead run's lock, writes nothing more, records the rollback (the selector never flaps) and gives the selector back", async () => {
        // kubectl's own watch of the Service, one selector per line, while the run records the switch.
        const watcher = spawn(
            path.join(state.bin, "kubectl"),
            [
                "--kubeconfig",
                state.kubeconfig,
                "get",
                "service",
                "fraud-detector",
                "-n",
                "fraud",
                "--watch",
                "-o",
                'jsonpath={.spec.selector.mlops-rollback/version}{"\\n"}',
            ],
            { stdio: ["ignore", "pipe", "ignore"] },
        );
        let seen = "";
        watcher.stdout.on("data", (chunk: Buffer) => (seen += chunk.toString()));
        let run;
        try {
            run = await mlopsAsync("rollback", "--stack", STACK, "--yes", "--json");
        } finally {
            watcher.kill();
        }
        // Every version the Service selected from before the run to after it: 1, and nothing else.
        expect(new Set(seen.trim().split("\n")), seen).toEqual(new Set(["1"]));
        expect(run.code).toBe(0);
        expect(run.stderr).toContain("Took over the stack file's lock from mlops rollback --version 1");
        expect(run.stderr).toContain("The Service already selects version 1");
        expect(run.stderr).not.toContain("Switched Service");
        expect(JSON.parse(run.stdout)).toMatchObject({ ok: true, kind: "rollback", from: "2", to: "1", result: "succeeded" });
        expect(backendHistory()[0]).toMatchObject({ message: "rollback 2 -> 1: finishing a rollback that did not complete", result: "succeeded" });
        expect(serviceSelects()).toBe("1");
        expect(selectorManagers()).toEqual(["pulumi-kubernetes"]);
        // The version rolled back from is kept, scaled to zero, for the investigation.
        expect(kubectl(state, ["get", "deployment", "fraud-detector-2", "-n", "fraud", "-o", "jsonpath={.spec.replicas}"])).toBe("0");
        expect(mlops("status", "--stack", STACK).stdout).not.toContain("traffic:");
    }, 180_000);

    it("after it, mlops deploy --force of the version rolled back from succeeds: no field conflict is left behind", () => {
        const run = mlops("deploy", "--stack", STACK, "--version", "2", "--force", "--yes");
        expect(run.code).toBe(0);
        expect(serviceSelects()).toBe("2");
        expect(servingDeployments(state)).toEqual(["fraud-detector-2"]);
        expect(selectorManagers()).toEqual(["pulumi-kubernetes"]);
    }, 180_000);
});

const POLICY_PACK = path.join(PROJECT_DIR, "policy");

/** A preview with the policy pack, as `pulumi preview --policy-pack policy [--policy-pack-config F]` runs it. */
async function previewWithPolicyPack(stack: Stack, policyPackConfig?: object) {
    const violations: PolicyEvent[] = [];
    let packsRun: Record<string, string> = {};
    let configFile: string | undefined;
    if (policyPackConfig !== undefined) {
        configFile = path.join(SANDBOX_DIR, `policy-config-${Date.now()}.json`);
        writeFileSync(configFile, JSON.stringify(policyPackConfig));
    }
    const error = await stack
        .preview({
            policyPacks: [POLICY_PACK],
            policyPackConfigs: configFile === undefined ? undefined : [configFile],
            onEvent: (event) => {
                if (event.policyEvent !== undefined) violations.push(event.policyEvent);
                // The engine sends this field as PolicyPacks (no JSON tag, kept for compatibility), not as the type's policyPacks.
                if (event.summaryEvent !== undefined) packsRun = (event.summaryEvent as unknown as { PolicyPacks: Record<string, string> }).PolicyPacks;
            },
        })
        .then(
            () => undefined,
            (e: unknown) => String(e),
        );
    return { violations, packsRun, error };
}

describe("the policy pack on the real engine", () => {
    it("passes the sandbox stack with zero violations", async () => {
        const updates = backendHistory().length;
        const { violations, packsRun, error } = await withSandboxStack(state, project, (stack) => previewWithPolicyPack(stack));
        expect(error).toBeUndefined();
        expect(violations).toEqual([]);
        // The pack did run: the engine's summary names it.
        expect(Object.keys(packsRun)).toEqual([`mlops-rollback|local|${POLICY_PACK}`]);
        expect(backendHistory()).toHaveLength(updates);
    }, 180_000);

    it("stops a test stack whose Deployment's image is a tag and ignores image changes, until each rule is exempted by name with a reason", async () => {
        // GIVEN a team's own Deployment next to ours, with two inputs the rules forbid
        const projectDir = path.join(SANDBOX_DIR, "policy-test");
        mkdirSync(projectDir, { recursive: true });
        const program = async () => {
            new k8s.apps.v1.Deployment(
                "tagged",
                {
                    metadata: { namespace: "default" },
                    spec: {
                        selector: { matchLabels: { app: "tagged" } },
                        template: { metadata: { labels: { app: "tagged" } }, spec: { containers: [{ name: "model", image: "nginx:1.27" }] } },
                    },
                },
                { ignoreChanges: ["spec.template.spec.containers[0].image"] },
            );
            return Promise.resolve();
        };
        await withInlineStack(state, { projectDir, projectName: "policy-test", stackName: "bad", program }, async (stack) => {
            // WHEN previewed with the pack THEN the engine stops on both rules, for that resource, with the input named
            const bad = await previewWithPolicyPack(stack);
            expect(bad.error).toContain("preview failed");
            expect(bad.violations.map((v) => [v.policyName, v.enforcementLevel, v.resourceUrn?.split("::").pop()]).sort()).toEqual([
                ["MLOPS_IMAGE_DIGEST", "mandatory", "tagged"],
                ["MLOPS_NO_IGNORE_CHANGES_ON_VERSION", "mandatory", "tagged"],
            ]);
            expect(bad.violations.map((v) => v.message).join("\n")).toContain("'nginx:1.27' is not pinned by digest");

            // An exemption without a real reason is refused by the engine before the pack runs
            const unexplained = await previewWithPolicyPack(stack, {
                MLOPS_IMAGE_DIGEST: { exemptions: [{ resource: "tagged", reason: "because" }] },
            });
            expect(unexplained.error).toContain("exemptions.0.reason: String length must be greater than or equal to 10");

            // Exempting one rule leaves the other
            const oneRule = await previewWithPolicyPack(stack, {
                MLOPS_IMAGE_DIGEST: { exemptions: [{ resource: "tagged", reason: "a public demo image, mirrored nightly" }] },
            });
            expect(oneRule.violations.map((v) => v.policyName)).toEqual(["MLOPS_NO_IGNORE_CHANGES_ON_VERSION"]);

            const both = await previewWithPolicyPack(stack, {
                MLOPS_IMAGE_DIGEST: { exemptions: [{ resource: "tagged", reason: "a public demo image, mirrored nightly" }] },
                MLOPS_NO_IGNORE_CHANGES_ON_VERSION: { exemptions: [{ resource: "tagged", reason: "the image is rolled by another controller" }] },
            });
            expect(both.error).toBeUndefined();
            expect(both.violations).toEqual([]);
        });
        // Previews only: nothing was deployed.
        expect(kubectl(state, ["get", "deployments", "-n", "default", "-o", "name"])).toBe("");
    }, 300_000);
});

describe("a version whose pods never become ready", () => {
    it("fails mlops deploy within the rollout timeout (exit 1) and leaves traffic on the version that served", () => {
        // kwok's pod-ready stage skips pods of this version (sandbox.ts), like a model that never loads.
        const document = parseDocument(readFileSync(stackFile(), "utf8"));
        const versions = document.getIn(["config", "mlops:versions"]) as YAMLSeq;
        versions.add(
            document.createNode({
                version: NEVER_READY_VERSION,
                image: `registry.example.com/ml/fraud-detector@sha256:${"4".repeat(64)}`,
                artifact: "s3://acme-ml-models/fraud-detector/never-ready/model.tar.gz",
            }),
        );
        writeFileSync(stackFile(), document.toString());
        const serving = servingDeployments(state);
        expect(serving).toEqual(["fraud-detector-2"]);

        const run = mlops("deploy", "--stack", STACK, "--version", NEVER_READY_VERSION, "--yes");
        expect(run.code).toBe(1);
        expect(run.stderr).toContain("the deploy to never-ready failed");
        // Failed for the right reason: pulumi-kubernetes gave up waiting for the
        // Deployment's pods to be ready (its await logic, provider/pkg/await),
        // not a provider or program error, and only once the rollout timeout
        // (rolloutTimeoutSeconds) had passed; the rest is the engine starting
        // and stopping (rolloutTimeoutSeconds is 60 in the sandbox stack).
        expect(run.stderr).toMatch(NEVER_READY_CAUSE);
        expect(run.seconds).toBeGreaterThanOrEqual(rolloutTimeoutSecondsOf(stackFile()));
        expect(run.seconds).toBeLessThan(150);
        expect(servingDeployments(state)).toEqual(serving);
        expect(kubectl(state, ["get", "service", "fraud-detector", "-n", "fraud", "-o", "jsonpath={.spec.selector.mlops-rollback/version}"])).toBe("2");
        // It never served, so it never enters the stack's serving record, and the warm set stays the versions that did.
        const status = JSON.parse(mlops("status", "--stack", STACK, "--json").stdout) as { servingHistory: { version: string }[]; warmVersions: string[] };
        expect(status.servingHistory.map((entry) => entry.version)).toEqual(["3", "1", "2"]);
        expect(status.warmVersions).toEqual(["1"]);
    });
});
