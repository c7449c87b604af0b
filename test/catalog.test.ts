import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { declaredVersions, defaultRollbackTarget, isWarm, pinnableVersionsBefore, warmSet, warmVersions, type CatalogView } from "../catalog/catalog";
import { derivedNameKey, sagemakerChildNames } from "../catalog/names";

const catalogOf = (ids: string[], pinned: string, warm: number, quarantined: string[] = [], servingHistory: string[] = []): CatalogView => ({
    versions: ids.map((version) => ({ version })),
    pinned,
    warm,
    quarantined,
    servingHistory,
});

describe("warmVersions: the versions that served last before the pin", () => {
    it("is the issue's case: 1-4, 2 served after 1, deploy straight to 4 keeps 2 (which served), not 3 (which never did)", () => {
        expect(warmVersions(catalogOf(["1", "2", "3", "4"], "4", 1, [], ["1", "2"]))).toEqual(["2"]);
        expect(warmVersions(catalogOf(["1", "2", "3", "4"], "4", 2, [], ["1", "2"]))).toEqual(["1", "2"]);
    });

    it("follows the order versions served in, not the catalog's", () => {
        // 3 served, was rolled back to 1 by hand (not quarantined), then 4 was deployed.
        expect(warmVersions(catalogOf(["1", "2", "3", "4"], "4", 1, [], ["2", "3", "1"]))).toEqual(["1"]);
        expect(warmVersions(catalogOf(["1", "2", "3", "4"], "4", 2, [], ["2", "3", "1"]))).toEqual(["3", "1"]);
    });

    it("skips quarantined versions instead of counting them, and never fills up with versions that never served", () => {
        expect(warmVersions(catalogOf(["1", "2", "3", "4"], "4", 1, ["3"], ["1", "3"]))).toEqual(["1"]);
        expect(warmVersions(catalogOf(["1", "2", "3", "4"], "4", 3, [], ["3"]))).toEqual(["3"]);
        expect(warmVersions(catalogOf(["1", "2", "3", "4"], "4", 1, ["3"], ["3"]))).toEqual([]);
    });

    it("never keeps a version after the pin (a rollback goes back in the catalog), nor the pin itself", () => {
        expect(warmVersions(catalogOf(["1", "2", "3"], "2", 5, [], ["1", "3", "2"]))).toEqual(["1"]);
    });

    it("is empty with warm 0", () => {
        expect(warmVersions(catalogOf(["1", "2", "3"], "3", 0, [], ["1", "2", "3"]))).toEqual([]);
    });

    it("lists the pin last among what is declared", () => {
        expect(declaredVersions(catalogOf(["1", "2", "3", "4"], "4", 1, [], ["1", "2"]))).toEqual(["2", "4"]);
    });
});

describe("warmSet without a serving record (a first deploy)", () => {
    it("takes the catalog's previous versions and says which and why", () => {
        const set = warmSet(catalogOf(["1", "2", "3"], "3", 1));
        expect(set.versions).toEqual(["2"]);
        expect(set.standIn).toBe(
            "nothing but 3 has served on this stack yet (a first deploy, or a stack last updated before mlops-rollback kept a serving record), " +
                "so version 2, the catalog's previous one, is kept warm as the rollback target though it has not served here",
        );
    });

    it("reads a catalog with no servingHistory at all (the field is optional in the public CatalogView) as one with an empty record", () => {
        const noRecord: CatalogView = { versions: [{ version: "1" }, { version: "2" }, { version: "3" }], pinned: "3", warm: 1, quarantined: [] };
        expect(warmSet(noRecord)).toStrictEqual(warmSet(catalogOf(["1", "2", "3"], "3", 1, [], [])));
        expect(warmVersions(noRecord)).toEqual(["2"]);
    });

    it("counts a record that holds only the pin as no record", () => {
        expect(warmSet(catalogOf(["1", "2", "3"], "3", 2, ["1"], ["3"]))).toMatchObject({ versions: ["2"], standIn: expect.stringContaining("version 2,") });
    });

    it("says nothing once another version has served", () => {
        expect(warmSet(catalogOf(["1", "2", "3"], "3", 1, [], ["2", "3"])).standIn).toBeUndefined();
    });

    it("names two or more stand-ins in the plural", () => {
        expect(warmSet(catalogOf(["1", "2", "3"], "3", 2)).standIn).toBe(
            "nothing but 3 has served on this stack yet (a first deploy, or a stack last updated before mlops-rollback kept a serving record), " +
                "so versions 1, 2, the catalog's previous ones, are kept warm as the rollback target though they have not served here",
        );
    });

    it("claims nothing stands in when no earlier version may be pinned: the pin is the first version, or every earlier one is quarantined", () => {
        expect(warmSet(catalogOf(["1", "2", "3"], "1", 1))).toStrictEqual({ versions: [] });
        expect(warmSet(catalogOf(["1", "2", "3"], "3", 2, ["1", "2"]))).toStrictEqual({ versions: [] });
    });
});

