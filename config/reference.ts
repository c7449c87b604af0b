/**
 * The config reference, generated from the stack config schema
 * (`stackConfigShape` in config/schema.ts): its descriptions, types, defaults
 * and required keys are the one source of docs/configuration.md and of the
 * `config:` block of Pulumi.yaml. Pure functions from a schema to text;
 * config/writeReference.ts writes the files (`npm run docs:config`), and
 * test/configReference.test.ts fails when they are out of date.
 *
 * The walk is zod's own `z.toJSONSchema` (input side: what a person writes),
 * with two corrections in `documentTransforms`.
 */
import { z } from "zod";
import { stringify as yamlStringify } from "yaml";
import { CONFIG_NAMESPACE, stackConfigShape } from "./schema";

/** The part of a JSON Schema node the reference reads. */
interface JsonNode {
    readonly type?: string | readonly string[];
    readonly description?: string;
    readonly default?: unknown;
    readonly enum?: readonly unknown[];
    readonly properties?: Readonly<Record<string, JsonNode>>;
    readonly required?: readonly string[];
    readonly additionalProperties?: JsonNode | boolean;
    readonly items?: JsonNode;
    readonly minimum?: number;
    readonly maximum?: number;
    readonly minLength?: number;
    readonly maxLength?: number;
    readonly minItems?: number;
    readonly maxItems?: number;
}

/** One documented key, e.g. `mlops:sagemaker.deployment.strategy` or `mlops:versions[].image`. */
export interface ConfigKeyReference {
    /** The key as `pulumi config set --path` names it; `[]` stands for every item of a list. */
    readonly key: string;
    /** The type in words, with its enum values and range, e.g. "integer, 1..65535". */
    readonly type: string;
    /** Required where its parent is present (a section's own keys, when the section is set). */
    readonly required: boolean;
    /** Whether the schema fills the key in when it is left out; `defaultValue` is then what it fills in. */
    readonly hasDefault: boolean;
    readonly defaultValue?: unknown;
    readonly description: string;
    /** The key's JSON Schema node (for the Pulumi project config declarations). */
    readonly json: JsonNode;
}

