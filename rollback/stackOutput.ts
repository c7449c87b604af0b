/**
 * The one stack output through which the CLI and the program's next run
 * learn what the last update left: `mlops`, a map with the target, the
 * pinned and warm versions, the endpoint or Service, the quarantine ledger
 * and the database snapshot ledger (see `serveModelFromStackConfig`).
 */
import { BadInputError } from "../config/badInput";

/** The stack output's name. */
export const MLOPS_STACK_OUTPUT = "mlops";

/** The line a program adds to export it. */
export function missingStackOutputAdvice(): string {
    return `Export it from the program: return { ${MLOPS_STACK_OUTPUT}: serving.stackOutput } where serving = await serveModelFromStackConfig() (mlops-rollback's README, "Add it to your Pulumi project").`;
}

/** The stack's outputs have no `mlops` output: the program does not export it (exit 2, nothing changed). */
export class MissingStackOutputError extends BadInputError {
    constructor(stack: string) {
        super(
            `stack '${stack}' has outputs but none named '${MLOPS_STACK_OUTPUT}', so mlops cannot tell what serves or what was rolled back. ${missingStackOutputAdvice()}`,
        );
        this.name = "MissingStackOutputError";
    }
}

/**
 * The `mlops` output's fields from all of a stack's outputs. A stack with no
 * outputs at all (never deployed) gives `{}`; one with outputs but no `mlops`
 * output throws `MissingStackOutputError`.
 */
export function mlopsOutputOf(stack: string, outputs: Record<string, unknown>): Record<string, unknown> {
    if (Object.keys(outputs).length === 0) return {};
    const value = outputs[MLOPS_STACK_OUTPUT];
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new MissingStackOutputError(stack);
    return value as Record<string, unknown>;
}
