/**
 * `mlops plan` against the real engine: for each kind of change the
 * Kubernetes rows of `plan/replaceOnChange.ts` decide, the offline plan of an
 * edit (`mlops plan --against <deployed config>`) and the engine's own preview
 * of the same edit (the Pulumi CLI with pulumi-kubernetes, on the sandbox)
 * must name the same resources, and the plan's operation must be the
 * engine's or a stronger one (a replace where the engine updates: it may
 * overstate, never understate).
 *
 * Not reached from config here: the ConfigMap row's `.data` replace (the
 * example program's ConfigMap data is fixed; only its annotation follows the
 * pin) and the Deployment's `.spec.selector` replace (its labels change only
 * with the model name, which renames the Deployment: a create and a delete).
 */
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { parseDocument } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PlanOp } from "../plan/diff";
import { runMlops, scratchProject, STACK, stackFileOf, withSandboxStack } from "../sandbox/demo";
import { sandboxDown, sandboxUp, type SandboxState } from "../sandbox/sandbox";

let state: SandboxState;
let project: string;
/** The stack file as deployed: every case edits a copy of it and is planned against it. */
let deployed: string;
const DEPLOYED_FILE = "deployed.yaml";

beforeAll(async () => {
    state = await sandboxUp();
    project = scratchProject(state, "plan-vs-engine");
    // 2 serves and 1 is its warm standby: every kind of resource the program declares is live.
    for (const version of ["1", "2"]) {
        const run = runMlops(state, project, ["deploy", "--stack", STACK, "--version", version, "--yes"]);
        expect(run.code, run.stderr).toBe(0);
    }
    deployed = readFileSync(stackFileOf(project), "utf8");
    writeFileSync(path.join(project, DEPLOYED_FILE), deployed);
});

afterAll(async () => {
    await sandboxDown();
});

/** `type::name` → operation, for every resource a change touches. */
type Changes = Record<string, PlanOp>;

/**
 * The engine's steps for the edited stack file: each resource's operation as
 * its preview events give it. A replacement shows as several steps
 * (create-replacement, replace, delete-replaced); any of them means replace.
 * The engine's own resources (the stack, providers) and component resources
 * (groupings with nothing in the cluster, whose create and delete on a
 * rename are bookkeeping) are left out: the plan lists custom resources only.
 */
async function enginePreview(): Promise<Changes> {
    const changes: Changes = {};
    await withSandboxStack(state, project, (stack) =>
        stack.preview({
            onEvent: (event: EngineEvent) => {
                const metadata = event.resourcePreEvent?.metadata;
                if (metadata === undefined || metadata.type.startsWith("pulumi:")) return;
                // `custom` is left out of the event (not false) for a component resource.
                if ((metadata.new ?? metadata.old)?.custom !== true) return;
                const op = engineOp(metadata.op);
                if (op === undefined) return;
                const key = `${metadata.type}::${metadata.urn.split("::").pop()}`;
                if (changes[key] !== "replace") changes[key] = op;
            },
        }),
    );
    return changes;
}

function engineOp(op: string): PlanOp | undefined {
    switch (op) {
        case "create":
        case "update":
        case "delete":
            return op;
        case "replace":
        case "create-replacement":
        case "delete-replaced":
            return "replace";
        case "same":
        case "read":
            return undefined;
        default:
            throw new Error(`an engine step the comparison does not know: ${op}`);
    }
}

/** `mlops plan --stack sandbox --against deployed.yaml --json`: the offline plan of the same edit. */
function offlinePlan(): Changes {
    const run = runMlops(state, project, ["plan", "--stack", STACK, "--against", DEPLOYED_FILE, "--json"]);
    expect(run.code, run.stderr).toBe(0);
    const plan = JSON.parse(run.stdout) as { operations: { type: string; name: string; op: PlanOp }[] };
    return Object.fromEntries(plan.operations.map((operation) => [`${operation.type}::${operation.name}`, operation.op]));
}

/** The stack file as deployed, with `edit` applied to its config map. */
function editedStackFile(edit: (config: { set(key: string, value: unknown): void }) => void): string {
    const document = parseDocument(deployed);
    edit({ set: (key, value) => document.setIn(["config", ...key.split(".")], document.createNode(value)) });
    return document.toString();
}

/** Plan and preview one edit; the stack file is restored after. */
async function compare(edit: (config: { set(key: string, value: unknown): void }) => void): Promise<{ engine: Changes; plan: Changes }> {
    writeFileSync(stackFileOf(project), editedStackFile(edit));
    try {
        return { engine: await enginePreview(), plan: offlinePlan() };
    } finally {
        writeFileSync(stackFileOf(project), deployed);
    }
}

