/**
 * The plan of going from one pin to another: what the engine would create,
 * update, replace or delete, from the resources each run registered.
 */
import type { RegisteredResource } from "./mockRuntime";
import { changeReplaces } from "./replaceOnChange";

export type PlanOp = "create" | "update" | "replace" | "delete";

export interface PlanOperation {
    readonly type: string;
    readonly name: string;
    readonly op: PlanOp;
    /** Input paths that differ (empty for create and delete). */
    readonly changed: string[];
    /** For a delete: the resource is only dropped from the stack and stays in AWS (retainOnDelete). */
    readonly retained?: true;
}

export interface PlanSummary {
    readonly create: number;
    readonly update: number;
    readonly replace: number;
    readonly delete: number;
}

const resourceKey = (r: RegisteredResource): string => `${r.type}::${r.name}`;

export function diffRegistrations(before: readonly RegisteredResource[], after: readonly RegisteredResource[]): PlanOperation[] {
    const beforeByKey = new Map(before.map((r) => [resourceKey(r), r]));
    const afterByKey = new Map(after.map((r) => [resourceKey(r), r]));
    const operations: PlanOperation[] = [];
    for (const [key, next] of afterByKey) {
        const previous = beforeByKey.get(key);
        if (previous === undefined) {
            operations.push({ type: next.type, name: next.name, op: "create", changed: [] });
            continue;
        }
        const changed = changedPaths(previous.inputs, next.inputs);
        if (changed.length === 0) continue;
        const op = changed.some((path) => changeReplaces(next.type, path)) ? "replace" : "update";
        operations.push({ type: next.type, name: next.name, op, changed });
    }
    withReplacementsDraggedAlong(operations, afterByKey);
    for (const [key, previous] of beforeByKey) {
        if (afterByKey.has(key)) continue;
        const retained = previous.options?.retainOnDelete === true;
        operations.push({ type: previous.type, name: previous.name, op: "delete", changed: [], ...(retained ? { retained: true as const } : {}) });
    }
    return operations.sort((a, b) => a.type.localeCompare(b.type) || a.name.localeCompare(b.name));
}

/** `fraud-detector-config-2`'s key from its URN (`urn:pulumi:stack::project::parent$type::name`). */
function keyOfUrn(urn: string): string {
    const parts = urn.split("::");
    const types = parts[parts.length - 2] ?? "";
    return `${types.slice(types.lastIndexOf("$") + 1)}::${parts[parts.length - 1]}`;
}

/**
 * A resource whose input came from a replaced resource changes with it,
 * whether or not the mocks renamed what it reads (a user's bucket's
 * \`bucket\`, a ConfigMap's generated \`metadata.name\`): the plan shows it,
 * as a replace where that input replaces, and so on down the chain. It may
 * overstate (the input may not change), never understate.
 */
function withReplacementsDraggedAlong(operations: PlanOperation[], afterByKey: ReadonlyMap<string, RegisteredResource>): void {
    const byKey = new Map(operations.map((operation, index) => [`${operation.type}::${operation.name}`, index]));
    let grew = true;
    while (grew) {
        grew = false;
        const replaced = new Set(operations.filter((o) => o.op === "replace").map((o) => `${o.type}::${o.name}`));
        for (const [key, resource] of afterByKey) {
            const index = byKey.get(key);
            const current = index === undefined ? undefined : operations[index];
            if (current?.op === "create" || current?.op === "replace") continue;
            const inputs = Object.entries(resource.options?.propertyDependencies ?? {})
                .filter(([input, urns]) => urns.some((urn) => replaced.has(keyOfUrn(urn))) && !coversInput(current?.changed ?? [], input))
                .map(([input]) => input);
            if (inputs.length === 0) continue;
            const changed = [...(current?.changed ?? []), ...inputs].sort();
            const op = changed.some((path) => changeReplaces(resource.type, path)) ? "replace" : "update";
            const next: PlanOperation = { type: resource.type, name: resource.name, op, changed };
            if (index === undefined) {
                byKey.set(key, operations.push(next) - 1);
            } else {
                operations[index] = next;
            }
            grew = true;
        }
    }
}

/** Whether a changed path already is, or lies under, this top-level input. */
function coversInput(changed: readonly string[], input: string): boolean {
    return changed.some((path) => path === input || path.startsWith(`${input}.`) || path.startsWith(`${input}[`));
}

export function summarize(operations: readonly PlanOperation[]): PlanSummary {
    const count = (op: PlanOp): number => operations.filter((o) => o.op === op).length;
    return { create: count("create"), update: count("update"), replace: count("replace"), delete: count("delete") };
}

/**
 * Paths of the leaves that differ: `endpointConfigName`,
 * `productionVariants[0].modelName`. Arrays compare element by element; a
 * length change reports the array itself.
 */
export function changedPaths(before: unknown, after: unknown, path = ""): string[] {
    if (isPlainObject(before) && isPlainObject(after)) {
        const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
        return keys.flatMap((key) => changedPaths(before[key], after[key], childPath(path, key)));
    }
    if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
        return before.flatMap((item, index) => changedPaths(item, after[index], `${path}[${index}]`));
    }
    return JSON.stringify(before) === JSON.stringify(after) ? [] : [path];
}

/** `spec.selector`, or `spec.selector["app.kubernetes.io/name"]` for keys that are not identifiers (label keys). */
function childPath(path: string, key: string): string {
    if (!/^[A-Za-z_$][\w$]*$/.test(key)) return `${path}[${JSON.stringify(key)}]`;
    return path === "" ? key : `${path}.${key}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}
