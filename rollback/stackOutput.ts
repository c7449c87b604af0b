/**
 * The one stack output through which the CLI and the program's next run
 * learn what the last update left: `mlops`, a map with the target, the
 * pinned and warm versions, the endpoint or Service, the quarantine ledger
 * and the database snapshot ledger (see `serveModelFromStackConfig`).
 */
import { BadInputError } from "../config/badInput";

/** The stack output's name. */
export const MLOPS_STACK_OUTPUT = "mlops";

/** The fields earlier programs returned as top-level outputs, read as the `mlops` output's until their next update. */
const LEGACY_FIELDS = ["pinnedVersion", "quarantineLedger"];

/** The line a program adds to export it. */
export function missingStackOutputAdvice(): string {
    return `Export it from the program: return { ${MLOPS_STACK_OUTPUT}: serving.stackOutput } where serving = await serveModelFromStackConfig() (mlops-rollback's README, "Use it in your own Pulumi project").`;
}

/** The stack's outputs have no `mlops` output: the program does not export it (exit 2, nothing changed). */
export class MissingStackOutputError extends BadInputError {
    constructor(stack: string) {
        super(
            `stack '${stack}' has outputs but none named '${MLOPS_STACK_OUTPUT}', so mlops cannot tell what serves or what was rolled back; nothing was changed. ${missingStackOutputAdvice()} If the program already returns it, its last update predates that: run pulumi up once.`,
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
    // A program of mlops-rollback before the `mlops` output returned its fields at the top level.
    if (value === undefined && LEGACY_FIELDS.some((field) => field in outputs)) return outputs;
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new MissingStackOutputError(stack);
    return value as Record<string, unknown>;
}
