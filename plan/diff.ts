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
    for (const [key, previous] of beforeByKey) {
        if (afterByKey.has(key)) continue;
        const retained = previous.options?.retainOnDelete === true;
        operations.push({ type: previous.type, name: previous.name, op: "delete", changed: [], ...(retained ? { retained: true as const } : {}) });
    }
    return operations.sort((a, b) => a.type.localeCompare(b.type) || a.name.localeCompare(b.name));
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
