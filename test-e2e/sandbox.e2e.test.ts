/**
 * The real engine on the sandbox: the Pulumi CLI, the Kubernetes provider
 * and a kube-apiserver, all built from Go modules. Every check is made with
 * kubectl or the backend's own record (`pulumi stack history`), never with
 * our code's view of things.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as k8s from "@pulumi/kubernetes";
import type { PolicyEvent, Stack } from "@pulumi/pulumi/automation";
import { parseDocument, type YAMLSeq } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawConfigFromStackFile } from "../config/sources";
import {
    backendHistory as backendHistoryOf,
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
        expect(JSON.parse(rollback.stdout)).toMatchObject({ kind: "rollback", from: "3", to: "1", result: "succeeded" });

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

        const history = JSON.parse(mlops("history", "--stack", STACK, "--json").stdout) as { message: string; result: string }[];
        expect(history.map((h) => [h.message, h.result])).toEqual(backendHistory().map((h) => [h.message, h.result]));
    });
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
