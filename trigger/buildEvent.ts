/**
 * The reconcile build's end, as EventBridge reports it: a build that failed
 * or was stopped leaves traffic on the restored version while the stack still
 * pins the bad one, and someone has to be told.
 */

/** The fields of a `CodeBuild Build State Change` event the handler reads, as AWS sends them (`triageBuildEvent` checks them). */
export interface BuildStateChangeEvent {
    readonly id: string;
    readonly "detail-type": string;
    readonly source: string;
    readonly detail: {
        readonly "build-status": string;
        readonly "project-name": string;
        readonly "build-id": string;
        readonly "additional-information"?: {
            readonly environment?: { readonly "environment-variables"?: readonly { readonly name: string; readonly value?: string }[] };
        };
    };
}

export const BUILD_STATE_CHANGE = "CodeBuild Build State Change";

/** The build statuses that leave a rollback unreconciled. */
export const UNRECONCILED_BUILD_STATUSES = ["FAILED", "STOPPED"];

export interface FailedReconcile {
    readonly buildId: string;
    readonly status: string;
    /** From the build's environment, when EventBridge reports it. */
    readonly from?: string;
    readonly to?: string;
    readonly alarmName?: string;
    /** Why the build's environment variables could not be read (then the versions are the trigger's own). */
    readonly unreadable?: string;
}

/** A CodeBuild Build State Change by its type and source; `triageBuildEvent` checks the fields it reads. */
export function isBuildStateChange(event: unknown): event is BuildStateChangeEvent {
    if (typeof event !== "object" || event === null) return false;
    const candidate = event as { "detail-type"?: unknown; source?: unknown };
    return candidate["detail-type"] === BUILD_STATE_CHANGE && candidate.source === "aws.codebuild";
}

export type BuildTriage =
    | { readonly kind: "failed"; readonly build: FailedReconcile }
    | { readonly kind: "ignore"; readonly why: string }
    /** Not shaped like a build state change: nothing to report, and a retry would fail the same way. */
    | { readonly kind: "reject"; readonly why: string };

/**
 * A failed or stopped build of our runner project, or why the event is not
 * one. A field the decision needs (id, build status, project, build id)
 * missing or of another type rejects the event with the field's path; the
 * environment variables only add detail, so a failed build whose variables
 * are unreadable (not a list, an entry without a name) is still reported,
 * with the trigger's own versions and the reason.
 */
export function triageBuildEvent(event: BuildStateChangeEvent, runnerProject: string): BuildTriage {
    const problem = buildEventProblem(event);
    if (problem !== undefined) return { kind: "reject", why: `malformed CodeBuild Build State Change event: ${problem}` };
    const { detail } = event;
    if (detail["project-name"] !== runnerProject) return { kind: "ignore", why: `build of project '${detail["project-name"]}', not '${runnerProject}'` };
    if (!UNRECONCILED_BUILD_STATUSES.includes(detail["build-status"])) return { kind: "ignore", why: `build status ${detail["build-status"]}` };
    const environment = environmentOf(event);
    const variable = (name: string) => environment.variables.find((v) => v.name === name)?.value;
    return {
        kind: "failed",
        build: {
            buildId: detail["build-id"],
            status: detail["build-status"],
            from: variable("MLOPS_ROLLBACK_FROM"),
            to: variable("MLOPS_ROLLBACK_VERSION"),
            alarmName: variable("MLOPS_ALARM_NAME"),
            ...(environment.unreadable === undefined ? {} : { unreadable: environment.unreadable }),
        },
    };
}

/** The first field the triage reads that it cannot, by its path; undefined when it can read them all. */
function buildEventProblem(event: BuildStateChangeEvent): string | undefined {
    const candidate = event as unknown as Record<string, unknown>;
    if (typeof candidate.id !== "string" || candidate.id === "") return "id is not a non-empty string";
    const detail = candidate.detail as Record<string, unknown> | null | undefined;
    if (typeof detail !== "object" || detail === null) return "detail is not an object";
    for (const field of ["build-status", "project-name", "build-id"] as const) {
        if (typeof detail[field] !== "string" || detail[field] === "") return `detail.${field} is not a non-empty string`;
    }
    return undefined;
}

/** The build's environment variables that have a string name (and a string value, or none), and why any could not be read. */
function environmentOf(event: BuildStateChangeEvent): {
    readonly variables: readonly { readonly name: string; readonly value?: string }[];
    readonly unreadable?: string;
} {
    const path = "detail.additional-information.environment.environment-variables";
    const information = (event.detail as Record<string, unknown>)["additional-information"] as Record<string, unknown> | null | undefined;
    const environment =
        typeof information === "object" && information !== null ? (information.environment as Record<string, unknown> | null | undefined) : undefined;
    const raw = typeof environment === "object" && environment !== null ? environment["environment-variables"] : undefined;
    if (raw === undefined) return { variables: [] };
    if (!Array.isArray(raw))
        return { variables: [], unreadable: `${path} is ${raw === null ? "null" : typeof raw === "object" ? "an object" : `a ${typeof raw}`}, not a list` };
    const readable = raw.filter(
        (entry): entry is { name: string; value?: string } =>
            typeof entry === "object" &&
            entry !== null &&
            typeof (entry as { name?: unknown }).name === "string" &&
            ["string", "undefined"].includes(typeof (entry as { value?: unknown }).value),
    );
    if (readable.length === raw.length) return { variables: readable };
    return { variables: readable, unreadable: `${raw.length - readable.length} of the ${raw.length} entries of ${path} have no string name and value` };
}
