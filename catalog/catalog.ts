/**
 * Where a rollback is decided: which versions are kept warm and which one a
 * rollback goes to by default. Pure functions over the parsed config and the
 * stack's serving record.
 *
 * "Warm" means "served last, and still running": the warm versions are the
 * ones that most recently served on this stack before the pinned one (the
 * stack's own record, rollback/servingRecord.ts), never a catalog neighbour
 * that never took traffic. The pinned version itself serves; it is not
 * counted as warm. Only where nothing but the pin has ever served on the
 * stack (its first deploy, or a stack last updated before the record
 * existed) do the catalog's previous versions stand in, and `WarmSet.standIn`
 * says so.
 */

/** The part of the config and of the stack's record that the warm set is decided from. */
export interface CatalogView {
    readonly pinned: string;
    /** How many warm versions to keep besides the pinned one (`mlops:warm`). */
    readonly warm: number;
    readonly quarantined: readonly string[];
    /** The catalog (`mlops:versions`), oldest first. */
    readonly versions: readonly { readonly version: string }[];
    /**
     * The versions that served on this stack, in the order they last started
     * serving (oldest first, each once): the `servingHistory` of the stack's
     * `mlops` output. @default [] (no record yet: the catalog stands in, see `WarmSet.standIn`)
     */
    readonly servingHistory?: readonly string[];
}

export interface WarmSet {
    /** The versions kept warm besides the pinned one, the one that served most recently last. */
    readonly versions: readonly string[];
    /**
     * Set when nothing but the pinned version has served on this stack, so
     * the catalog's previous versions stand in: which, and why, in one sentence.
     */
    readonly standIn?: string;
}

/** The warm versions and, where the catalog stands in for a serving record, why. */
export function warmSet(catalog: CatalogView): WarmSet {
    if (catalog.warm === 0) return { versions: [] };
    const order = catalog.versions.map((v) => v.version);
    const pinnedIndex = order.indexOf(catalog.pinned);
    if (pinnedIndex < 0) throw new Error(`pinned version '${catalog.pinned}' is not in the catalog`);
    const servedBefore = (catalog.servingHistory ?? []).filter((id) => id !== catalog.pinned && order.includes(id));
    if (servedBefore.length > 0) {
        // A rollback goes to an earlier catalog version (mlops deploy moves forward), and never to a quarantined one.
        const candidates = servedBefore.filter((id) => order.indexOf(id) < pinnedIndex && !catalog.quarantined.includes(id));
        return { versions: candidates.slice(-catalog.warm) };
    }
    const standIns = pinnableVersionsBefore(catalog).slice(-catalog.warm);
    if (standIns.length === 0) return { versions: [] };
    const named = standIns.length === 1 ? `version ${standIns[0]}` : `versions ${standIns.join(", ")}`;
    return {
        versions: standIns,
        standIn:
            `nothing but ${catalog.pinned} has served on this stack yet (a first deploy, or a stack last updated before mlops-rollback kept a serving record), ` +
            `so ${named}, the catalog's previous ${standIns.length === 1 ? "one" : "ones"}, ${standIns.length === 1 ? "is" : "are"} kept warm as the rollback target though ${standIns.length === 1 ? "it has" : "they have"} not served here`,
    };
}

/** The warm versions (besides the pin), the one that served most recently last. */
export function warmVersions(catalog: CatalogView): string[] {
    return [...warmSet(catalog).versions];
}

/** The versions whose resources every run declares: the warm ones, then the pinned one. */
export function declaredVersions(catalog: CatalogView): string[] {
    return [...warmVersions(catalog), catalog.pinned];
}

/** The versions before the pin that may be pinned again (not quarantined), in catalog order (oldest first): warm or not. */
export function pinnableVersionsBefore(catalog: Omit<CatalogView, "servingHistory" | "warm">): string[] {
    const ids = catalog.versions.map((v) => v.version);
    const pinnedIndex = ids.indexOf(catalog.pinned);
    if (pinnedIndex < 0) throw new Error(`pinned version '${catalog.pinned}' is not in the catalog`);
    return ids.slice(0, pinnedIndex).filter((id) => !catalog.quarantined.includes(id));
}

/**
 * Where `mlops rollback` (and the alarm trigger) goes without `--version`:
 * the warm version that served most recently, or undefined when there is
 * none (warm 0, or nothing that served before the pin may be pinned again).
 */
export function defaultRollbackTarget(catalog: CatalogView): string | undefined {
    return warmSet(catalog).versions.at(-1);
}

/** Whether switching to `version` only moves a pointer (its resources are already declared and running). */
export function isWarm(catalog: CatalogView, version: string): boolean {
    return warmSet(catalog).versions.includes(version);
}

/**
 * The versions a rollback left, which keep their resources (on Kubernetes
 * their Deployment, scaled to zero) so that their objects, logs and history
 * are still there when people start to investigate: the stack's record of
 * them (`previous`, from its `mlops` output), updated for this run's pin.
 * A pin that moves back (a rollback, by `mlops rollback` or by hand) adds
 * the version it leaves; a pin that moves forward (a deploy) retires them
 * all; a pin that stays keeps them. Never the pin itself, never a version
 * no longer in the catalog.
 *
 * Worked example, catalog 1..4: pinned 3, rollback to 2: [] -> [3]. Then
 * rollback to 1: [3] -> [3, 2]. Then `mlops deploy --version 4`: [] (their
 * Deployments go in that update). A plain `pulumi up` keeps the list.
 */
export function nextRetainedVersions(previous: readonly string[], previousPin: string | null, catalog: Pick<CatalogView, "pinned" | "versions">): string[] {
    const order = catalog.versions.map((v) => v.version);
    const pinnedIndex = order.indexOf(catalog.pinned);
    const previousIndex = previousPin === null ? -1 : order.indexOf(previousPin);
    let next: readonly string[] = previous;
    if (previousIndex >= 0 && previousIndex > pinnedIndex && previousPin !== null) next = [...previous, previousPin];
    else if (previousIndex >= 0 && previousIndex < pinnedIndex) next = [];
    return [...new Set(next)].filter((id) => id !== catalog.pinned && order.includes(id)).sort((a, b) => order.indexOf(a) - order.indexOf(b));
}