/** A top-level key with the keys nested in it, in schema order; `keys` is empty for a plain value. */
export interface ConfigSectionReference {
    readonly section: ConfigKeyReference;
    readonly keys: readonly ConfigKeyReference[];
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/**
 * The input-side JSON Schema of `schema`, as zod derives it, corrected where
 * the input side loses what the reference needs (`documentTransforms`).
 */
function jsonSchemaOf(schema: z.ZodType): JsonNode {
    return z.toJSONSchema(schema, { io: "input", unrepresentable: "any", override: documentTransforms }) as JsonNode;
}

/**
 * zod's input-side JSON Schema drops the default of a schema with a
 * transform inside (the default is an output value); ours (`[]`, `{
 * allowRedeploy: [] }`) are valid inputs as they stand, so it goes back in.
 * And a `z.custom` check in front of an object (`mlops:trigger.pulumiCli`,
 * so that a missing one says where its values come from) documents nothing:
 * the object it pipes into is what a person writes.
 */
function documentTransforms(ctx: { zodSchema: z.core.$ZodType; jsonSchema: z.core.JSONSchema.BaseSchema }): void {
    const { zodSchema, jsonSchema } = ctx;
    if (zodSchema instanceof z.ZodDefault && jsonSchema.default === undefined) {
        jsonSchema.default = JSON.parse(JSON.stringify(zodSchema.def.defaultValue)) as unknown;
    }
    if (zodSchema instanceof z.ZodPipe && zodSchema.in instanceof z.ZodCustom && !(zodSchema.out instanceof z.ZodTransform)) {
        const out: Record<string, unknown> = { ...jsonSchemaOf(zodSchema.out as z.ZodType) };
        delete out.$schema;
        // Its own description (and any other keyword zod gave the pipe) wins over the object's.
        Object.assign(jsonSchema, out, { ...jsonSchema });
    }
}

/** Every top-level key of `schema` (default: the stack config), each with the keys nested in it. */
export function configReference(schema: z.ZodType = stackConfigShape): ConfigSectionReference[] {
    const root = jsonSchemaOf(schema);
    return Object.entries(root.properties ?? {}).map(([name, node]) => {
        const section = keyReference(`${CONFIG_NAMESPACE}:${name}`, node, root.required?.includes(name) ?? false);
        return { section, keys: nestedKeys(section.key, node) };
    });
}

/** The keys inside `node` (a map's fields, or the fields of a list's items), depth first. */
function nestedKeys(key: string, node: JsonNode): ConfigKeyReference[] {
    if (node.items?.properties !== undefined) return nestedKeys(`${key}[]`, node.items);
    return Object.entries(node.properties ?? {}).flatMap(([name, child]) => {
        const childKey = `${key}.${name}`;
        return [keyReference(childKey, child, node.required?.includes(name) ?? false), ...nestedKeys(childKey, child)];
    });
}

function keyReference(key: string, node: JsonNode, required: boolean): ConfigKeyReference {
    if (node.description === undefined) throw new Error(`${key} has no description: add .describe(...) to its schema in config/schema.ts`);
    const hasDefault = node.default !== undefined;
    return {
        key,
        type: typeInWords(node),
        required,
        hasDefault,
        ...(hasDefault ? { defaultValue: node.default } : {}),
        description: node.description,
        json: node,
    };
}

/** `integer, 1..65535`, one of `hot`, `cold`, `list of string (at most 10)`, … */
export function typeInWords(node: JsonNode): string {
    if (node.enum !== undefined) return `one of ${node.enum.map((value) => `\`${String(value)}\``).join(", ")}`;
    const types = typeof node.type === "string" ? [node.type] : (node.type ?? []);
    if (types.includes("array")) return `list of ${node.items === undefined ? "values" : itemWords(node.items)}${countWords(node.minItems, node.maxItems)}`;
    if (types.includes("object")) {
        const values = node.additionalProperties;
        return node.properties === undefined && typeof values === "object" ? `map of string to ${String(values.type ?? "any")}` : "map";
    }
    if (types.length === 0) return "any";
    const words = types.join(" or ");
    if (types.includes("integer") || types.includes("number")) return `${words}${rangeWords(node.minimum, node.maximum)}`;
    if (types.includes("string")) return `${words}${lengthWords(node.minLength, node.maxLength)}`;
    return words;
}

function itemWords(items: JsonNode): string {
    return items.properties === undefined ? typeInWords(items) : "maps";
}

function rangeWords(min: number | undefined, max: number | undefined): string {
    const low = min !== undefined && min > -MAX_SAFE ? min : undefined;
    const high = max !== undefined && max < MAX_SAFE ? max : undefined;
    if (low !== undefined && high !== undefined) return `, ${low}..${high}`;
    if (low !== undefined) return `, ${low} or more`;
    if (high !== undefined) return `, at most ${high}`;
    return "";
}

function lengthWords(min: number | undefined, max: number | undefined): string {
    if (max !== undefined) return min !== undefined && min > 0 ? `, ${min}-${max} characters` : `, at most ${max} characters`;
    return min !== undefined && min > 0 ? ", not empty" : "";
}

function countWords(min: number | undefined, max: number | undefined): string {
    if (max !== undefined) return min !== undefined && min > 0 ? ` (${min}-${max})` : ` (at most ${max})`;
    return min !== undefined && min > 0 ? ` (at least ${min})` : "";
}

/** A default as it is written in a stack file: `primary`, `1`, `[]`, `{ cpu: 500m }`. */
export function defaultInYaml(value: unknown): string {
    return yamlStringify(value, { collectionStyle: "flow", lineWidth: 0 }).trim();
}

/** The generated files, relative to the repository's root. */
export const REFERENCE_FILES = { configuration: "docs/configuration.md", project: "Pulumi.yaml" } as const;

/** Regenerate both files with this; the header of each says so. */
export const REGENERATE_COMMAND = "npm run docs:config";

/** The stack-file example at the top of docs/configuration.md (a valid config: the test parses it). */
export const CONFIGURATION_EXAMPLE = `config:
  mlops:target: sagemaker
  mlops:model: fraud-detector
  mlops:pinned: "2"
  mlops:versions:
    - version: "1"
      image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/fraud-detector@sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270
      artifact: s3://acme-ml-models/fraud-detector/1/model.tar.gz
    - version: "2"
      image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/fraud-detector@sha256:8e4d2ac0b6a8d4ed1a37c4f0c7a1f5e2b9d3c6a7e8f9012345678901abcdef12
      artifact: s3://acme-ml-models/fraud-detector/2/model.tar.gz
  mlops:sagemaker:
    instanceType: ml.m5.large
    deployment:
      waitIntervalSeconds: 600
