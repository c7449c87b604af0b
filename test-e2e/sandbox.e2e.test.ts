/**
 * The real engine on the sandbox: the Pulumi CLI, the Kubernetes provider
 * and a kube-apiserver, all built from Go modules. Every check is made with
 * kubectl or the backend's own record (`pulumi stack history`), never with
 * our code's view of things.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parseDocument, type YAMLSeq } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { rawConfigFromStackFile } from "../config/sources";
import { runStackProgram } from "../stackProgram";
import { runMlops, scratchProject, servingDeployments, STACK } from "../sandbox/demo";
import { kubectl, NEVER_READY_VERSION, sandboxDown, sandboxUp, type SandboxState } from "../sandbox/sandbox";

let state: SandboxState;
let project: string;

beforeAll(async () => {
    state = await sandboxUp();
    project = scratchProject(state, "e2e");
});

afterAll(async () => {
    await sandboxDown();
});

const stackFile = () => path.join(project, "stacks", `Pulumi.${STACK}.yaml`);

function mlops(...args: string[]) {
    const run = runMlops(state, project, args);
    if (run.code !== 0) process.stderr.write(`mlops ${args.join(" ")} exited ${run.code}:\n${run.stderr}${run.stdout}\n`);
    return run;
}

/** The backend's record of the stack's updates, newest first. */
function backendHistory(): { message: string; result: string; resourceChanges?: Record<string, number> }[] {
    const json = execFileSync(path.join(state.bin, "pulumi"), ["stack", "history", "--stack", STACK, "--json"], {
        cwd: project,
        env: { ...process.env, ...state.env },
        encoding: "utf8",
    });
    return JSON.parse(json) as { message: string; result: string; resourceChanges?: Record<string, number> }[];
}

const deploymentUid = (version: string) => kubectl(state, ["get", "deployment", `fraud-detector-${version}`, "-n", "fraud", "-o", "jsonpath={.metadata.uid}"]);

describe("deploy 1 -> 2 -> 3, then mlops rollback", () => {
    it("serves each deployed version, then rolls back to 2 by moving the Service only", () => {
        for (const version of ["1", "2", "3"]) {
            expect(mlops("deploy", "--stack", STACK, "--version", version, "--yes").code).toBe(0);
            expect(servingDeployments(state)).toEqual([`fraud-detector-${version}`]);
        }
        const standbyUidBefore = deploymentUid("2");

        const rollback = mlops("rollback", "--stack", STACK, "--reason", "e2e: 5xx", "--yes", "--json");
        expect(rollback.code).toBe(0);
        expect(JSON.parse(rollback.stdout)).toMatchObject({ kind: "rollback", from: "3", to: "2", result: "succeeded" });

        // kubectl: traffic is on 2's pods, and 2's Deployment is the one that was already running.
        expect(servingDeployments(state)).toEqual(["fraud-detector-2"]);
        expect(kubectl(state, ["get", "service", "fraud-detector", "-n", "fraud", "-o", "jsonpath={.spec.selector.mlops-rollback/version}"])).toBe("2");
        expect(deploymentUid("2")).toBe(standbyUidBefore);

        // The backend: the rollback replaced nothing and is recorded with its reason.
        const [last] = backendHistory();
        expect(last.message).toBe("rollback 3 -> 2: e2e: 5xx");
        expect(last.result).toBe("succeeded");
        expect(last.resourceChanges?.replace ?? 0).toBe(0);
        expect(last.resourceChanges?.create ?? 0).toBeLessThanOrEqual(1); // only the new standby, version 1

        // The stack file: 3 is quarantined.
        expect(rawConfigFromStackFile(stackFile()).quarantined).toEqual(["3"]);
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
        // What a plain `pulumi up` does with a stale file, minus the language
        // host (not buildable here): the engine runs the program through the
        // Automation API's own language server, with no mlops checks in front.
        const current = readFileSync(stackFile(), "utf8");
        writeFileSync(stackFile(), current.replace('mlops:pinned: "2"', 'mlops:pinned: "3"').replace('mlops:quarantined: [ "3" ]', "mlops:quarantined: []"));
        // The sandbox's pulumi, backend and cluster, for this process too.
        const saved = { ...process.env };
        Object.assign(process.env, state.env);
        try {
            const stack = await LocalWorkspace.selectStack(
                { stackName: STACK, projectName: "mlops", program: () => runStackProgram(undefined) },
                { workDir: project },
            );
            const error = await stack.up({ message: "stale config" }).catch((e: unknown) => e);
            expect(String(error)).toContain("mlops:pinned is 3, but version 3 was rolled back to 2 at");
            expect(servingDeployments(state)).toEqual(["fraud-detector-2"]);
            expect(backendHistory()[0]).toMatchObject({ message: "stale config", result: "failed" });
            expect(backendHistory()[0].resourceChanges ?? {}).not.toHaveProperty("update");
        } finally {
            writeFileSync(stackFile(), current);
            process.env = saved;
        }
    });

    it("shows in mlops status and history what kubectl and the backend show", () => {
        const status = JSON.parse(mlops("status", "--stack", STACK, "--json").stdout) as {
            pinnedVersion: string;
            warmVersions: string[];
            quarantined: Record<string, unknown>;
        };
        expect(status.pinnedVersion).toBe(
            kubectl(state, ["get", "service", "fraud-detector", "-n", "fraud", "-o", "jsonpath={.spec.selector.mlops-rollback/version}"]),
        );
        expect(status.warmVersions).toEqual(["1", "2"]);
        expect(Object.keys(status.quarantined)).toEqual(["3"]);
        const deployments = kubectl(state, ["get", "deployments", "-n", "fraud", "-o", "jsonpath={.items[*].metadata.name}"]).split(" ").sort();
        expect(deployments).toEqual(["fraud-detector-1", "fraud-detector-2"]);

        const history = JSON.parse(mlops("history", "--stack", STACK, "--json").stdout) as { message: string; result: string }[];
        expect(history.map((h) => [h.message, h.result])).toEqual(backendHistory().map((h) => [h.message, h.result]));
    });
});

