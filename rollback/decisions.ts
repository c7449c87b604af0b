/**
 * Where `mlops deploy` and `mlops rollback` decide what to do: which version
 * to pin, whether that is allowed, what to quarantine and what to record.
 * Pure functions over the parsed config; the driver only executes the result,
 * and every refusal here happens before the engine starts.
 */
import { defaultRollbackTarget, isWarm, warmSet, type CatalogView } from "../catalog/catalog";
import { kubernetesDeploymentName, sagemakerChildNames } from "../catalog/names";
import type { StackConfig } from "../config/schema";
import type { QuarantineLedger } from "./ledger";

export type PinChangeKind = "deploy" | "rollback";

export interface PinChange {
    readonly kind: PinChangeKind;
    readonly from: string;
    readonly to: string;
    /** `mlops:quarantined` after the change. */
    readonly quarantined: string[];
    /** `mlops:rollback.allowRedeploy` after the change. */
    readonly allowRedeploy: string[];
    /** Whether the target is already declared (a pointer move) or must be built first. */
    readonly warm: boolean;
    /**
     * Set when the catalog stands in for the stack's serving record, with
     * why: for a rollback, its target is warm only so (it never served
     * here); for a deploy, the version kept warm after it never served here.
     */
    readonly standIn?: string;
    /** The update message recorded in the stack's history. */
    readonly message: string;
    readonly reason?: string;
}

export type Decision = { readonly ok: true; readonly change: PinChange } | { readonly ok: false; readonly refusal: string };

export interface RollbackRequest {
    /** `--version`; the default rollback target when absent. */
    readonly version?: string;
    readonly reason?: string;
    /** `--force`: allow a quarantined target. */
    readonly force?: boolean;
    /** `--allow-cold`: allow a target outside the warm set. */
    readonly allowCold?: boolean;
}

export interface DeployRequest {
    readonly version: string;
    /**
     * The pin the stack last deployed: `null` when it was never deployed (the
     * first `mlops deploy` of the pinned version is then allowed), undefined
     * when not known (offline).
     */
    readonly deployedPin?: string | null;
    readonly reason?: string;
    /** `--force`: pin a quarantined version again (releases it from the quarantine). */
    readonly force?: boolean;
    /** The last update, at the pinned version the stack runs, did not finish: the pinned version may be deployed again. */
    readonly rerun?: boolean;
}

const refuse = (refusal: string): Decision => ({ ok: false, refusal });

/**
 * The stack as a decision sees it: its config (with the quarantine ledger
 * merged in, `withLedgerQuarantine`) and its record of the versions that
 * served (`servingHistory` of the `mlops` output; rollback/servingRecord.ts).
 */
export type StackView = StackConfig & Required<Pick<CatalogView, "servingHistory">>;

/**
 * `config` should already carry the stack's quarantine ledger
 * (`withLedgerQuarantine`), so that a stale stack file cannot pick a version
 * a rollback left.
 */
export function decideRollback(config: StackView, request: RollbackRequest): Decision {
    const from = config.pinned;
    const to = request.version ?? defaultRollbackTarget(config);
    if (to === undefined) return refuse(noWarmTarget(config));
    const order = config.versions.map((v) => v.version);
    if (!order.includes(to)) return refuse(`--version ${to}: not in mlops:versions (known: ${order.join(", ")})`);
    if (to === from) return refuse(`--version ${to}: already the pinned version; nothing to roll back`);
    if (order.indexOf(to) > order.indexOf(from))
        return refuse(`--version ${to}: comes after the pinned ${from} in the catalog; use mlops deploy --version ${to} to move forward`);
    if (config.quarantined.includes(to) && request.force !== true) {
        return refuse(`--version ${to}: quarantined (a rollback left it); pass --force if it is safe again`);
    }
    const { versions: warmVersions, standIn } = warmSet(config);
    const warm = warmVersions.includes(to);
    if (!warm && request.allowCold !== true) {
        return refuse(
            `--version ${to}: not warm (warm: ${warmVersions.join(", ") || "none"}, ${standIn === undefined ? `the latest versions that served here before ${from}` : `the catalog's previous, standing in: nothing but ${from} has served here`}), so the rollback would first create ${coldCreates(config, to)} and wait for it to become ready; pass --allow-cold to accept that, or pick a warm version`,
        );
    }
    const reason = request.reason ?? "manual rollback";
    return {
        ok: true,
        change: {
            kind: "rollback",
            from,
            to,
            quarantined: unique([...config.quarantined.filter((id) => id !== to), from]),
            // A version rolled back from is held again, whatever an earlier
            // --force released: otherwise the release would outlive the rollback.
            allowRedeploy: releasedFromQuarantine(config, to, request.force === true).filter((id) => id !== from),
            warm,
            ...(warm && standIn !== undefined ? { standIn } : {}),
            message: updateMessage("rollback", from, to, reason),
            reason,
        },
    };
}

