/**
 * `mlops plan` runs the user's own program: the project in the directory
 * mlops runs in. These tests run the example user projects (examples/) in
 * a child process under Pulumi's mock runtime, as the CLI does; they load
 * mlops-rollback from its compiled entry point (dist/, `npm run build`).
 */
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { StackFileError, rawConfigFromStackFile } from "../config/sources";
import { programOutputNames } from "../plan/isolatedRun";
import { planPinChange } from "../plan/plan";
import { engineConfigFor, programEntry, SECRET_PLACEHOLDER, userProgramIn } from "../plan/userProgram";

const ROOT = path.resolve(__dirname, "..");
const KUBERNETES_EXAMPLE = path.join(ROOT, "examples", "kubernetes");
const KUBERNETES_STACK = path.join(KUBERNETES_EXAMPLE, "Pulumi.sandbox.yaml");
const SAGEMAKER_EXAMPLE = path.join(ROOT, "examples", "sagemaker");
const SAGEMAKER_STACK = path.join(SAGEMAKER_EXAMPLE, "stacks", "Pulumi.dev.yaml");

/** A throwaway project directory with these files. */
function project(files: Record<string, string>): string {
    const dir = mkdtempSync(path.join(tmpdir(), "mlops-user-program-"));
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
    return dir;
}

describe("userProgramIn: the project mlops plan runs", () => {
    it("reads the example projects' names and their config outside mlops:*", () => {
        expect(userProgramIn(KUBERNETES_EXAMPLE, KUBERNETES_STACK)).toEqual({ dir: KUBERNETES_EXAMPLE, projectName: "acme-fraud-k8s", otherConfig: {} });
        expect(userProgramIn(SAGEMAKER_EXAMPLE, SAGEMAKER_STACK)).toEqual({
            dir: SAGEMAKER_EXAMPLE,
            projectName: "acme-fraud-sagemaker",
            otherConfig: { "aws:region": "us-east-1" },
        });
    });

    it("hands config over as the engine does: structured values as JSON, bare keys in the project's namespace, secrets as a placeholder", () => {
        const dir = project({
            "Pulumi.yaml": "name: acme\nruntime: nodejs\nmain: src/index.ts\n",
            "Pulumi.dev.yaml":
                "config:\n  acme:replicas: 3\n  owner: ml-team\n  acme:db: { host: a, port: 5432 }\n  acme:token:\n    secure: AAABAF==\n  mlops:pinned: '2'\n",
        });
        const program = userProgramIn(dir, path.join(dir, "Pulumi.dev.yaml"));
        expect(program).toEqual({
            dir,
            projectName: "acme",
            main: "src/index.ts",
            otherConfig: { "acme:replicas": "3", "acme:owner": "ml-team", "acme:db": '{"host":"a","port":5432}', "acme:token": SECRET_PLACEHOLDER },
        });
        expect(programEntry(program!)).toBe(path.join(dir, "src", "index.ts"));
        // The mlops:* keys come from the run's own raw config (the pin under plan), not from the file.
        expect(engineConfigFor(program!, { pinned: "3", warm: 1, versions: [{ version: "3" }] })).toEqual({
            ...program!.otherConfig,
            "mlops:pinned": "3",
            "mlops:warm": "1",
            "mlops:versions": '[{"version":"3"}]',
        });
    });

    it("takes Pulumi.yaml's config values and defaults, which the stack file's override", () => {
        const dir = project({
            "Pulumi.yaml":
                "name: acme\nruntime: nodejs\nconfig:\n  region: { type: string, default: eu-west-1 }\n  tier: { value: gold }\n  owner: { type: string }\n  aws:region: us-east-2\n",
            "Pulumi.dev.yaml": "config:\n  acme:tier: silver\n",
        });
        expect(userProgramIn(dir, path.join(dir, "Pulumi.dev.yaml"))?.otherConfig).toEqual({
            "acme:region": "eu-west-1",
            "acme:tier": "silver",
            "aws:region": "us-east-2",
        });
    });

    it("is undefined without a Pulumi.yaml, and refuses a project in another language", () => {
        const none = project({ "Pulumi.dev.yaml": "config: {}\n" });
        expect(userProgramIn(none, path.join(none, "Pulumi.dev.yaml"))).toBeUndefined();
        const python = project({ "Pulumi.yaml": "name: acme\nruntime: python\n", "Pulumi.dev.yaml": "config: {}\n" });
        expect(() => userProgramIn(python, path.join(python, "Pulumi.dev.yaml"))).toThrow(StackFileError);
        expect(() => userProgramIn(python, path.join(python, "Pulumi.dev.yaml"))).toThrow("runtime is 'python'; mlops plan runs Node.js");
    });
});

