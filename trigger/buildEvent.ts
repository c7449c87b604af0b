/**
 * The reconcile build's end, as EventBridge reports it: a build that failed
 * or was stopped leaves traffic on the restored version while the stack still
 * pins the bad one, and someone has to be told.
 */

/** The fields of a `CodeBuild Build State Change` event the handler reads. */
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
}

export function isBuildStateChange(event: unknown): event is BuildStateChangeEvent {
    if (typeof event !== "object" || event === null) return false;
    const candidate = event as Partial<BuildStateChangeEvent>;
    return (
        candidate["detail-type"] === BUILD_STATE_CHANGE &&
        candidate.source === "aws.codebuild" &&
        typeof candidate.detail?.["build-status"] === "string" &&
        typeof candidate.detail["project-name"] === "string"
    );
}

/** A failed or stopped build of our runner project, or why the event is not one. */
export function triageBuildEvent(
    event: BuildStateChangeEvent,
    runnerProject: string,
): { kind: "failed"; build: FailedReconcile } | { kind: "ignore"; why: string } {
    const { detail } = event;
    if (detail["project-name"] !== runnerProject) return { kind: "ignore", why: `build of project '${detail["project-name"]}', not '${runnerProject}'` };
    if (!UNRECONCILED_BUILD_STATUSES.includes(detail["build-status"])) return { kind: "ignore", why: `build status ${detail["build-status"]}` };
    const variables = detail["additional-information"]?.environment?.["environment-variables"] ?? [];
    const variable = (name: string) => variables.find((v) => v.name === name)?.value;
    return {
        kind: "failed",
        build: {
            buildId: detail["build-id"],
            status: detail["build-status"],
            from: variable("MLOPS_ROLLBACK_FROM"),
            to: variable("MLOPS_ROLLBACK_VERSION"),
            alarmName: variable("MLOPS_ALARM_NAME"),
        },
    };
}
