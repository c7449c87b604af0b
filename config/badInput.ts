/**
 * Errors caused by what the user passed (a flag, a stack file, a config
 * value). The CLI exits 2 for these and 1 for everything else, so a script
 * can tell "fix your input" from "the operation failed".
 */
export class BadInputError extends Error {
    constructor(message: string) {
        super(message);
        this.name = new.target.name;
    }
}