describe("planPinChange on the user's program", () => {
    it("lists the update of the Kubernetes example's own resource, which only the user's program declares", async () => {
        // GIVEN the example project pinned to 1, planned for its sandbox stack
        const program = userProgramIn(KUBERNETES_EXAMPLE, KUBERNETES_STACK);
        // WHEN a move to 2 is planned
        const plan = await planPinChange(rawConfigFromStackFile(KUBERNETES_STACK), "2", { program, stack: "sandbox" });
        // THEN the team's ConfigMap is updated in place (an annotation), and nothing of theirs is deleted
        expect(plan.operations).toContainEqual({
            type: "kubernetes:core/v1:ConfigMap",
            name: "release-note",
            op: "update",
            changed: ['metadata.annotations["acme.example.com/serving-version"]'],
        });
        expect(plan.operations.filter((operation) => operation.op === "delete" || operation.op === "replace")).toEqual([]);
        // Version 2's Deployment is created; the Service, the PDB and the ConfigMap move. With hot standby (the example's default) version 1 keeps its replicas.
        expect(plan.summary).toEqual({ create: 1, update: 3, replace: 0, delete: 0 });
    }, 120_000);

    it("lists the SageMaker example's own SSM parameter on a rollback (a type the plan does not know: planned as a replace)", async () => {
        const program = userProgramIn(SAGEMAKER_EXAMPLE, SAGEMAKER_STACK);
        const plan = await planPinChange(rawConfigFromStackFile(SAGEMAKER_STACK), "2", { program, stack: "dev" });
        // (`value` is a secret-capable input: the mock records it wrapped, hence value.value.)
        expect(plan.operations).toContainEqual({ type: "aws:ssm/parameter:Parameter", name: "serving-version", op: "replace", changed: ["value.value"] });
        expect(plan.operations).toContainEqual(
            expect.objectContaining({ type: "aws:sagemaker/endpoint:Endpoint", op: "update", changed: ["endpointConfigName"] }),
        );
    }, 120_000);

    it("reports a program that throws, with its message", async () => {
        const dir = project({
            "Pulumi.yaml": "name: broken\nruntime: nodejs\nmain: index.js\n",
            "Pulumi.dev.yaml": "config: {}\n",
            "index.js": 'module.exports = async () => { throw new Error("the team\'s program failed on purpose"); };\n',
        });
        const program = userProgramIn(dir, path.join(dir, "Pulumi.dev.yaml"));
        const error = await planPinChange(rawConfigFromStackFile(SAGEMAKER_STACK), "2", { program }).catch((e: unknown) => e);
        expect(String(error)).toContain("the team's program failed on purpose");
    }, 120_000);
});

describe("programOutputNames: whether a program exports mlops, before a stack's first update", () => {
    it("names the stack outputs the example program returns", async () => {
        const program = userProgramIn(KUBERNETES_EXAMPLE, KUBERNETES_STACK)!;
        expect(await programOutputNames(program, rawConfigFromStackFile(KUBERNETES_STACK), "sandbox")).toEqual(["mlops", "releaseNote"]);
    }, 120_000);

    it("names a module's exports for a program written without a function, and none for a program that returns nothing", async () => {
        const exportsOnly = project({ "Pulumi.yaml": "name: a\nruntime: nodejs\nmain: index.js\n", "index.js": "exports.endpoint = 'x';\n" });
        const nothing = project({ "Pulumi.yaml": "name: b\nruntime: nodejs\nmain: index.js\n", "index.js": "module.exports = async () => {};\n" });
        const raw = rawConfigFromStackFile(KUBERNETES_STACK);
        expect(await programOutputNames({ dir: exportsOnly, projectName: "a", main: "index.js", otherConfig: {} }, raw, "dev")).toEqual(["endpoint"]);
        expect(await programOutputNames({ dir: nothing, projectName: "b", main: "index.js", otherConfig: {} }, raw, "dev")).toEqual([]);
    }, 120_000);
});

