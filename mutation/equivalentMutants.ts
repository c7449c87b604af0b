/**
 * The mutants no test detects because they change nothing a user can see
 * (equivalent mutants), each with why. mutation/report.ts prints these next
 * to the survivors in MUTATION.md; a survivor without an entry is a missing
 * test until shown otherwise.
 *
 * An entry is keyed by what survives regeneration: the file, the mutator,
 * the source line the mutant starts on and the code it replaces (both
 * trimmed, whitespace collapsed), and the replacement; not by line number
 * or mutant id, which move with every edit. MUTATION.md shows each of them
 * for a survivor that has no entry yet.
 */
export interface EquivalentMutant {
    readonly file: string;
    readonly mutator: string;
    /** The source line the mutant starts on. */
    readonly code: string;
    /** The code the mutant replaces. */
    readonly original: string;
    readonly replacement: string;
    /** Why no test can tell the mutant from the code: what makes it equivalent. */
    readonly why: string;
}

export const EQUIVALENT_MUTANTS: readonly EquivalentMutant[] = [
    // --- catalog/catalog.ts ---
    {
        file: "catalog/catalog.ts",
        mutator: "ArrayDeclaration",
        code: "const servedBefore = (catalog.servingHistory ?? []).filter((id) => id !== catalog.pinned && order.includes(id));",
        original: "[]",
        replacement: '["Stryker was here"]',
        why: 'The filter right after keeps only ids the catalog lists, and "Stryker was here" is no version id (VERSION_ID_PATTERN has no spaces): with no servingHistory both give an empty record, and the catalog stands in (the test without servingHistory passes on both).',
    },
    {
        file: "catalog/catalog.ts",
        mutator: "EqualityOperator",
        code: "const candidates = servedBefore.filter((id) => order.indexOf(id) < pinnedIndex && !catalog.quarantined.includes(id));",
        original: "order.indexOf(id) < pinnedIndex",
        replacement: "order.indexOf(id) <= pinnedIndex",
        why: "Equal indices mean id is the pin (ids in order are unique, and servedBefore holds only ids the catalog lists), and servedBefore already left the pin out, so no id is at pinnedIndex.",
    },
    // --- end of catalog/catalog.ts ---
    // --- rollback/decisions.ts ---
    {
        file: "rollback/decisions.ts",
        mutator: "EqualityOperator",
        code: "if (order.indexOf(to) > order.indexOf(from))",
        original: "order.indexOf(to) > order.indexOf(from)",
        replacement: "order.indexOf(to) >= order.indexOf(from)",
        why: 'The two differ only when both indices are equal, that is when to is from: the config refuses duplicate version ids and a pin outside the catalog, and the line before already refuses to === from ("already the pinned version").',
    },
    {
        file: "rollback/decisions.ts",
        mutator: "ConditionalExpression",
        code: 'const behind = typeof deployedPin === "string" && order.includes(deployedPin) && order.indexOf(deployedPin) < order.indexOf(to);',
        original: 'typeof deployedPin === "string"',
        replacement: "true",
        why: "When deployedPin is not a string it is null or undefined, and order (the catalog's version ids, all strings) includes neither, so behind is false either way.",
    },
    {
        file: "rollback/decisions.ts",
        mutator: "MethodExpression",
        code: "const { standIn } = warmSet({ ...config, pinned: to, quarantined: config.quarantined.filter((id) => id !== to) });",
        original: "config.quarantined.filter((id) => id !== to)",
        replacement: "config.quarantined",
        why: "The only id the filter removes is to, which this warmSet call makes the pin; warmSet never looks up the pin in quarantined (it drops the pin from the served versions and takes stand-ins from the versions before it), so the stand-in is the same with or without it.",
    },
    {
        file: "rollback/decisions.ts",
        mutator: "ConditionalExpression",
        code: "const { standIn } = warmSet({ ...config, pinned: to, quarantined: config.quarantined.filter((id) => id !== to) });",
        original: "id !== to",
        replacement: "true",
        why: "Same as the MethodExpression mutant of this line: keeping to in quarantined changes nothing, since warmSet never looks up the pin in quarantined.",
    },
    {
        file: "rollback/decisions.ts",
        mutator: "ConditionalExpression",
        code: "if (deployedPin === null || deployedPin === to || ledger[deployedPin] !== undefined || !fileConfig.quarantined.includes(deployedPin)) return undefined;",
        original: "deployedPin === null || deployedPin === to",
        replacement: "false",
        why: "Without these two tests the later ones still return undefined: for null, quarantined (strings) does not include it (and ledger[null] only returns earlier); for deployedPin === to, the config refuses a pin that is quarantined, so quarantined does not include it.",
    },
    {
        file: "rollback/decisions.ts",
        mutator: "LogicalOperator",
        code: "if (deployedPin === null || deployedPin === to || ledger[deployedPin] !== undefined || !fileConfig.quarantined.includes(deployedPin)) return undefined;",
        original: "deployedPin === null || deployedPin === to",
        replacement: "deployedPin === null && deployedPin === to",
        why: "The replacement is always false, the same as the ConditionalExpression mutant of these two tests: the later tests return undefined for null (quarantined holds strings) and for the pin (the config refuses a quarantined pin).",
    },
    {
        file: "rollback/decisions.ts",
        mutator: "ConditionalExpression",
        code: "if (deployedPin === null || deployedPin === to || ledger[deployedPin] !== undefined || !fileConfig.quarantined.includes(deployedPin)) return undefined;",
        original: "deployedPin === null",
        replacement: "false",
        why: 'For null, quarantined (version ids, strings) never includes it, so the last test returns undefined anyway (ledger[null], read as ledger["null"], can only return undefined earlier).',
    },
    {
        file: "rollback/decisions.ts",
        mutator: "ConditionalExpression",
        code: "if (deployedPin === null || deployedPin === to || ledger[deployedPin] !== undefined || !fileConfig.quarantined.includes(deployedPin)) return undefined;",
        original: "deployedPin === to",
        replacement: "false",
        why: "When the stack runs the file's pin, the last test returns undefined anyway: the config refuses a pinned version that mlops:quarantined lists, so quarantined never includes to.",
    },
    {
        file: "rollback/decisions.ts",
        mutator: "EqualityOperator",
        code: "if (!order.includes(deployedPin) || order.indexOf(to) > order.indexOf(deployedPin)) return undefined;",
        original: "order.indexOf(to) > order.indexOf(deployedPin)",
        replacement: "order.indexOf(to) >= order.indexOf(deployedPin)",
        why: "Equal indices would mean to === deployedPin (version ids are unique), which the first test of the function already returned undefined for.",
    },
    {
        file: "rollback/decisions.ts",
        mutator: "StringLiteral",
        code: 'return `the Deployment ${kubernetesDeploymentName(config.model, version)} with ${config.kubernetes?.replicas ?? "its"} new pods that must load the model`;',
        original: '"its"',
        replacement: '""',
        why: "Unreachable: coldCreates is only called by decideRollback on a parsed config, and parseStackConfig requires mlops:kubernetes when the target is kubernetes and defaults its replicas, so replicas is always a number there.",
    },
    {
        file: "rollback/decisions.ts",
        mutator: "OptionalChaining",
        code: 'return `the Deployment ${kubernetesDeploymentName(config.model, version)} with ${config.kubernetes?.replicas ?? "its"} new pods that must load the model`;',
        original: "config.kubernetes?.replicas",
        replacement: "config.kubernetes.replicas",
        why: "Unreachable difference: on the kubernetes target parseStackConfig requires mlops:kubernetes, so config.kubernetes is never undefined where coldCreates reads it (its only caller, decideRollback, gets a parsed config).",
    },
    // --- end of rollback/decisions.ts ---
    // --- rollback/ledger.ts ---
    {
        file: "rollback/ledger.ts",
        mutator: "ConditionalExpression",
        code: 'if (value === undefined || value === "") return undefined;',
        original: 'value === undefined || value === ""',
        replacement: "false",
        why: 'The guard only saves a throw: JSON.parse(undefined) (parsed as the text "undefined") and JSON.parse("") both throw a SyntaxError, which the catch below turns into the same undefined.',
    },
    {
        file: "rollback/ledger.ts",
        mutator: "LogicalOperator",
        code: 'if (value === undefined || value === "") return undefined;',
        original: 'value === undefined || value === ""',
        replacement: 'value === undefined && value === ""',
        why: 'Always false, so the same as dropping the guard: undefined and "" make JSON.parse throw, and the catch returns undefined for both.',
    },
    {
        file: "rollback/ledger.ts",
        mutator: "ConditionalExpression",
        code: 'if (value === undefined || value === "") return undefined;',
        original: "value === undefined",
        replacement: "false",
        why: 'Without this test, undefined reaches JSON.parse, which throws a SyntaxError on it (it parses the text "undefined"), and the catch returns undefined as the guard does.',
    },
    {
        file: "rollback/ledger.ts",
        mutator: "ConditionalExpression",
        code: 'if (value === undefined || value === "") return undefined;',
        original: 'value === ""',
        replacement: "false",
        why: 'Without this test, "" reaches JSON.parse, which throws a SyntaxError on empty text, and the catch returns undefined as the guard does.',
    },
    {
        file: "rollback/ledger.ts",
        mutator: "StringLiteral",
        code: 'if (value === undefined || value === "") return undefined;',
        original: '""',
        replacement: '"Stryker was here!"',
        why: '"" then reaches JSON.parse, which throws on empty text, and the catch returns undefined; "Stryker was here!" is not JSON either, so the guard catching it returns the undefined the catch would.',
    },
    {
        file: "rollback/ledger.ts",
        mutator: "BlockStatement",
        code: "} catch {",
        original: "{ return undefined; }",
        replacement: "{}",
        why: "An empty catch block falls off the end of the function, which returns undefined: the same value the explicit return gives (tests of malformed JSON and of JSON null, whose field read throws, pass on both).",
    },
    // --- end of rollback/ledger.ts ---
    // --- rollback/verify.ts ---
    {
        file: "rollback/verify.ts",
        mutator: "StringLiteral",
        code: 'return endpoints.filter((e) => e.conditions?.ready !== false && e.targetRef?.kind === "Pod" && (e.targetRef.name ?? "").startsWith(`${deploymentName}-`))',
        original: '""',
        replacement: '"Stryker was here!"',
        why: "A pod endpoint with no name is never counted either way: the prefix tested is the Deployment's name and a dash, and the replacement has no dash, so it starts with no such prefix (the test that it is not counted passes on both).",
    },
    {
        file: "rollback/verify.ts",
        mutator: "ConditionalExpression",
        code: 'if (target === "sagemaker") return new SageMakerVerifier(new SageMakerClient(settings.awsRegion === undefined ? {} : { region: settings.awsRegion }));',
        original: "settings.awsRegion === undefined",
        replacement: "false",
        why: "Without aws:region the mutant passes { region: undefined } instead of {}; the SDK resolves its region as `config?.region ?? <environment and profile>`, so both ask the environment's region (the test without aws:region passes on both).",
    },
    // --- end of rollback/verify.ts ---
    // --- trigger/handleAlarmEvent.ts ---
    // Lines 172 (alarmWork) and 191 (buildEndWork): the same code, so one entry covers both.
    {
        file: "trigger/handleAlarmEvent.ts",
        mutator: "StringLiteral",
        code: 'kind: "act",',
        original: '"act"',
        replacement: '""',
        why: 'EventWork is module-internal and its one reader, handleOnce, only asks `work.kind === "ignore"`: any other kind, "act" or "", is acted on the same way, and the kind never reaches the outcome, a port call or a notice.',
    },
    // --- end of trigger/handleAlarmEvent.ts ---
    // --- config/stackFileEdit.ts ---
    // --- end of config/stackFileEdit.ts ---
    // --- database/snapshots.ts ---
    {
        file: "database/snapshots.ts",
        mutator: "StringLiteral",
        code: 'return at.replace(/\\.\\d+/, "").replace(/[^0-9]/g, "");',
        original: '""',
        replacement: '"Stryker was here!"',
        why: 'The fraction\'s replacement is removed again by the next replace, which keeps digits only, and "Stryker was here!" has no digit: both give 20261127123456 for 2026-11-27T12:34:56.789Z.',
    },
    {
        file: "database/snapshots.ts",
        mutator: "StringLiteral",
        code: 'return derivedNameKey("sagemaker", text).replace(/-+/g, "-").replace(/^-|-$/g, "");',
        original: '"sagemaker"',
        replacement: '""',
        why: 'derivedNameKey only treats "kubernetes" differently (it trims trailing hyphens); any other target, "" included, gets the same slug as "sagemaker", and this line trims the hyphens itself anyway.',
    },
    {
        file: "database/snapshots.ts",
        mutator: "Regex",
        code: 'return `${whole.slice(0, maxLength - hash.length - 1).replace(/-+$/, "")}-${hash}`;',
        original: "/-+$/",
        replacement: "/-$/",
        why: 'The whole identifier never holds two hyphens in a row (each part is non-empty, identifierKey collapses runs and trims its ends, "stack" stands for an empty stack key), so a cut of it ends in at most one hyphen, which both patterns drop.',
    },
    {
        file: "database/snapshots.ts",
        mutator: "ConditionalExpression",
        code: "if (record.from === null) return true;",
        original: "record.from === null",
        replacement: "false",
        why: "Without the test, a null from has index -1 and the record's to (its only caller, program.ts, passes the record this run takes, whose to is the pin, in the catalog) has an index of 0 or more, so the comparison below also gives true.",
    },
    {
        file: "database/snapshots.ts",
        mutator: "EqualityOperator",
        code: "return order.indexOf(record.to) > order.indexOf(record.from);",
        original: "order.indexOf(record.to) > order.indexOf(record.from)",
        replacement: "order.indexOf(record.to) >= order.indexOf(record.from)",
        why: "Equal indices would need to === from (version ids are unique, to is in the catalog); the only record this is asked about is the one nextSnapshotLedger takes, which it takes only when the pin changed, so from is never to.",
    },
    // --- end of database/snapshots.ts ---
    // --- database/restore.ts ---
    {
        file: "database/restore.ts",
        mutator: "Regex",
        code: 'const base = original.slice(0, room).replace(/-+$/, "");',
        original: "/-+$/",
        replacement: "/-$/",
        why: "original is mlops:database.identifier (its only caller, planRestore, passes that), which the config holds to RDS's rules, no '--' among them; so a cut of it ends in at most one hyphen, which both patterns drop.",
    },
    // --- end of database/restore.ts ---
    // --- plan/restoreBudget.ts ---
    {
        file: "plan/restoreBudget.ts",
        mutator: "ConditionalExpression",
        code: "const rollbackGuardrails = guardrailsConfigured(config) && (config.sagemaker === undefined || guardrailsExcludedBy(config.sagemaker) === undefined);",
        original: "config.sagemaker === undefined",
        replacement: "false",
        why: "Reached only when guardrailsConfigured(config) is true, which needs the sagemaker target and a sagemaker.deployment, so config.sagemaker is never undefined there; the test only guards the call below.",
    },
    {
        file: "plan/restoreBudget.ts",
        mutator: "ConditionalExpression",
        code: "if (config.alarms !== undefined && config.trigger !== undefined) paths.push(triggerPath(config, config.trigger, rollbackVersion));",
        original: "config.alarms !== undefined",
        replacement: "true",
        why: 'The config refuses mlops:trigger without mlops:alarms ("the rollback trigger fires on alarms"), and restoreBudget is only ever given a parsed config (plan/plan.ts, bench/run.ts; it is not in api.ts): whenever trigger is set, alarms is too.',
    },
    {
        file: "plan/restoreBudget.ts",
        mutator: "ConditionalExpression",
        code: "...(guardrailsOff === undefined ? {} : { guardrailsOff }),",
        original: "guardrailsOff === undefined",
        replacement: "false",
        why: "The mutant adds guardrailsOff: undefined where the code leaves the key out; every reader asks `budget.guardrailsOff !== undefined` (renderRestoreBudget, the only one), so nothing shows a difference (the budget already carries noAutomaticRestore: undefined the same way).",
    },
    {
        file: "plan/restoreBudget.ts",
        mutator: "ConditionalExpression",
        code: "if (config.sagemaker === undefined) return undefined;",
        original: "config.sagemaker === undefined",
        replacement: "false",
        why: "guardrailsExclusion is only called when guardrailsConfigured(config) is true, which needs the sagemaker target and a sagemaker.deployment, so config.sagemaker is never undefined in it.",
    },
    {
        file: "plan/restoreBudget.ts",
        mutator: "ConditionalExpression",
        code: "if (config.alarms !== undefined && config.trigger !== undefined) return undefined;",
        original: "config.alarms !== undefined",
        replacement: "true",
        why: "The config refuses mlops:trigger without mlops:alarms, and restoreBudget is only ever given a parsed config (plan/plan.ts, bench/run.ts; it is not in api.ts): whenever trigger is set, alarms is too, so the test on alarms adds nothing.",
    },
    {
        file: "plan/restoreBudget.ts",
        mutator: "ArrayDeclaration",
        code: "if (alarms === undefined) return [];",
        original: "[]",
        replacement: '["Stryker was here"]',
        why: "Unreachable: detectionSteps is only called with alarms set (triggerPath needs mlops:alarms and mlops:trigger; guardrailPath calls it only when alarms.feedGuardrails is true), so this early return never runs.",
    },
    {
        file: "plan/restoreBudget.ts",
        mutator: "ConditionalExpression",
        code: "if (alarms === undefined) return [];",
        original: "alarms === undefined",
        replacement: "false",
        why: "Its callers only call it with mlops:alarms set (triggerPath runs only with alarms and trigger; guardrailPath only when alarms.feedGuardrails is true), so the test is never true.",
    },
    {
        file: "plan/restoreBudget.ts",
        mutator: "LogicalOperator",
        code: 'if (alarms === undefined || config.target !== "kubernetes" || alarms.periodSeconds >= PUBLISHING_INTERVAL_SECONDS) return [];',
        original: 'alarms === undefined || config.target !== "kubernetes"',
        replacement: 'alarms === undefined && config.target !== "kubernetes"',
        why: 'Differs only for the sagemaker target with a period under 60 s, or with no alarms: the config refuses a SageMaker alarm period under 60 s ("SageMaker publishes endpoint metrics once a minute"), so the period test returns [] as the target test did; and no caller passes a config without alarms to it on kubernetes (guardrailPath is SageMaker only, triggerPath needs alarms).',
    },
    {
        file: "plan/restoreBudget.ts",
        mutator: "ConditionalExpression",
        code: 'if (alarms === undefined || config.target !== "kubernetes" || alarms.periodSeconds >= PUBLISHING_INTERVAL_SECONDS) return [];',
        original: "alarms === undefined",
        replacement: "false",
        why: "No caller reaches it without alarms on kubernetes (guardrailPath runs only on the sagemaker target, where the target test returns first; triggerPath needs mlops:alarms), so the test is never the one that decides.",
    },
    {
        file: "plan/restoreBudget.ts",
        mutator: "ConditionalExpression",
        code: 'if (alarms === undefined || config.target !== "kubernetes" || alarms.periodSeconds >= PUBLISHING_INTERVAL_SECONDS) return [];',
        original: 'config.target !== "kubernetes"',
        replacement: "false",
        why: "On the sagemaker target the config refuses an alarm period under 60 s, so the next test (periodSeconds >= 60) returns [] whenever this one would have.",
    },
    {
        file: "plan/restoreBudget.ts",
        mutator: "ConditionalExpression",
        code: 'const containerInsightsOnly = namespaces.length > 0 && namespaces.every((namespace) => namespace === "ContainerInsights");',
        original: "namespaces.length > 0",
        replacement: "true",
        why: 'customPublishingStep only runs on the kubernetes target, where the config requires at least one mlops:alarms.custom alarm ("on kubernetes the alarms come from your metrics ... add at least one"), so namespaces is never empty.',
    },
    {
        file: "plan/restoreBudget.ts",
        mutator: "EqualityOperator",
        code: 'const containerInsightsOnly = namespaces.length > 0 && namespaces.every((namespace) => namespace === "ContainerInsights");',
        original: "namespaces.length > 0",
        replacement: "namespaces.length >= 0",
        why: "Same as the ConditionalExpression mutant of this test: on the kubernetes target the config requires at least one custom alarm, so namespaces.length is never 0.",
    },
    {
        file: "plan/restoreBudget.ts",
        mutator: "StringLiteral",
        code: 'const fleet = config.sagemaker === undefined ? "a fleet" : `${config.sagemaker.instanceCount} × ${config.sagemaker.instanceType}`;',
        original: '"a fleet"',
        replacement: '""',
        why: "Unreachable: newFleetStep only runs on the sagemaker target (the trigger's fast path, and a rollback by hand off kubernetes), where parseStackConfig requires mlops:sagemaker when the target is sagemaker, so config.sagemaker is never undefined there.",
    },
    {
        file: "plan/restoreBudget.ts",
        mutator: "ConditionalExpression",
        code: 'const fleet = config.sagemaker === undefined ? "a fleet" : `${config.sagemaker.instanceCount} × ${config.sagemaker.instanceType}`;',
        original: "config.sagemaker === undefined",
        replacement: "false",
        why: "newFleetStep only runs on the sagemaker target, where parseStackConfig requires mlops:sagemaker when the target is sagemaker: config.sagemaker is never undefined there.",
    },
    {
        file: "plan/restoreBudget.ts",
        mutator: "OptionalChaining",
        code: "const replicas = kubernetes?.replicas ?? 0;",
        original: "kubernetes?.replicas",
        replacement: "kubernetes.replicas",
        why: "kubernetesRollbackSteps only runs on the kubernetes target, where parseStackConfig requires mlops:kubernetes, so kubernetes is never undefined there.",
    },
    {
        file: "plan/restoreBudget.ts",
        mutator: "OptionalChaining",
        code: "const standby = kubernetes?.standbyReplicas ?? replicas;",
        original: "kubernetes?.standbyReplicas",
        replacement: "kubernetes.standbyReplicas",
        why: "kubernetesRollbackSteps only runs on the kubernetes target, where parseStackConfig requires mlops:kubernetes, so kubernetes is never undefined there.",
    },
    {
        file: "plan/restoreBudget.ts",
        mutator: "ConditionalExpression",
        code: "if (kubernetes !== undefined && standby < replicas) {",
        original: "kubernetes !== undefined",
        replacement: "true",
        why: "kubernetesRollbackSteps only runs on the kubernetes target, where parseStackConfig requires mlops:kubernetes, so the test is always true there.",
    },
    {
        file: "plan/restoreBudget.ts",
        mutator: "OptionalChaining",
        code: "const deployment = config.sagemaker?.deployment;",
        original: "config.sagemaker?.deployment",
        replacement: "config.sagemaker.deployment",
        why: "This part of byHandPath only runs off the kubernetes target, that is on sagemaker, where parseStackConfig requires mlops:sagemaker when the target is sagemaker, so config.sagemaker is never undefined there.",
    },
    {
        file: "plan/restoreBudget.ts",
        mutator: "ConditionalExpression",
        code: 'const shift = deployment === undefined || deployment.strategy === "allAtOnce" ? "all at once" : `by its ${deployment.strategy} policy`;',
        original: "deployment === undefined",
        replacement: "false",
        why: "On the sagemaker target parseStackConfig requires mlops:sagemaker when the target is sagemaker, and its deployment is defaulted (strategy allAtOnce), so deployment is never undefined here.",
    },
    {
        file: "plan/restoreBudget.ts",
        mutator: "OptionalChaining",
        code: "steps: [start, update, newFleetStep(config, rollbackVersion, shift), ...trafficShiftSteps(deployment, config.sagemaker?.instanceCount ?? 1)],",
        original: "config.sagemaker?.instanceCount",
        replacement: "config.sagemaker.instanceCount",
        why: "This part of byHandPath only runs on the sagemaker target, where parseStackConfig requires mlops:sagemaker when the target is sagemaker, so config.sagemaker is never undefined there.",
    },
    {
        file: "plan/restoreBudget.ts",
        mutator: "ConditionalExpression",
        code: 'if (deployment === undefined || deployment.strategy === "allAtOnce" || deployment.stepPercent === undefined) return [];',
        original: 'deployment === undefined || deployment.strategy === "allAtOnce" || deployment.stepPercent === undefined',
        replacement: "false",
        why: "trafficShiftSteps is only called on the sagemaker target, whose deployment is defaulted and never undefined; the config requires stepPercent for canary and linear and refuses it for allAtOnce, so there 'strategy is allAtOnce' and 'no stepPercent' are one condition; and without the guard, allAtOnce reaches waitsBeforeFullShift, which counts it as one step, so waits.most is 0 and the next line returns [] as well.",
    },
    {
        file: "plan/restoreBudget.ts",
        mutator: "LogicalOperator",
        code: 'if (deployment === undefined || deployment.strategy === "allAtOnce" || deployment.stepPercent === undefined) return [];',
        original: 'deployment === undefined || deployment.strategy === "allAtOnce" || deployment.stepPercent === undefined',
        replacement: '(deployment === undefined || deployment.strategy === "allAtOnce") && deployment.stepPercent === undefined',
        why: "trafficShiftSteps is only called on the sagemaker target, whose deployment is defaulted and never undefined; the config requires stepPercent for canary and linear and refuses it for allAtOnce, so there 'strategy is allAtOnce' and 'no stepPercent' are one condition, and (A || B) && C is then the same as A || B || C.",
    },
    {
        file: "plan/restoreBudget.ts",
        mutator: "ConditionalExpression",
        code: 'if (deployment === undefined || deployment.strategy === "allAtOnce" || deployment.stepPercent === undefined) return [];',
        original: 'deployment === undefined || deployment.strategy === "allAtOnce"',
        replacement: "false",
        why: "trafficShiftSteps is only called on the sagemaker target, whose deployment is defaulted and never undefined; the config requires stepPercent for canary and linear and refuses it for allAtOnce, so there 'strategy is allAtOnce' and 'no stepPercent' are one condition: dropping the first two tests leaves the stepPercent test, which is true exactly where they were.",
    },
    {
        file: "plan/restoreBudget.ts",
        mutator: "LogicalOperator",
        code: 'if (deployment === undefined || deployment.strategy === "allAtOnce" || deployment.stepPercent === undefined) return [];',
        original: 'deployment === undefined || deployment.strategy === "allAtOnce"',
        replacement: 'deployment === undefined && deployment.strategy === "allAtOnce"',
        why: "trafficShiftSteps is only called on the sagemaker target, whose deployment is defaulted and never undefined; the config requires stepPercent for canary and linear and refuses it for allAtOnce, so there 'strategy is allAtOnce' and 'no stepPercent' are one condition: with deployment defined the replacement is false, which leaves the stepPercent test, true exactly where the dropped ones were.",
    },
    {
        file: "plan/restoreBudget.ts",
        mutator: "ConditionalExpression",
        code: 'if (deployment === undefined || deployment.strategy === "allAtOnce" || deployment.stepPercent === undefined) return [];',
        original: "deployment === undefined",
        replacement: "false",
        why: "trafficShiftSteps is only called on the sagemaker target, whose deployment is defaulted and never undefined; the config requires stepPercent for canary and linear and refuses it for allAtOnce, so there 'strategy is allAtOnce' and 'no stepPercent' are one condition: the deployment test is never the one that decides.",
    },
    {
        file: "plan/restoreBudget.ts",
        mutator: "ConditionalExpression",
        code: 'if (deployment === undefined || deployment.strategy === "allAtOnce" || deployment.stepPercent === undefined) return [];',
        original: 'deployment.strategy === "allAtOnce"',
        replacement: "false",
        why: "trafficShiftSteps is only called on the sagemaker target, whose deployment is defaulted and never undefined; the config requires stepPercent for canary and linear and refuses it for allAtOnce, so there 'strategy is allAtOnce' and 'no stepPercent' are one condition: the stepPercent test returns for allAtOnce as this one did.",
    },
    {
        file: "plan/restoreBudget.ts",
        mutator: "StringLiteral",
        code: 'if (deployment === undefined || deployment.strategy === "allAtOnce" || deployment.stepPercent === undefined) return [];',
        original: '"allAtOnce"',
        replacement: '""',
        why: "trafficShiftSteps is only called on the sagemaker target, whose deployment is defaulted and never undefined; the config requires stepPercent for canary and linear and refuses it for allAtOnce, so there 'strategy is allAtOnce' and 'no stepPercent' are one condition: no strategy is \"\", so this drops the allAtOnce test, and the stepPercent test returns for allAtOnce as it did.",
    },
    {
        file: "plan/restoreBudget.ts",
        mutator: "ConditionalExpression",
        code: 'if (deployment === undefined || deployment.strategy === "allAtOnce" || deployment.stepPercent === undefined) return [];',
        original: "deployment.stepPercent === undefined",
        replacement: "false",
        why: "trafficShiftSteps is only called on the sagemaker target, whose deployment is defaulted and never undefined; the config requires stepPercent for canary and linear and refuses it for allAtOnce, so there 'strategy is allAtOnce' and 'no stepPercent' are one condition: the strategy test returns for allAtOnce, and canary and linear always have a stepPercent.",
    },
    // --- end of plan/restoreBudget.ts ---
];
