/**
 * Warm means "served last": the stack's record of which versions served.
 *
 * Like the quarantine ledger (ledger.ts), it lives in the stack's own `mlops`
 * output, not in stack config: the config says what should serve, only a
 * finished update says what did. The program writes it on every run (an
 * update that fails writes no outputs, so a version that never got ready
 * never enters it), and the warm set (catalog/catalog.ts) is read from it.
 */

export interface ServingEntry {
    readonly version: string;
    /** When the update that pinned it last started (ISO 8601); absent for the version a stack served before the record existed. */
    readonly since?: string;
}

/** The versions that served on the stack, in the order they last started serving (oldest first, each once). */
export type ServingRecord = readonly ServingEntry[];

/**
 * How many versions the record keeps. `mlops:warm` is at most 5; the rest
 * leaves room for quarantined versions the warm set skips.
 */
export const SERVING_RECORD_LENGTH = 20;

/** The version ids of a record, oldest first: `CatalogView.servingHistory`. */
export function servedVersions(record: ServingRecord): string[] {
    return record.map((entry) => entry.version);
}

/**
 * The record this run writes: the previous one with the pinned version last
 * (moved there, with this run's time, when it was not last already), cut to
 * the newest `SERVING_RECORD_LENGTH`.
 */
export function nextServingRecord(previous: ServingRecord, pinned: string, now: string): ServingEntry[] {
    if (previous.at(-1)?.version === pinned) return previous.slice(-SERVING_RECORD_LENGTH);
    return [...previous.filter((entry) => entry.version !== pinned), { version: pinned, since: now }].slice(-SERVING_RECORD_LENGTH);
}

/**
 * The record read back from the `mlops` output (outputs are untyped: entries
 * are validated one by one, duplicates keep their last place). A stack last
 * updated before the record existed gets the versions it kept warm then
 * (`legacyWarmVersions`, catalog order), then the one it pinned: its pin
 * served, and its standbys most likely did (1 -> 2 -> 3); taking them as
 * served keeps their resources through the upgrade rather than deleting them.
 */
export function servingRecordFromOutput(value: unknown, pinnedVersion: unknown, legacyWarmVersions?: unknown): ServingEntry[] {
    if (!Array.isArray(value)) {
        if (typeof pinnedVersion !== "string") return [];
        const standbys = Array.isArray(legacyWarmVersions)
            ? legacyWarmVersions.filter((id): id is string => typeof id === "string" && id !== pinnedVersion)
            : [];
        return [...standbys, pinnedVersion].map((version) => ({ version }));
    }
    const entries: ServingEntry[] = [];
    for (const item of value as unknown[]) {
        const candidate = item as Partial<ServingEntry> | null;
        if (typeof candidate?.version !== "string") continue;
        const entry = { version: candidate.version, ...(typeof candidate.since === "string" ? { since: candidate.since } : {}) };
        const earlier = entries.findIndex((e) => e.version === entry.version);
        if (earlier >= 0) entries.splice(earlier, 1);
        entries.push(entry);
    }
    return entries;
}

/** The record of a stack from its `mlops` output's fields (`servingHistory`, or, from older programs, `pinnedVersion` and `warmVersions`). */
export function servingRecordOf(outputs: Readonly<Record<string, unknown>> | undefined): ServingEntry[] {
    return servingRecordFromOutput(outputs?.servingHistory, outputs?.pinnedVersion, outputs?.warmVersions);
}