`;

/** What a person does with the keys, before the tables. */
function howToSetKeys(): string {
    return `# Configuration reference

Everything mlops-rollback does is set by keys in your stack file,
\`Pulumi.<stack>.yaml\` (next to \`Pulumi.yaml\`, or in its
\`stackConfigDir\`), under \`config:\`. The keys are \`${CONFIG_NAMESPACE}:*\`
whatever your project is called: \`${CONFIG_NAMESPACE}:pinned\`, never
\`<project>:pinned\`. \`mlops validate\` checks them offline and names every
problem by its key.

A section's keys nest under it in YAML:

\`\`\`yaml
${CONFIGURATION_EXAMPLE}\`\`\`

This page names a nested key by its path, \`${CONFIG_NAMESPACE}:sagemaker.instanceType\`,
which is how \`pulumi config set --path\` takes it; \`[]\` stands for every item
of a list (\`--path\` takes an index: \`'${CONFIG_NAMESPACE}:versions[0].image'\`).
Written literally in the stack file, \`${CONFIG_NAMESPACE}:sagemaker.instanceType:\`
is a key of its own, and \`mlops validate\` refuses it as unknown.

\`\`\`sh
pulumi config set --path '${CONFIG_NAMESPACE}:sagemaker.instanceType' ml.m5.large
pulumi config set --path '${CONFIG_NAMESPACE}:sagemaker.deployment.waitIntervalSeconds' 600
# A value that carries a credential (a webhook URL) is stored encrypted:
pulumi config set --secret --path '${CONFIG_NAMESPACE}:rollback.notify' https://hooks.example.com/services/T000/B000/XXXX
\`\`\`

*Required* means required whenever the map the key sits in is set (a
top-level key: always); rules between keys (such as \`${CONFIG_NAMESPACE}:sagemaker\` being
required when \`${CONFIG_NAMESPACE}:target\` is \`sagemaker\`) are in the
descriptions, and \`mlops validate\` checks them. A default is the value a key
takes when it is left out. Quote version ids (\`"3"\`) and write numbers in plain
decimal; [Stack files](stack-files.md) says why.
`;
}

/** docs/configuration.md: how to set keys, then one table per section. */
export function renderConfigurationMarkdown(schema: z.ZodType = stackConfigShape): string {
    const sections = configReference(schema);
    const plain = sections.filter((s) => s.keys.length === 0).map((s) => s.section);
    const parts = [
        `<!-- Generated from the stack config schema (config/schema.ts) by config/reference.ts. Do not edit: regenerate with \`${REGENERATE_COMMAND}\`. -->`,
        howToSetKeys(),
        `## Top-level keys\n\n${keyTable(plain)}`,
        ...sections.filter((s) => s.keys.length > 0).map(sectionMarkdown),
    ];
    return parts.join("\n");
}