describe("bad input never touches the stack", () => {
    /** Every file of the sandbox's file backend (the stack's state, its history and backups), path → bytes. */
    function backendFiles(): Map<string, Buffer> {
        const root = path.join(state.dir, "state");
        const files = new Map<string, Buffer>();
        const walk = (dir: string) => {
            for (const entry of readdirSync(dir, { withFileTypes: true })) {
                const full = path.join(dir, entry.name);
                if (entry.isDirectory()) walk(full);
                else files.set(path.relative(root, full), readFileSync(full));
            }
        };
        walk(root);
        return files;
    }

    /** [args, the fragment stderr must contain]: each a bad flag, argument or request against the deployed stack (pinned 2, 3 quarantined). */
    const BAD_INVOCATIONS: [string[], string][] = [
        [["rollback", "--stack", STACK, "--version", "99", "--yes"], "--version 99: not in mlops:versions"],
        [["rollback", "--stack", STACK, "--version", "3", "--yes"], "--version 3: comes after the pinned 2"],
        [["rollback", "--stack", STACK, "--version", "2", "--yes"], "--version 2: already the pinned version"],
        [["rollback", "--stack", STACK, "--version", "1", "--expect-from", "3", "--yes"], "--expect-from 3: the stack file pins 2"],
        [["rollback", "--stack", STACK, "--version", "1", "--restore-database", "--yes"], "--restore-database: the stack has no mlops:database section"],
        [["rollback", "--stack", STACK, "--version", "1"], "no terminal to confirm on; pass --yes"],
        [["rollback", "--stack", STACK, "--bogus"], "unknown option '--bogus'"],
        [["rollback", "--stack", "nosuch", "--yes"], "Pulumi.nosuch.yaml"],
        [["deploy", "--stack", STACK, "--yes"], "required option '--version <version>' not specified"],
        [["deploy", "--stack", STACK, "--version", "1", "--yes"], "--version 1: comes before the pinned 2"],
        [["deploy", "--stack", STACK, "--version", "3", "--yes"], "--version 3: quarantined"],
        [["deploy", "--stack", STACK, "--version", "2", "--yes"], "--version 2: already the pinned version"],
        [["plan", "--stack", STACK], "give exactly one of --to <version>"],
        [["plan", "--stack", STACK, "--to", "99"], "--to 99: not in mlops:versions"],
        [["plan", "--stack", STACK, "--against", "no-such-file.yaml"], "no-such-file.yaml"],
        [["validate", "--stack", STACK, "--config-file", "x.yaml"], "cannot be used with option"],
        [["no-such-command"], "unknown command 'no-such-command'"],
    ];

    it(`refuses ${BAD_INVOCATIONS.length} bad invocations with exit 2 and a message naming the fault; the state, the stack file and the cluster stay as they were`, () => {
        const stateBefore = backendFiles();
        const stackFileBefore = readFileSync(stackFile());
        const servingBefore = servingDeployments(state);
        expect(stateBefore.size).toBeGreaterThan(0);

        for (const [args, fragment] of BAD_INVOCATIONS) {
            const run = runMlops(state, project, args);
            expect(run.code, `mlops ${args.join(" ")}: ${run.stderr}`).toBe(2);
            expect(run.stderr, `mlops ${args.join(" ")}`).toContain(fragment);
            expect(run.stderr, `mlops ${args.join(" ")}`).not.toMatch(/\n\s+at /);
        }

        expect(backendFiles()).toEqual(stateBefore);
        expect(readFileSync(stackFile()).equals(stackFileBefore)).toBe(true);
        expect(servingDeployments(state)).toEqual(servingBefore);
    });

    it("refuses every invalid stack config of test/configs/invalid as the stack's file (exit 2, the key named), touching nothing", () => {
        const invalidDir = path.join(__dirname, "..", "test", "configs", "invalid");
        const files = readdirSync(invalidDir).filter((file) => file.endsWith(".yaml"));
        expect(files.length).toBeGreaterThanOrEqual(40);
        const stateBefore = backendFiles();
        const original = readFileSync(stackFile());
        try {
            for (const file of files) {
                const text = readFileSync(path.join(invalidDir, file), "utf8");
                const key = /^# expect: (\S+) \|/m.exec(text)?.[1];
                expect(key, file).toBeDefined();
                writeFileSync(stackFile(), text);
                const run = runMlops(state, project, ["rollback", "--stack", STACK, "--yes"]);
                expect(run.code, `${file}: ${run.stderr}`).toBe(2);
                expect(run.stderr, file).toContain(key as string);
                expect(readFileSync(stackFile(), "utf8"), file).toBe(text);
            }
        } finally {
            writeFileSync(stackFile(), original);
        }
        expect(backendFiles()).toEqual(stateBefore);
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
        // rolloutTimeoutSeconds is 60 in the sandbox stack; the rest is the engine starting and stopping.
        expect(run.seconds).toBeLessThan(150);
        expect(servingDeployments(state)).toEqual(serving);
        expect(kubectl(state, ["get", "service", "fraud-detector", "-n", "fraud", "-o", "jsonpath={.spec.selector.mlops-rollback/version}"])).toBe("2");
    });
});
