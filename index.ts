/**
 * The entry point `pulumi up` runs. `mlops rollback` passes the rollback it
 * runs in MLOPS_ROLLBACK_EVENT when the program runs in its own process.
 */
import { ROLLBACK_EVENT_ENV, rollbackEventFrom } from "./rollback/ledger";
import { runStackProgram } from "./stackProgram";

export = () => runStackProgram(rollbackEventFrom(process.env[ROLLBACK_EVENT_ENV]));