function sectionMarkdown({ section, keys }: ConfigSectionReference): string {
    // A section without a default is required or not by the target (its description says when): "optional" would contradict that.
    const presence = section.required || section.hasDefault ? `; ${requiredOrDefault(section)}` : "";
    return `## \`${section.key}\`\n\n${section.description}\n\nType: ${section.type}${presence}.\n\n${keyTable(keys)}`;
}

function keyTable(keys: readonly ConfigKeyReference[]): string {
    const rows = keys.map((k) => `| \`${k.key}\` | ${cell(k.type)} | ${cell(requiredOrDefault(k))} | ${cell(k.description)} |`);
    return ["| key | type | required / default | description |", "|---|---|---|---|", ...rows].join("\n") + "\n";
}

function requiredOrDefault(key: ConfigKeyReference): string {
    if (key.required) return "required";
    return key.hasDefault ? `default \`${defaultInYaml(key.defaultValue)}\`` : "optional";
}

/** Markdown table cells: a `|` would end the cell. */
function cell(text: string): string {
    return text.replace(/\|/g, "\\|");
}

/** A Pulumi project config type: Pulumi.yaml declares string, integer, boolean and array (of those) values only. */
interface PulumiConfigType {
    readonly type: "string" | "integer" | "boolean" | "array";
    readonly items?: PulumiConfigType;
}

/**
 * How Pulumi.yaml can declare a key, or undefined where a declaration would
 * refuse what the schema takes: a map, a list of maps, a non-integer number,
 * and a list of version ids. A version id is a string or a whole number (as
 * YAML reads an unquoted `3`): alone it is declared a string (the engine
 * holds a scalar of a stack file as text and takes `3`), but in a list the
 * engine checks each item's YAML type, and `array<string>` refuses `[3]`.
 */
export function pulumiConfigType(node: JsonNode): PulumiConfigType | undefined {
    const scalar = pulumiScalarType(node);
    if (scalar !== undefined) return scalar;
    if (node.type !== "array" || node.items === undefined) return undefined;
    const items = pulumiScalarType(node.items);
    return items === undefined || Array.isArray(node.items.type) ? undefined : { type: "array", items };
}

function pulumiScalarType(node: JsonNode): PulumiConfigType | undefined {
    if (node.enum !== undefined) return node.enum.every((value) => typeof value === "string") ? { type: "string" } : undefined;
    const types = typeof node.type === "string" ? [node.type] : (node.type ?? []);
    if (types.length === 1 && (types[0] === "integer" || types[0] === "boolean")) return { type: types[0] };
    if (types.includes("string") && types.every((type) => type === "string" || type === "integer")) return { type: "string" };
    return undefined;
}

const PROJECT_CONFIG_WIDTH = 100;

/**
 * The `config:` block of Pulumi.yaml: a declaration (type, description and
 * the schema's default, which the engine then hands the program) for each
 * key Pulumi can declare, and a comment listing the structured sections it
 * cannot, with their fields and defaults. Keys are declared without the
 * namespace: the project is named `mlops`, so they are `mlops:*`.
 */
export function renderPulumiProjectConfig(schema: z.ZodType = stackConfigShape): string {
    const sections = configReference(schema);
    const declarations: Record<string, unknown> = {};
    const structured: ConfigSectionReference[] = [];
    for (const entry of sections) {
        const declared = entry.keys.length === 0 ? pulumiConfigType(entry.section.json) : undefined;
        if (declared === undefined) {
            structured.push(entry);
            continue;
        }
        const { section } = entry;
        declarations[section.key.slice(CONFIG_NAMESPACE.length + 1)] = {
            ...declared,
            description: section.description,
            ...(section.hasDefault ? { default: section.defaultValue } : {}),
        };
    }
    const declared = yamlStringify({ config: declarations }, { lineWidth: PROJECT_CONFIG_WIDTH });
    const [first, ...rest] = declared.split("\n");
    const header = `  # Generated from the stack config schema (config/schema.ts): do not edit; regenerate with \`${REGENERATE_COMMAND}\`.`;
    return [first, header, ...rest.filter((line) => line !== ""), ...structuredComment(structured)].join("\n") + "\n";
}

