/**
 * An incident: the one alarm event that claimed the rollback (the cooldown
 * record in the state table) and the steps it takes, in order: move traffic
 * to the rollback target, start the reconcile build, tell people. Each step
 * is written into that same record once done, so that a retry of the event
 * (Lambda retries a failed invocation twice, EventBridge delivers at least
 * once) finishes what is left and repeats nothing that is done. The
 * decisions here are pure; `handleAlarmEvent` executes them.
 */

/** Where the incident's traffic move stands. */
export type TrafficStep =
    /** The instant switch is to be made (or was made and its record was lost with the delivery that made it). */
    | { readonly state: "pending" }
    /** Moved (or found on the target); `how`: what moved it, as the notice says it. */
    | { readonly state: "moved"; readonly how: string }
    /** No instant switch: the reconcile build moves traffic; `how`: why not, as the notice says it ("" for plain Kubernetes). */
    | { readonly state: "with-build"; readonly how: string };

/** A notice an incident sends: that its reconcile build did not start, or that it rolled back. */
export type IncidentNotice = "build-not-started" | "rolled-back";

/** The steps of an incident done so far, as its record holds them. */
export interface IncidentSteps {
    readonly traffic: TrafficStep;
    /** The reconcile build, once started. */
    readonly buildId?: string;
    /** The last notice sent about it. */
    readonly told?: IncidentNotice;
}

/** A step that remains to be taken. */
export type IncidentStep = "switch" | "build" | "notify";

/**
 * What remains to do for an incident, in order. `settingsCurrent`: the
 * trigger's settings still pin the version the incident leaves and name the
 * one it restores (a `pulumi up` since rewrote them otherwise); when they
 * do not, moving traffic or starting a build from them could act on another
 * version, so only the notice is left (the update since owns the rest).
 *
 * Worked example (the table test repeats it):
 *
 *     traffic      buildId   told                settingsCurrent   remaining
 *     pending      -         -                   yes               switch, build, notify   (a new incident, SageMaker)
 *     with-build   -         -                   yes               build, notify           (Kubernetes without the instant switch)
 *     moved        b-1       -                   yes               notify                  (SNS failed once)
 *     moved        -         build-not-started   yes               build, notify           (StartBuild failed, people told)
 *     moved        b-1       rolled-back         yes               (nothing)               (done; died before recording the event handled)
 *     pending      -         -                   no                notify                  (the stack moved on)
 *     moved        -         build-not-started   no                (nothing)               (told, and the stack moved on)
 */
export function remainingSteps(steps: IncidentSteps, settingsCurrent: boolean): IncidentStep[] {
    const remaining: IncidentStep[] = [];
    if (settingsCurrent && steps.traffic.state === "pending") remaining.push("switch");
    if (settingsCurrent && steps.buildId === undefined) remaining.push("build");
    // With a build still to start, which notice is due depends on how that goes (noticeDue decides after it).
    const notify = settingsCurrent ? steps.told !== "rolled-back" : noticeDue(steps.buildId !== undefined, steps.told) !== undefined;
    if (notify) remaining.push("notify");
    return remaining;
}

/**
 * The notice due once the build step has run, or undefined: each state of
 * the incident is told once. A build that started is told as the rollback
 * (also after an earlier "did not start" notice: people must know a build
 * now runs before they run one by hand); a build that did not start is told
 * once however many deliveries fail to start it.
 *
 *     buildStarted   told                due
 *     yes            -                   rolled-back
 *     yes            build-not-started   rolled-back
 *     yes            rolled-back         -
 *     no             -                   build-not-started
 *     no             build-not-started   -
 */
export function noticeDue(buildStarted: boolean, told: IncidentNotice | undefined): IncidentNotice | undefined {
    if (buildStarted) return told === "rolled-back" ? undefined : "rolled-back";
    return told === undefined ? "build-not-started" : undefined;
}

/** One finished step, as `recordIncidentStep` writes it into the incident's record. */
export type IncidentStepUpdate = { readonly traffic: TrafficStep } | { readonly buildId: string } | { readonly told: IncidentNotice };