/**
 * What the plan may name for what the engine does: the same operation, or
 * for an in-place update a replace (overstating is allowed). A create or a
 * delete where the engine replaces, or anything but an update or replace
 * where it updates, says something else, not more.
 */
const ALLOWED: Record<PlanOp, readonly PlanOp[]> = { update: ["update", "replace"], replace: ["replace"], create: ["create"], delete: ["delete"] };

/** Where the plan says less than the engine, or something else: a resource it leaves out, or an operation the engine's is not allowed to be named as. */
function understated(engine: Changes, plan: Changes): string[] {
    return Object.entries(engine)
        .filter(([key, op]) => plan[key] === undefined || !ALLOWED[op].includes(plan[key]))
        .map(([key, op]) => `${key}: engine ${op}, plan ${plan[key] ?? "nothing"}`);
}

/** [case, the edit, what the engine is expected to do to the resources the table's rule covers] */
const CASES: [string, (config: { set(key: string, value: unknown): void }) => void, Changes][] = [
    [
        "a rollback's pin change (the Service's and the PodDisruptionBudget's .spec.selector, the user's ConfigMap's annotation: all update in place)",
        (config) => config.set("mlops:pinned", "1"),
        {
            "kubernetes:core/v1:Service::fraud-detector-service": "update",
            "kubernetes:policy/v1:PodDisruptionBudget::fraud-detector-pdb": "update",
            "kubernetes:core/v1:ConfigMap::release-note": "update",
        },
    ],
    [
        "more replicas (Deployment .spec.replicas updates in place)",
        (config) => config.set("mlops:kubernetes.replicas", 3),
        { "kubernetes:apps/v1:Deployment::fraud-detector-deployment-2": "update" },
    ],
    [
        "another container port (the Deployments' templates update in place; the Service targets the port by name)",
        (config) => config.set("mlops:kubernetes.port", 9090),
        { "kubernetes:apps/v1:Deployment::fraud-detector-deployment-1": "update", "kubernetes:apps/v1:Deployment::fraud-detector-deployment-2": "update" },
    ],
    [
        "another service port (Service .spec.ports updates in place)",
        (config) => config.set("mlops:kubernetes.servicePort", 8081),
        { "kubernetes:core/v1:Service::fraud-detector-service": "update" },
    ],
    [
        "fewer replicas (Deployment .spec.replicas updates in place; the PodDisruptionBudget's maxUnavailable is fixed)",
        (config) => config.set("mlops:kubernetes.replicas", 1),
        { "kubernetes:apps/v1:Deployment::fraud-detector-deployment-2": "update" },
    ],
    [
        "another service type (Service .spec.type updates in place)",
        (config) => config.set("mlops:kubernetes.serviceType", "NodePort"),
        { "kubernetes:core/v1:Service::fraud-detector-service": "update" },
    ],
    [
        "another namespace (metadata.namespace replaces every namespaced resource; the Namespace's name replaces it)",
        (config) => config.set("mlops:kubernetes.namespace", "fraud-two"),
        { "kubernetes:core/v1:Service::fraud-detector-service": "replace", "kubernetes:core/v1:Namespace::fraud-detector-namespace": "replace" },
    ],
    [
        "another model name (new names: the old resources are deleted, the new ones created)",
        (config) => config.set("mlops:model", "fraud-scorer"),
        { "kubernetes:core/v1:Service::fraud-detector-service": "delete", "kubernetes:core/v1:Service::fraud-scorer-service": "create" },
    ],
];

describe("mlops plan --against names what the engine's preview does, never less", () => {
    it("an unchanged stack file: the engine and the plan both change nothing", async () => {
        const { engine, plan } = await compare(() => undefined);
        expect(engine).toEqual({});
        expect(plan).toEqual({});
    }, 300_000);

    it.each(CASES)(
        "%s",
        async (_name, edit, expectedSubset) => {
            const { engine, plan } = await compare(edit);
            // The edit does reach the engine (a case that changes nothing compares nothing).
            expect(Object.keys(engine).length).toBeGreaterThan(0);
            expect(engine).toMatchObject(expectedSubset);
            // The same resources.
            expect(Object.keys(plan).sort()).toEqual(Object.keys(engine).sort());
            // The same operation, or a stronger one.
            expect(understated(engine, plan)).toEqual([]);
        },
        300_000,
    );
});