function structuredComment(sections: readonly ConfigSectionReference[]): string[] {
    const intro = [
        "# Keys that Pulumi's project config cannot declare (maps, lists of maps, and lists of version ids,",
        "# which may mix strings and whole numbers): the program validates them, as `mlops validate` does",
        "# offline. docs/configuration.md describes every key. Their fields, with defaults:",
    ];
    const label = ({ section, keys }: ConfigSectionReference) => (keys[0]?.key.startsWith(`${section.key}[]`) ? `${section.key}[]` : section.key);
    const width = Math.max(...sections.map((entry) => label(entry).length));
    const tokens = ({ section, keys }: ConfigSectionReference) =>
        keys.length > 0 ? fieldTokens(section.key, keys) : [`${section.type}${section.hasDefault ? `, default ${defaultInYaml(section.defaultValue)}` : ""}`];
    return [...intro, ...sections.flatMap((entry) => wrapped(`#   ${label(entry).padEnd(width)}  `, tokens(entry)))];
}

/**
 * The fields under `parentKey`, one token each: `instanceType (required)`,
 * `instanceCount: 1`, a map's as `vpc {subnetIds (required)`, …,
 * `securityGroupIds (required)}` (its first and last fields carry the
 * braces), or `resources: <default>` where the map's fields have no default
 * of their own. A list of maps is `custom[] {…}`.
 */
function fieldTokens(parentKey: string, keys: readonly ConfigKeyReference[]): string[] {
    const base = keys.some((key) => key.key.startsWith(`${parentKey}[].`)) ? `${parentKey}[].` : `${parentKey}.`;
    const children = keys.filter((key) => key.key.startsWith(base) && !/[.[]/.test(key.key.slice(base.length)));
    return children.flatMap((child) => {
        const name = child.key.slice(base.length);
        const nested = keys.filter((key) => key.key.startsWith(`${child.key}.`) || key.key.startsWith(`${child.key}[].`));
        const shown = child.required ? `${name} (required)` : child.hasDefault ? `${name}: ${defaultInYaml(child.defaultValue)}` : name;
        if (nested.length === 0 || (child.hasDefault && !child.required && !nested.some((key) => key.hasDefault))) return [shown];
        const inner = fieldTokens(child.key, nested);
        const head = `${child.key.slice(base.length)}${nested[0].key.startsWith(`${child.key}[]`) ? "[]" : ""}${child.required ? " (required)" : ""} {`;
        return inner.map((token, index) => `${index === 0 ? head : ""}${token}${index === inner.length - 1 ? "}" : ""}`);
    });
}

/** `items` joined with ", " after `lead`, wrapped at the project file's width under a hanging indent. */
function wrapped(lead: string, items: readonly string[]): string[] {
    const indent = `#${" ".repeat(lead.length - 1)}`;
    const lines: string[] = [];
    let line = lead;
    items.forEach((item, index) => {
        const text = index < items.length - 1 ? `${item},` : item;
        if (line !== lead && line !== indent && line.length + 1 + text.length > PROJECT_CONFIG_WIDTH) {
            lines.push(line);
            line = indent;
        }
        line += line === lead || line === indent ? text : ` ${text}`;
    });
    return [...lines, line];
}

/**
 * `pulumiYaml` with its `config:` block (from the `config:` line to the end)
 * replaced by `block`; everything above it stays as it is.
 */
export function withProjectConfig(pulumiYaml: string, block: string): string {
    const start = /^config:/m.exec(pulumiYaml);
    const above = start === null ? pulumiYaml.replace(/\n*$/, "\n") : pulumiYaml.slice(0, start.index);
    return above + block;
}