export function decideDeploy(config: StackView, request: DeployRequest): Decision {
    const to = request.version;
    const order = config.versions.map((v) => v.version);
    if (!order.includes(to)) return refuse(`--version ${to}: not in mlops:versions (known: ${order.join(", ")}); add it to the catalog first`);
    // The pinned version again is allowed only where an update to it is owed:
    // never deployed (null), an earlier version still running (a deploy that
    // did not finish), or the last update at it cut short or failed.
    const deployedPin = request.deployedPin;
    const behind = typeof deployedPin === "string" && order.includes(deployedPin) && order.indexOf(deployedPin) < order.indexOf(to);
    const unfinished = to === config.pinned && (deployedPin === null || behind || (deployedPin === to && request.rerun === true));
    if (to === config.pinned && !unfinished) return refuse(`--version ${to}: already the pinned version; nothing to deploy`);
    const from = unfinished && typeof deployedPin === "string" ? deployedPin : config.pinned;
    if (order.indexOf(to) < order.indexOf(config.pinned))
        return refuse(`--version ${to}: comes before the pinned ${config.pinned}; use mlops rollback --version ${to} to go back`);
    if (config.quarantined.includes(to) && request.force !== true) {
        return refuse(`--version ${to}: quarantined (a rollback left it); pass --force if it is safe again`);
    }
    // What the deploy's own run keeps warm: the record as it is, with `to` pinned.
    const { standIn } = warmSet({ ...config, pinned: to, quarantined: config.quarantined.filter((id) => id !== to) });
    return {
        ok: true,
        change: {
            kind: "deploy",
            from,
            to,
            quarantined: config.quarantined.filter((id) => id !== to),
            allowRedeploy: releasedFromQuarantine(config, to, request.force === true),
            warm: isWarm(config, to),
            ...(standIn === undefined ? {} : { standIn }),
            message: updateMessage(
                "deploy",
                from,
                to,
                request.reason ?? (from === to && deployedPin === to ? "finishing an update that did not complete" : undefined),
            ),
            ...(request.reason === undefined ? {} : { reason: request.reason }),
        },
    };
}

/**
 * A rollback the stack file records but the stack never finished: the file
 * pins `to` and quarantines `deployedPin`, while the stack still runs
 * `deployedPin` and its ledger has no rollback from it (the engine was killed,
 * the API server went away, the target never got ready). `mlops rollback`
 * without `--version`, or with the pinned one, finishes that rollback rather
 * than starting another one from a version that never served.
 */
export function decideUnfinishedRollback(
    fileConfig: StackView,
    deployedPin: string | null,
    ledger: QuarantineLedger,
    request: RollbackRequest,
): Decision | undefined {
    const to = fileConfig.pinned;
    if (deployedPin === null || deployedPin === to || ledger[deployedPin] !== undefined || !fileConfig.quarantined.includes(deployedPin)) return undefined;
    // A target the stack's ledger holds (a stale file) gets the normal refusal.
    if (ledger[to] !== undefined && request.force !== true) return undefined;
    if (request.version !== undefined && request.version !== to) return undefined;
    const order = fileConfig.versions.map((v) => v.version);
    if (!order.includes(deployedPin) || order.indexOf(to) > order.indexOf(deployedPin)) return undefined;
    const reason = request.reason ?? "finishing a rollback that did not complete";
    return {
        ok: true,
        change: {
            kind: "rollback",
            from: deployedPin,
            to,
            quarantined: [...fileConfig.quarantined],
            allowRedeploy: [...fileConfig.rollback.allowRedeploy],
            // Warm or not while deployedPin served, which is when the rollback started.
            warm: isWarm({ ...fileConfig, pinned: deployedPin }, to),
            message: updateMessage("rollback", deployedPin, to, reason),
            reason,
        },
    };
}

/** Why a rollback without --version has no target, and what to do instead. */
function noWarmTarget(config: StackView): string {
    const order = config.versions.map((v) => v.version);
    const earlier = order.slice(0, order.indexOf(config.pinned));
    const why =
        config.warm === 0
            ? "mlops:warm is 0"
            : earlier.length === 0
              ? `${config.pinned} is the catalog's first version`
              : `no earlier version that served on this stack may be pinned again (${describeServed(config)})`;
    return `no warm version to roll back to from ${config.pinned}: ${why}. Pass --version <v> --allow-cold to roll back to a version that must be built first`;
}

/** What the stack's serving record holds, for messages: `served here: 1, 3, 2 (quarantined: 3)`. */
function describeServed(config: StackView): string {
    const served = config.servingHistory.filter((id) => id !== config.pinned);
    if (served.length === 0) return `nothing but ${config.pinned} has served here`;
    const held = served.filter((id) => config.quarantined.includes(id));
    return `served here before: ${served.join(", ")}${held.length === 0 ? "" : `; quarantined: ${held.join(", ")}`}`;
}

/** A forced pin of a quarantined version also releases it from the ledger the program keeps (see rollback/ledger.ts). */
function releasedFromQuarantine(config: StackConfig, to: string, force: boolean): string[] {
    const released = config.rollback.allowRedeploy;
    return force ? unique([...released, to]) : [...released];
}

/** What switching to a cold version builds, in words. */
export function coldCreates(config: StackConfig, version: string): string {
    if (config.target === "sagemaker") {
        const names = sagemakerChildNames(config.model, version);
        return `a SageMaker Model and EndpointConfiguration (${names.model}, ${names.endpointConfiguration}) and a new instance fleet`;
    }
    return `the Deployment ${kubernetesDeploymentName(config.model, version)} with ${config.kubernetes?.replicas ?? "its"} new pods that must load the model`;
}

/** `rollback 3 -> 2: 5xx alarm`, the update message in the stack's history. */
export function updateMessage(kind: PinChangeKind, from: string, to: string, reason?: string): string {
    const oneLine = reason?.replace(/\s+/g, " ").trim();
    return `${kind} ${from} -> ${to}${oneLine ? `: ${oneLine}` : ""}`;
}

export interface ParsedUpdateMessage {
    readonly kind: PinChangeKind;
    readonly from: string;
    readonly to: string;
    readonly reason?: string;
}

export function parseUpdateMessage(message: string): ParsedUpdateMessage | undefined {
    const match = /^(deploy|rollback) (\S+) -> (\S+)(?:: (.*))?$/.exec(message);
    if (match === null) return undefined;
    const [, kind, from, to, reason] = match;
    return { kind: kind as PinChangeKind, from, to, ...(reason === undefined ? {} : { reason }) };
}

function unique(values: string[]): string[] {
    return [...new Set(values)];
}
