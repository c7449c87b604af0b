import { describe, expect, it } from "vitest";
import { BadInputError } from "../config/badInput";
import { MissingStackOutputError, MLOPS_STACK_OUTPUT, mlopsOutputOf } from "../rollback/stackOutput";

describe("the mlops stack output", () => {
    it("is named mlops: programs export it under that name, so renaming it breaks every deployed stack", () => {
        expect(MLOPS_STACK_OUTPUT).toBe("mlops");
    });

    it("gives its fields, and nothing for a stack never deployed", () => {
        expect(mlopsOutputOf("dev", { mlops: { pinnedVersion: "2" }, releaseNote: "x" })).toEqual({ pinnedVersion: "2" });
        expect(mlopsOutputOf("dev", {})).toEqual({});
    });

    it("reads the top-level fields an older program returned, until its next update exports mlops", () => {
        const legacy = { pinnedVersion: "2", quarantineLedger: { "3": { at: "t", reason: "r" } } };
        expect(mlopsOutputOf("dev", legacy)).toEqual(legacy);
    });

    it("is bad input (exit 2) naming the line to add when the program exports other outputs but not it", () => {
        for (const outputs of [{ releaseNote: "x" }, { mlops: "not a map" }, { mlops: ["2"] }]) {
            const error = (() => {
                try {
                    mlopsOutputOf("dev", outputs);
                } catch (caught) {
                    return caught;
                }
                return undefined;
            })();
            expect(error).toBeInstanceOf(MissingStackOutputError);
            expect(error).toBeInstanceOf(BadInputError);
            expect((error as Error).message).toContain("stack 'dev' has outputs but none named 'mlops'");
            expect((error as Error).message).toContain("return { mlops: serving.stackOutput }");
            expect((error as Error).message).toContain("run pulumi up once");
        }
    });
});