describe("a pin the catalog does not list", () => {
    it("is an error, whatever the serving record holds, rather than an empty warm set", () => {
        expect(() => warmSet(catalogOf(["1", "2"], "9", 1, [], ["1"]))).toThrow("pinned version '9' is not in the catalog");
        expect(() => warmSet(catalogOf(["1", "2"], "9", 1))).toThrow("pinned version '9' is not in the catalog");
        expect(() => pinnableVersionsBefore(catalogOf(["1", "2"], "9", 1))).toThrow("pinned version '9' is not in the catalog");
    });
});

describe("defaultRollbackTarget", () => {
    it("is the version that served just before the pin", () => {
        expect(defaultRollbackTarget(catalogOf(["1", "2", "3", "4"], "4", 2, [], ["2", "1", "4"]))).toBe("1");
    });

    it("is undefined when nothing that served may be pinned again (warm 0, or all quarantined), even where the catalog has earlier versions", () => {
        expect(defaultRollbackTarget(catalogOf(["1", "2"], "2", 0, [], ["1"]))).toBeUndefined();
        expect(defaultRollbackTarget(catalogOf(["1", "2", "3"], "3", 1, ["2"], ["2", "3"]))).toBeUndefined();
    });
});

/** Any catalog of distinct ids, a pin that is not quarantined, warm in 0..5, and any serving record over the catalog. */
const catalogs = fc
    .uniqueArray(fc.stringMatching(/^[a-z0-9]{1,4}$/), { minLength: 1, maxLength: 12 })
    .chain((ids) =>
        fc.record({
            ids: fc.constant(ids),
            pinned: fc.constantFrom(...ids),
            warm: fc.integer({ min: 0, max: 5 }),
            quarantined: fc.subarray(ids),
            // A record is an order of distinct versions: a shuffled subset.
            servingHistory: fc.shuffledSubarray(ids),
        }),
    )
    .filter(({ pinned, quarantined }) => !quarantined.includes(pinned))
    .map(({ ids, pinned, warm, quarantined, servingHistory }) => catalogOf(ids, pinned, warm, quarantined, servingHistory));

const servedBeforePin = (catalog: CatalogView) => (catalog.servingHistory ?? []).filter((id) => id !== catalog.pinned);

describe("catalog properties", () => {
    it("the default rollback target served on the stack (or, with no record, is named as a stand-in), is never quarantined, never the pin, and comes before it", () => {
        fc.assert(
            fc.property(catalogs, (catalog) => {
                const target = defaultRollbackTarget(catalog);
                if (target === undefined) return true;
                const order = catalog.versions.map((v) => v.version);
                const served = servedBeforePin(catalog).length > 0 ? servedBeforePin(catalog).includes(target) : warmSet(catalog).standIn !== undefined;
                return served && !catalog.quarantined.includes(target) && target !== catalog.pinned && order.indexOf(target) < order.indexOf(catalog.pinned);
            }),
        );
    });

    it("the default target is the latest-served eligible version: no eligible version served after it", () => {
        fc.assert(
            fc.property(
                catalogs.filter((c) => c.warm >= 1 && servedBeforePin(c).length > 0),
                (catalog) => {
                    const order = catalog.versions.map((v) => v.version);
                    const eligible = servedBeforePin(catalog).filter(
                        (id) => order.indexOf(id) < order.indexOf(catalog.pinned) && !catalog.quarantined.includes(id),
                    );
                    return defaultRollbackTarget(catalog) === eligible.at(-1);
                },
            ),
        );
    });

    it("the warm set holds at most `warm` versions, never the pin, none quarantined, each a valid rollback target", () => {
        fc.assert(
            fc.property(catalogs, (catalog) => {
                const warm = warmVersions(catalog);
                const order = catalog.versions.map((v) => v.version);
                return (
                    warm.length <= catalog.warm &&
                    !warm.includes(catalog.pinned) &&
                    warm.every((id) => !catalog.quarantined.includes(id) && order.indexOf(id) < order.indexOf(catalog.pinned)) &&
                    warm.every((id) => isWarm(catalog, id))
                );
            }),
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
