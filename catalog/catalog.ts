/**
 * Where a rollback is decided: which versions are kept warm and which one a
 * rollback goes to by default. Pure functions over the parsed config.
 */

/** The part of the config the catalog decisions read. */
export interface CatalogView {
    readonly pinned: string;
    readonly warm: number;
    readonly quarantined: readonly string[];
    readonly versions: readonly { readonly version: string }[];
}

/**
 * The versions declared on every run: the pinned one plus up to `warm`
 * non-quarantined versions before it, in catalog order (oldest first).
 * Rolling back to any of them changes one pointer and builds nothing.
 */
export function warmVersions(catalog: CatalogView): string[] {
    const earlier = pinnableVersionsBefore(catalog);
    // slice(-0) would return everything, hence the explicit zero case.
    const standby = catalog.warm === 0 ? [] : earlier.slice(-catalog.warm);
    return [...standby, catalog.pinned];
}

/** The versions before the pin that may be pinned again (not quarantined), oldest first: warm or not. */
export function pinnableVersionsBefore(catalog: CatalogView): string[] {
    const ids = catalog.versions.map((v) => v.version);
    const pinnedIndex = ids.indexOf(catalog.pinned);
    if (pinnedIndex < 0) throw new Error(`pinned version '${catalog.pinned}' is not in the catalog`);
    return ids.slice(0, pinnedIndex).filter((id) => !catalog.quarantined.includes(id));
}

/**
 * Where `mlops rollback` goes without `--version`: the newest warm,
 * non-quarantined version before the pin, or undefined when there is none
 * (warm 0, or every earlier version quarantined).
 */
export function defaultRollbackTarget(catalog: CatalogView): string | undefined {
    const warm = warmVersions(catalog);
    return warm.length > 1 ? warm[warm.length - 2] : undefined;
}

/** Whether switching to `version` only moves a pointer (it is already declared). */
export function isWarm(catalog: CatalogView, version: string): boolean {
    return warmVersions(catalog).includes(version);
}