describe("the user's program runs as Pulumi's Node.js runner runs it", () => {
    /** A user project in a temporary folder whose node_modules is this repository's (mlops-rollback in it is this package). */
    function exampleWith(index: string, extra: Record<string, string> = {}): string {
        const dir = mkdtempSync(path.join(tmpdir(), "mlops-user-project-"));
        symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
        writeFileSync(path.join(dir, "Pulumi.yaml"), "name: acme-scratch\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n");
        writeFileSync(path.join(dir, "index.ts"), index);
        for (const [name, text] of Object.entries(extra)) writeFileSync(path.join(dir, name), text);
        return dir;
    }
    const raw = () => rawConfigFromStackFile(KUBERNETES_STACK);
    const configMapIndex = (exports: string) => `import * as k8s from "@pulumi/kubernetes";
import { serveModelFromStackConfig } from "mlops-rollback";
const serving = serveModelFromStackConfig();
${exports}
`;

    it("plans a program that logs to stdout (its output goes to stderr, not into the result)", async () => {
        const dir = exampleWith(
            configMapIndex(`console.log("deploying the fraud model");
export = async () => ({ mlops: (await serving).stackOutput });`),
        );
        try {
            const program = userProgramIn(dir, KUBERNETES_STACK)!;
            expect(await programOutputNames(program, raw(), "sandbox")).toEqual(["mlops"]);
            const plan = await planPinChange(raw(), "2", { program, stack: "sandbox" });
            expect(plan.summary.update).toBeGreaterThan(0);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    }, 120_000);

    it("plans a program whose outputs are named exports holding promises, and waits for what they declare", async () => {
        const dir = exampleWith(
            configMapIndex(`export const mlops = serving.then((s) => s.stackOutput);
export const note = serving.then((s) => new k8s.core.v1.ConfigMap("note", { metadata: { annotations: { v: s.pinnedVersion } } }).metadata.name);`),
        );
        try {
            const program = userProgramIn(dir, KUBERNETES_STACK)!;
            expect((await programOutputNames(program, raw(), "sandbox")).sort()).toEqual(["mlops", "note"]);
            const plan = await planPinChange(raw(), "2", { program, stack: "sandbox" });
            expect(plan.operations).toContainEqual({ type: "kubernetes:core/v1:ConfigMap", name: "note", op: "update", changed: ["metadata.annotations.v"] });
            expect(plan.operations).toContainEqual(expect.objectContaining({ type: "kubernetes:core/v1:Service", op: "update" }));
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    }, 120_000);

    it("awaits a program whose module exports a promise (export = main())", async () => {
        const dir = exampleWith(
            configMapIndex(`async function main() { return { mlops: (await serving).stackOutput, extra: 1 }; }
export = main();`),
        );
        try {
            expect((await programOutputNames(userProgramIn(dir, KUBERNETES_STACK)!, raw(), "sandbox")).sort()).toEqual(["extra", "mlops"]);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    }, 120_000);

    it("imports an ES module program (package.json type: module) and takes its default export", async () => {
        const dir = exampleWith("", {
            "package.json": '{ "type": "module", "main": "index.mjs" }',
            "index.mjs": `import { serveModelFromStackConfig } from "mlops-rollback";
export default async () => ({ mlops: (await serveModelFromStackConfig()).stackOutput });
`,
        });
        try {
            expect(await programOutputNames(userProgramIn(dir, KUBERNETES_STACK)!, raw(), "sandbox")).toEqual(["mlops"]);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    }, 120_000);
});
