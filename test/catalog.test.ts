import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { defaultRollbackTarget, isWarm, warmVersions, type CatalogView } from "../catalog/catalog";
import { derivedNameKey, sagemakerChildNames } from "../catalog/names";

const catalogOf = (ids: string[], pinned: string, warm: number, quarantined: string[] = []): CatalogView => ({
    versions: ids.map((version) => ({ version })),
    pinned,
    warm,
    quarantined,
});

describe("warmVersions", () => {
    it("is the pin plus up to `warm` versions before it, oldest first", () => {
        expect(warmVersions(catalogOf(["1", "2", "3", "4"], "4", 2))).toEqual(["2", "3", "4"]);
        expect(warmVersions(catalogOf(["1", "2", "3", "4"], "2", 2))).toEqual(["1", "2"]);
    });

    it("skips quarantined versions instead of counting them", () => {
        expect(warmVersions(catalogOf(["1", "2", "3", "4"], "4", 1, ["3"]))).toEqual(["2", "4"]);
    });

    it("never keeps versions after the pin", () => {
        expect(warmVersions(catalogOf(["1", "2", "3"], "2", 5))).toEqual(["1", "2"]);
    });

    it("is the pin alone with warm 0", () => {
        expect(warmVersions(catalogOf(["1", "2", "3"], "3", 0))).toEqual(["3"]);
    });
});

describe("defaultRollbackTarget", () => {
    it("is the newest warm version before the pin", () => {
        expect(defaultRollbackTarget(catalogOf(["1", "2", "3", "4"], "4", 2, ["3"]))).toBe("2");
    });

    it("is undefined when nothing is warm (warm 0, or every earlier version quarantined)", () => {
        expect(defaultRollbackTarget(catalogOf(["1", "2"], "2", 0))).toBeUndefined();
        expect(defaultRollbackTarget(catalogOf(["1", "2"], "2", 1, ["1"]))).toBeUndefined();
    });
});

/** Any catalog of distinct ids, a pin that is not quarantined, and warm in 0..5. */
const catalogs = fc
    .uniqueArray(fc.stringMatching(/^[a-z0-9]{1,4}$/), { minLength: 1, maxLength: 12 })
    .chain((ids) =>
        fc.record({
            ids: fc.constant(ids),
            pinned: fc.constantFrom(...ids),
            warm: fc.integer({ min: 0, max: 5 }),
            quarantined: fc.subarray(ids),
        }),
    )
    .filter(({ pinned, quarantined }) => !quarantined.includes(pinned))
    .map(({ ids, pinned, warm, quarantined }) => catalogOf(ids, pinned, warm, quarantined));

describe("catalog properties", () => {
    it("with warm ≥ 1, the default rollback target is warm, never quarantined and never the pin", () => {
        fc.assert(
            fc.property(
                catalogs.filter((c) => c.warm >= 1),
                (catalog) => {
                    const target = defaultRollbackTarget(catalog);
                    const earlier = catalog.versions.slice(
                        0,
                        catalog.versions.findIndex((v) => v.version === catalog.pinned),
                    );
                    const eligible = earlier.filter((v) => !catalog.quarantined.includes(v.version));
                    if (eligible.length === 0) return target === undefined;
                    return (
                        target !== undefined &&
                        isWarm(catalog, target) &&
                        !catalog.quarantined.includes(target) &&
                        target !== catalog.pinned &&
                        target === eligible[eligible.length - 1].version
                    );
                },
            ),
        );
    });

    it("the warm set holds the pin, at most warm + 1 versions, none quarantined, in catalog order", () => {
        fc.assert(
            fc.property(catalogs, (catalog) => {
                const warm = warmVersions(catalog);
                const order = catalog.versions.map((v) => v.version);
                const indexes = warm.map((id) => order.indexOf(id));
                return (
                    warm[warm.length - 1] === catalog.pinned &&
                    warm.length <= catalog.warm + 1 &&
                    warm.every((id) => !catalog.quarantined.includes(id)) &&
                    indexes.every((index, i) => i === 0 || index > indexes[i - 1])
                );
            }),
        );
    });

    it("after a rollback to the default target, the target serves and only versions before it stay warm", () => {
        fc.assert(
            fc.property(
                catalogs.filter((c) => defaultRollbackTarget(c) !== undefined),
                (catalog) => {
                    const target = defaultRollbackTarget(catalog) as string;
                    const order = catalog.versions.map((v) => v.version);
                    const after = warmVersions({ ...catalog, pinned: target, quarantined: [...catalog.quarantined, catalog.pinned] });
                    return (
                        after[after.length - 1] === target &&
                        after.slice(0, -1).every((id) => order.indexOf(id) < order.indexOf(target)) &&
                        !after.includes(catalog.pinned)
                    );
                },
            ),
        );
    });
});

describe("derived names (a rename replaces resources in production)", () => {
    it("pins the SageMaker child names per version", () => {
        expect(sagemakerChildNames("fraud-detector", "V2.1_rc")).toEqual({
            model: "fraud-detector-model-v2-1-rc",
            endpointConfiguration: "fraud-detector-config-v2-1-rc",
        });
    });

    it("pins the version part per target", () => {
        expect(derivedNameKey("sagemaker", "v2.")).toBe("v2-");
        expect(derivedNameKey("kubernetes", "v2.")).toBe("v2");
        expect(derivedNameKey("kubernetes", "Release_3.1")).toBe("release-3-1");
    });
});
